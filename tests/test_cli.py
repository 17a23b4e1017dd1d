"""The command line: listings, one-line errors, and a trajectory + fusion on a tiny model."""

import subprocess
import sys

import pytest

from bomf.cli import main


def test_list_shows_every_registry(capsys):
    assert main(["list", "tasks"]) == 0
    out = capsys.readouterr().out
    assert "rt-polarity" in out and "aclsum-qnli" in out and "rte" in out
    assert main(["list", "models"]) == 0 and "minilm" in capsys.readouterr().out
    assert main(["list", "methods"]) == 0
    out = capsys.readouterr().out
    for name in ("bomf", "bo_loss", "greedy_soup", "smac_bo", "learned_soup"):
        assert name in out
    # Each option with its type, range and default, from its one declaration.
    assert "num_restarts: int in [1, 1000] (default 4)" in out and "max_steps: int in [1, 10000] (default 50)" in out
    assert main(["list", "stage1"]) == 0
    out = capsys.readouterr().out
    assert "hpbo_full" in out and "trials: int in [1, 10000] (default 6)" in out


def test_unknown_names_give_one_line_and_exit_2():
    for args in (["trajectory", "--task", "nope"], ["trajectory", "--model", "nope"], ["fuse", "--method", "nope"],
                 ["fuse", "--method", "bomf", "--option", "bogus=1"]):
        proc = subprocess.run([sys.executable, "-m", "bomf.cli", *args], capture_output=True, text=True)
        assert proc.returncode == 2, args
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("bomf: error:"), proc.stderr


def test_trajectory_and_fuse_print_tables(capsys):
    common = ["--task", "rt-polarity", "--model", "tiny-bert", "--epochs", "1", "--members", "3", "--batch-size", "16",
              "--limit-train", "64", "--limit-val", "32", "--limit-test", "32", "--quiet", "--device", "cpu"]
    assert main(["trajectory", *common]) == 0
    out = capsys.readouterr().out
    assert "member 2" in out and "swa" in out and "test accuracy" in out
    assert main(["fuse", *common, "--method", "greedy_soup", "--weights"]) == 0
    out = capsys.readouterr().out
    assert "greedy_soup" in out and "best member" in out and "weights:" in out


BASE = ["--task", "rt-polarity", "--model", "tiny-bert", "--epochs", "1", "--members", "3", "--batch-size", "16",
        "--limit-train", "64", "--limit-val", "32", "--limit-test", "32", "--device", "cpu"]
TINY = [*BASE, "--quiet"]  # trajectory and fuse show progress bars unless told not to


# Issue 13's bad inputs to the commands: each is one line and exit status 2, before any compute.
@pytest.mark.parametrize("args, message", [
    (["fuse", *TINY, "--budget", "0"], "budget must be a positive integer (fused evaluations a search method may spend), got 0"),
    (["fuse", *TINY, "--budget", "-1"], "budget must be a positive integer"),
    (["fuse", *TINY, "--option", "num_restarts=two"],
     "method bomf: --option num_restarts must be an int in [1, 1000], got 'two' (text); e.g. 4"),
    (["fuse", *TINY, "--option", "pick_rule=banana"], "pick_rule must be one of 'pareto_best_metric'"),
    (["fuse", *TINY, "--method", "learned_soup", "--option", "tol=-1"], "tol must be a float >= 0, got -1"),
    (["stage1", *BASE, "--option", "trials=0"], "stage-1 strategy bomf: --option trials must be an int in [1, 10000], got 0"),
    (["trajectory", *TINY, "--lr", "0"], "training config: lr must be a float in (0, 10], got 0.0"),
    (["trajectory", *TINY, "--limit-train", "-5"], "split limits: train must be an int >= 1 or None, got -5"),
])
def test_bad_values_give_one_line_and_exit_2_before_any_compute(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BOMF_CACHE", str(tmp_path / "cache"))
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bomf: error: ") and message in err[0], err
    assert not (tmp_path / "cache" / "trajectories").exists()


@pytest.mark.parametrize("command", [["trajectory", *TINY], ["fuse", *TINY, "--method", "uniform_soup"],
                                     ["stage1", *BASE, "--option", "trials=1"],
                                     ["align", *BASE, "--lrs", "1e-3", "--batch-sizes", "16"]])
def test_an_unwritable_cache_is_one_line_and_exit_2_from_every_command(command, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # mkdir below a file fails, for root too
    monkeypatch.setenv("BOMF_CACHE", str(blocker / "cache"))
    assert main(command) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"bomf: error: cannot write the cache folder {blocker / 'cache'}"), err
    assert "BOMF_CACHE" in err[0]


def test_a_full_disk_while_a_checkpoint_is_written_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    import bomf.training.checkpoint as C
    from safetensors import SafetensorError

    def full(*args, **kwargs):
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setenv("BOMF_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(C, "save_file", full)
    assert main(["trajectory", *TINY]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and "member_00.safetensors" in err[0], err
    assert err[0].startswith("bomf: error: cannot write ")
    left = [p for p in (tmp_path / "cache" / "trajectories").rglob("*")]
    assert left == []  # no half-built trajectory folder, no temporary file


def test_a_failed_file_operation_outside_the_writers_is_still_one_line(tmp_path, monkeypatch, capsys):
    """Journals and folders are opened directly: an OSError there is one line too, not a traceback."""
    import bomf.fusion.pipeline as P

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "cache" / "fusion"))

    monkeypatch.setenv("BOMF_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(P, "cached_record", denied)
    assert main(["fuse", *TINY, "--method", "uniform_soup"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"bomf: error: cannot use {tmp_path / 'cache' / 'fusion'} (Permission denied); fix its permissions "
                   "or point BOMF_CACHE / BOMF_RESULTS at a writable folder"]
