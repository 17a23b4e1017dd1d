"""The command line: listings, one-line errors, and a trajectory + fusion on a tiny model."""

import subprocess
import sys

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
