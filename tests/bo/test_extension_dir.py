"""BoTorch's fused kernel gets a build folder per Python environment (own_extension_dir)."""

import sys

from bomf.bo.acquisition import own_extension_dir


def test_each_environment_builds_in_its_own_folder(monkeypatch):
    monkeypatch.delenv("TORCH_EXTENSIONS_DIR", raising=False)
    monkeypatch.setattr(sys, "prefix", "/envs/a")
    a = own_extension_dir()
    monkeypatch.delenv("TORCH_EXTENSIONS_DIR")
    monkeypatch.setattr(sys, "prefix", "/envs/b")
    b = own_extension_dir()
    monkeypatch.delenv("TORCH_EXTENSIONS_DIR")
    monkeypatch.setattr(sys, "prefix", "/envs/a")
    assert a != b and own_extension_dir() == a  # stable for one environment, apart for two


def test_a_folder_the_user_set_is_kept(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    assert own_extension_dir() == str(tmp_path)


def test_a_lock_left_by_a_killed_build_is_removed_and_a_live_one_waited_for(tmp_path):
    import os
    import threading
    import time

    import pytest

    from bomf.bo.acquisition import clear_stale_build_locks

    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "lock").touch()
    os.utime(tmp_path / "old" / "lock", (time.time() - 3600, time.time() - 3600))
    with pytest.warns(RuntimeWarning, match="stale build lock"):
        assert clear_stale_build_locks(str(tmp_path)) == [str(tmp_path / "old" / "lock")]
    assert not (tmp_path / "old" / "lock").exists()

    # A fresh lock is a build in progress: wait until its builder removes it, remove nothing.
    (tmp_path / "live").mkdir()
    (tmp_path / "live" / "lock").touch()
    threading.Timer(0.3, lambda: os.unlink(tmp_path / "live" / "lock")).start()
    with pytest.warns(RuntimeWarning, match="waiting for another process"):
        assert clear_stale_build_locks(str(tmp_path), poll=0.05) == []
    assert clear_stale_build_locks(str(tmp_path / "missing")) == []


def test_a_lock_that_cannot_be_removed_is_an_error_not_a_silent_hang(tmp_path, monkeypatch):
    import os
    import time

    import pytest

    import bomf.bo.acquisition as A

    (tmp_path / "ext").mkdir()
    (tmp_path / "ext" / "lock").touch()
    os.utime(tmp_path / "ext" / "lock", (time.time() - 3600, time.time() - 3600))

    def refuse(path):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(A.os, "unlink", refuse)
    with pytest.warns(RuntimeWarning, match="stale build lock"), pytest.raises(PermissionError):
        A.clear_stale_build_locks(str(tmp_path))


def test_the_kernel_folder_is_prepared_once_per_process_not_every_bo_step(monkeypatch):
    import bomf.bo.acquisition as A

    calls = []
    monkeypatch.setattr(A, "_kernel_folder_ready", False)
    monkeypatch.setattr(A, "own_extension_dir", lambda: calls.append(1) or "")
    X = A.sobol_points(6, 2, seed=0)
    Y = A.torch.stack([-(X - 0.2).pow(2).sum(-1), -(X - 0.8).pow(2).sum(-1)], -1)
    for seed in (0, 1):
        A.suggest_multi_objective(X, Y, Y.min(0).values - 0.1, seed=seed, num_restarts=2, raw_samples=32)
    assert calls == [1]
