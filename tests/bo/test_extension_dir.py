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
