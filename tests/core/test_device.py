"""Devices and precision: the errors a GPU user meets, tested on a CPU by pretending.

``--device cuda`` without a GPU, CUDA out of memory (naming the batch size to lower and where),
and a GPU without bf16 (float32 instead, said in the record), each one line.
"""

import pytest
import torch

from bomf.cli import main
from bomf.core import device as D
from bomf.core.device import DeviceError, DeviceOutOfMemoryError, Precision, explain_out_of_memory

from helpers import tiny_request


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_cuda_without_a_gpu_is_a_one_line_error_before_any_work(no_gpu, capsys):
    with pytest.raises(DeviceError, match=r"--device cuda: no CUDA GPU is available .*use --device cpu"):
        D.resolve_device("cuda")
    assert D.resolve_device("auto") == "cpu" and D.resolve_device("cpu") == "cpu"
    with pytest.raises(DeviceError, match="unknown device 'tpu'"):
        D.resolve_device("tpu")
    for argv in (["trajectory", "--model", "tiny-bert", "--device", "cuda", "--quiet"],
                 ["fuse", "--model", "tiny-bert", "--device", "cuda", "--method", "uniform_soup", "--quiet"],
                 ["run", "smoke", "--device", "cuda", "--quiet"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "no CUDA GPU is available" in err and "--device cpu" in err, argv


def test_a_gpu_without_bf16_falls_back_to_float32_and_says_why(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla T4")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))
    p = D.resolve_precision("cuda", "auto")
    assert p == Precision("fp32", fallback="Tesla T4 (compute capability 7.5) has no native bf16: float32 instead")
    assert D.resolve_precision("cuda", "bf16").fallback == p.fallback  # asked for explicitly: same answer
    assert D.resolve_precision("cuda", "fp32") == Precision("fp32")  # nothing asked, nothing to say
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert D.resolve_precision("cuda", "auto") == Precision("bf16")
    # On a CPU: float32 unless bf16 is asked for (how the bf16 path is tested without a GPU).
    assert D.resolve_precision("cpu") == Precision("fp32") and D.resolve_precision("cpu", "bf16").name == "bf16"
    assert D.resolve_precision("cpu", "no") == Precision("fp32")  # accelerate's name, as trajectories record it
    with pytest.raises(DeviceError, match="unknown precision 'fp8'"):
        D.resolve_precision("cpu", "fp8")


def test_the_fallback_reaches_the_record_and_stderr(monkeypatch, capsys):
    import bomf.fusion.pipeline as P

    reason = "Tesla T4 (compute capability 7.5) has no native bf16: float32 instead"
    monkeypatch.setattr(P, "resolve_precision", lambda device, requested: Precision("fp32", fallback=reason))
    rec = P.run_fusion(P.FusionRequest(trajectory=tiny_request(seed=0), method="uniform_soup", seed=11), device="cpu")
    assert rec["precision"] == "fp32" and rec["precision_fallback"] == reason and rec["device"] == "cpu"
    assert f"bomf: fusing trajectory {rec['trajectory']['key']}: {reason}" in capsys.readouterr().err


def test_out_of_memory_names_the_batch_size_to_lower():
    with pytest.raises(DeviceOutOfMemoryError) as info:
        with explain_out_of_memory("training x/y", "batch size", 32, "--batch-size"):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB\nmore detail")
    msg = str(info.value)
    assert msg.count("\n") == 0 and "batch size 32: lower it (--batch-size)" in msg and "Tried to allocate" in msg
    with pytest.raises(ValueError):  # anything else passes through untouched
        with explain_out_of_memory("training", "batch size", 32, "--batch-size"):
            raise ValueError("not memory")


def test_out_of_memory_in_training_and_in_fusion_says_which_batch_size(monkeypatch):
    import bomf.fusion.pipeline as P
    import bomf.training.trajectory as T

    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB")

    request = tiny_request(seed=12)
    with monkeypatch.context() as m:
        m.setattr(T, "task_loss", oom)
        with pytest.raises(DeviceOutOfMemoryError, match=r"training rt-polarity/tiny-bert at batch size 16: "
                                                          r"lower it \(--batch-size, or batch_size under \[train\]"):
            T.train_trajectory(request, device="cpu")
    assert T.load_trajectory(request) is None  # nothing half-built is left to look finished
    ctx = P.prepare_context(request, device="cpu")
    monkeypatch.setattr(ctx.val, "__class__", type("OOMEvaluator", (type(ctx.val),), {"__call__": oom}))
    with pytest.raises(DeviceOutOfMemoryError, match=r"eval batch size 32: lower it \(--eval-batch-size"):
        P.run_fusion(P.FusionRequest(trajectory=request, method="uniform_soup"), device="cpu", context=ctx)
