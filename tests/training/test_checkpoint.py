"""Checkpoint loading refuses corrupt, mismatched, non-finite and pickled-code files."""

import os
import pickle

import pytest
import torch

from bomf.training.checkpoint import load_state, save_state
from bomf.core.errors import CheckpointError


def test_roundtrip_and_metadata(tmp_path):
    save_state(tmp_path / "a.safetensors", {"w": torch.arange(3.0)})
    assert torch.equal(load_state(tmp_path / "a.safetensors")["w"], torch.arange(3.0))


def test_truncated_file_is_refused(tmp_path):
    p = tmp_path / "a.safetensors"
    save_state(p, {"w": torch.randn(100)})
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_state(p)


def test_shape_mismatch_names_the_tensor(tmp_path):
    p = tmp_path / "a.safetensors"
    save_state(p, {"w": torch.zeros(3)})
    with pytest.raises(CheckpointError, match="tensor w has shape"):
        load_state(p, expected={"w": torch.zeros(4)})
    with pytest.raises(CheckpointError, match="another architecture"):
        load_state(p, expected={"v": torch.zeros(3)})


def test_non_finite_member_is_refused(tmp_path):
    p = tmp_path / "a.safetensors"
    save_state(p, {"w": torch.tensor([1.0, float("nan")])})
    with pytest.raises(CheckpointError, match="NaN or inf"):
        load_state(p)


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/bomf-pwned",))


def test_malicious_pickle_is_refused_and_not_executed(tmp_path):
    p = tmp_path / "evil.pt"
    with open(p, "wb") as fh:
        pickle.dump({"w": _Evil()}, fh)
    if os.path.exists("/tmp/bomf-pwned"):
        os.remove("/tmp/bomf-pwned")
    with pytest.raises(CheckpointError):
        load_state(p)
    assert not os.path.exists("/tmp/bomf-pwned")


def test_plain_torch_file_loads_with_weights_only(tmp_path):
    p = tmp_path / "ok.pt"
    torch.save({"w": torch.ones(2)}, p)
    assert load_state(p)["w"].tolist() == [1.0, 1.0]
