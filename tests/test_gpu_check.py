"""The GPU check keeps working without a GPU: every section, small, on the CPU (as CI runs it)."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_gpu_check_runs_small_on_the_cpu_and_writes_its_figures(tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--device", "cpu", "--small", "--model",
           "tiny-bert", "--seeds", "0", "--jobs", "1", "--out", str(out), "--work", str(tmp_path / "work")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    figures = json.loads((out / "gpu_check.json").read_text())
    sections = figures["sections"]
    assert set(sections) == {"train", "evaluator", "fusion", "sweep", "bomf50"}
    assert not [n for n, s in sections.items() if "error" in s]
    assert figures["device"] == "cpu" and figures["precision"] == "fp32"
    assert sections["train"]["optimizer_steps"] > 0 and sections["evaluator"]["ratio"] > 0
    assert sections["fusion"]["max_abs_diff"] < 1e-5 and sections["fusion"]["ratio"] > 0
    sweep = sections["sweep"]
    assert sweep["n_cells"] == 11 and {c["method"] for c in sweep["cells"]} >= {"bomf", "smac_bo", "swa"}
    assert all(c["device"] == "cpu" and c["precision"] == "fp32" for c in sweep["cells"])
    assert sections["bomf50"]["budget"] == 6 and sections["bomf50"]["wall_over_eval"] >= 1
    table = (out / "gpu_check.md").read_text()
    assert "val pass vs pad-to-512" in table and "bomf seed0" in table


def test_gpu_cells_are_matched_with_the_committed_cpu_record_of_the_same_cell():
    sys.path.insert(0, str(REPO / "benchmarks"))
    import gpu_check

    cpu = gpu_check.committed_record("offline/rt-polarity/minilm/default/bomf/seed0.json")
    assert cpu is not None and cpu["method"] == "bomf" and cpu["seed"] == 0
    gpu = json.loads(json.dumps(cpu))
    gpu["device"], gpu["precision"] = "cuda", "bf16"  # device and precision may differ...
    assert gpu_check.same_settings(gpu, cpu)
    gpu["trajectory"]["request"]["config"]["lr"] = 1e-3  # ...the training settings may not
    assert not gpu_check.same_settings(gpu, cpu)
    assert gpu_check.committed_record("offline/rt-polarity/minilm/default/bomf/seed9.json") is None
