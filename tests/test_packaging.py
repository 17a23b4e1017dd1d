"""The wheel: suites as package data, baselines under bomf/, no generic top-level name; an
installed (non-editable) copy finds its suites and baselines and writes results under the cwd."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = ["bomf", "baselines", "benchmarks/suites", "setup.py", "pyproject.toml", "README.md"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """Built from a copy of the sources (an in-tree build would leave build/ in the repository)."""
    root = tmp_path_factory.mktemp("packaging")
    src = root / "src"
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                           "--no-index", "-w", str(root / "dist"), str(src)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    (path,) = (root / "dist").glob("bomf-*.whl")
    return root, path


def test_the_wheel_claims_only_the_bomf_name_and_carries_suites_and_baselines(wheel):
    _, path = wheel
    names = zipfile.ZipFile(path).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"bomf"}, tops
    for needed in ("bomf/suites/smoke.toml", "bomf/suites/offline.toml", "bomf/baselines/greedy_soup.py",
                   "bomf/baselines/__init__.py", "bomf/core/plugins.py"):
        assert needed in names
    assert not any(n.startswith(("bomf/results", "bomf/tests")) for n in names)


def test_an_installed_copy_runs_from_anywhere(wheel):
    root, path = wheel
    site, work = root / "site", root / "work"
    work.mkdir()
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target",
                           str(site), str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("BOMF_RESULTS", None)

    def run(*args):
        return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=work, env=env)

    proc = run("-c", "import bomf, bomf.baselines; print(bomf.__file__)")
    assert proc.returncode == 0 and proc.stdout.strip() == str(site / "bomf" / "__init__.py"), proc.stderr
    proc = run("-c", "import baselines")
    assert proc.returncode != 0 and "No module named 'baselines'" in proc.stderr
    proc = run("-m", "bomf.cli", "list", "methods")
    assert proc.returncode == 0 and "greedy_soup" in proc.stdout and "smac_bo" in proc.stdout, proc.stderr
    proc = run("-m", "bomf.cli", "run", "smoke", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert f"results in {work / 'bomf-results' / 'smoke'}" in proc.stdout
    assert not list(site.rglob("bomf-results")) and not (site / "results").exists()
