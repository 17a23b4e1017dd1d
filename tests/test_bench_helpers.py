"""The benchmarks' cache helper honours the cache settings like the package does."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from sidebyside import throwaway_fusion_cache  # noqa: E402


def test_throwaway_fusion_cache_links_trajectories_from_wherever_the_cache_is(tmp_path, monkeypatch):
    for variable, root in (("XDG_CACHE_HOME", tmp_path / "xdg" / "bomf"), ("BOMF_CACHE", tmp_path / "bomf-cache")):
        monkeypatch.delenv("BOMF_CACHE", raising=False)
        monkeypatch.delenv("BOMF_DATA_CACHE", raising=False)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        if variable == "BOMF_CACHE":
            monkeypatch.setenv("BOMF_CACHE", str(root))
        (root / "trajectories" / "abc").mkdir(parents=True)
        (root / "trajectories" / "abc" / "trajectory.json").write_text("{}")
        before = dict(os.environ)
        with throwaway_fusion_cache("abc") as tmp:
            assert os.environ["BOMF_CACHE"] == str(tmp) and tmp != root
            assert (tmp / "trajectories" / "abc" / "trajectory.json").read_text() == "{}"
            assert os.environ["BOMF_DATA_CACHE"] == str(root / "data")  # data stays the user's
        assert dict(os.environ) == before and not tmp.exists()
