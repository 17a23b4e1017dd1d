"""Where bomf looks for the committed reference results (``reference_root``)."""

from pathlib import Path

import bomf.core.paths as P


def test_a_clone_uses_its_own_reference(tmp_path, monkeypatch):
    clone = tmp_path / "clone"
    (clone / "results" / "reference").mkdir(parents=True)
    (clone / "pyproject.toml").write_text("")
    monkeypatch.delenv("BOMF_REFERENCE", raising=False)
    monkeypatch.setattr(P, "REPO_ROOT", clone)
    monkeypatch.chdir(tmp_path)
    assert P.reference_root() == clone / "results" / "reference"


def test_an_installed_copy_never_names_site_packages(tmp_path, monkeypatch):
    site = tmp_path / "site-packages"  # what REPO_ROOT is for a non-editable install: no pyproject.toml
    (site / "results" / "reference").mkdir(parents=True)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.delenv("BOMF_REFERENCE", raising=False)
    monkeypatch.setattr(P, "REPO_ROOT", site)
    monkeypatch.chdir(work)
    assert P.reference_root() == work / "results" / "reference"  # absent: the message names this folder
    (work / "results" / "reference").mkdir(parents=True)
    assert P.reference_root() == work / "results" / "reference"


def test_the_variable_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("BOMF_REFERENCE", str(tmp_path / "elsewhere"))
    assert P.reference_root() == Path(tmp_path / "elsewhere")
