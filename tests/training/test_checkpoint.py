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


def _zero_bytes(path, start: int, length: int) -> None:
    with open(path, "r+b") as fh:
        fh.seek(start)
        fh.write(b"\0" * length)


def test_bytes_overwritten_on_disk_are_refused_by_the_content_hash(tmp_path):
    p = tmp_path / "a.safetensors"
    digest = save_state(p, {"w": torch.randn(1000), "b": torch.randn(10)})
    assert load_state(p, digest=digest)["w"].shape == (1000,)
    _zero_bytes(p, p.stat().st_size - 2000, 1000)  # inside the data, not the header: still parses
    with pytest.raises(CheckpointError, match="does not hold the tensors recorded for it.*delete its trajectory folder"):
        load_state(p)


def test_a_corrupt_member_is_refused_before_any_fused_evaluation(tmp_path, monkeypatch):
    """Issue 13: 8 MB of a cached member overwritten with zeros went unnoticed, and fused
    evaluations of the corrupt member were cached as results. Now loading the pool refuses it."""
    from bomf.fusion.pipeline import FusionRequest, fusion_folder, run_fusion
    from bomf.training.trajectory import train_trajectory

    from helpers import tiny_request

    monkeypatch.setenv("BOMF_CACHE", str(tmp_path))
    request = tiny_request(seed=3)
    traj = train_trajectory(request, device="cpu")
    member = traj.member_files[1]
    size = member.stat().st_size
    _zero_bytes(member, size // 4, size // 2)  # half the file (the tiny model's member is ~4 MB)
    fusion = FusionRequest(trajectory=request, method="uniform_soup")
    with pytest.raises(CheckpointError, match=f"checkpoint {member} does not hold the tensors recorded for it"):
        run_fusion(fusion, device="cpu")
    assert not (fusion_folder(fusion) / "record.json").exists()


def test_a_member_swapped_for_another_is_refused(tmp_path, monkeypatch):
    """Each file is self-consistent, but member 1 is now member 0's bytes: trajectory.json's hash says so."""
    from bomf.training.trajectory import train_trajectory

    from helpers import tiny_request

    monkeypatch.setenv("BOMF_CACHE", str(tmp_path))
    traj = train_trajectory(tiny_request(seed=4), device="cpu")
    traj.member_files[1].write_bytes(traj.member_files[0].read_bytes())
    with pytest.raises(CheckpointError, match="member_01.safetensors does not hold the tensors recorded"):
        traj.load_members()


def test_a_full_disk_while_writing_a_checkpoint_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    import bomf.training.checkpoint as C
    from bomf.core.paths import UnwritableError
    from safetensors import SafetensorError

    def full(*args, **kwargs):
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(C, "save_file", full)
    with pytest.raises(UnwritableError) as err:
        save_state(tmp_path / "m.safetensors", {"w": torch.ones(3)})
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"cannot write {tmp_path / 'm.safetensors'} (No space left on device)")
    assert "BOMF_CACHE" in message and list(tmp_path.iterdir()) == []
