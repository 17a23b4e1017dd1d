"""Records say which commit made them and whether the code that ran was committed."""

from bomf.core import provenance as P


def test_dirty_files_lists_modified_staged_untracked_and_renamed_paths():
    status = " M bomf/cli.py\nM  baselines/last.py\n?? baselines/new_soup.py\nR  bomf/a.py -> bomf/b.py\n"
    assert P.dirty_files(status) == ["baselines/last.py", "baselines/new_soup.py", "bomf/b.py", "bomf/cli.py"]
    assert P.dirty_files("") == []


def test_provenance_says_whether_the_code_was_committed(monkeypatch):
    calls = []

    def fake_git(*args, strip=True):
        calls.append(args)
        if args[0] == "status":
            return "?? baselines/my_soup.py\n"
        return "abc123"

    P._code_provenance.cache_clear()
    monkeypatch.setattr(P, "_git", fake_git)
    try:
        rec = P.provenance()
        assert rec["git_commit"] == "abc123" and rec["git_dirty"] is True
        assert rec["git_dirty_files"] == ["baselines/my_soup.py"]  # an untracked baseline counts
        status = next(a for a in calls if a[0] == "status")
        assert "--untracked-files=all" in status and set(P.CODE_PATHS) <= set(status)
        monkeypatch.setattr(P, "_git", lambda *a, strip=True: "" if a[0] == "status" else "abc123")
        P._code_provenance.cache_clear()
        assert P.provenance()["git_dirty"] is False and P.provenance()["git_dirty_files"] == []
    finally:
        P._code_provenance.cache_clear()
