"""Suites are validated before any compute, with one-line messages."""

import pytest

from bomf.core.errors import BomfError
from bomf.harness.suite import load_suite

GOOD = """
name = "t"
seeds = [0]
budget = 3
methods = ["uniform_soup", "bomf_p"]
[variants.bomf_p]
method = "bomf"
options = { objectives = "primary" }
[train]
epochs = 1
[[tasks]]
name = "rt-polarity"
models = ["tiny-bert"]
limits = { train = 64 }
"""


def _write(tmp_path, text):
    p = tmp_path / "s.toml"
    p.write_text(text)
    return str(p)


def test_a_good_suite_expands_to_cells(tmp_path):
    suite = load_suite(_write(tmp_path, GOOD))
    cells = suite.cells()
    assert [c.label for c in cells] == ["uniform_soup", "bomf_p"]
    assert cells[1].method == "bomf" and dict(cells[1].options) == {"objectives": "primary"}
    assert cells[0].train.epochs == 1 and cells[0].limits.train == 64 and cells[0].limits.val is None
    assert cells[0].relpath() == "t/rt-polarity/tiny-bert/default/uniform_soup/seed0.json"


@pytest.mark.parametrize("change, message", [
    (("seeds = [0]", "seeds = []"), "seeds must be"),
    (("budget = 3", "budget = 0"), "budget must be"),
    (('"uniform_soup", "bomf_p"', '"uniform_soup", "nope"'), "unknown method 'nope'"),
    (('name = "rt-polarity"', 'name = "nope"'), "unknown task 'nope'"),
    (('models = ["tiny-bert"]', 'models = ["gpt-17"]'), "unknown model 'gpt-17'"),
    (('objectives = "primary"', 'bogus = 1'), "has no option 'bogus'"),
    (("epochs = 1", "epoch = 1"), "no field 'epoch'"),
    (("epochs = 1", "lr = -1.0"), r"\[train\] lr must be a float in \(0, 10\], got -1.0"),
    (('name = "t"', 'name = "t"\ncolour = 1'), "unknown key 'colour'"),
    (("limits = { train = 64 }", "limits = { dev = 64 }"), "unknown split 'dev'"),
    (("[train]", "[train"), "not valid TOML"),
    (('"uniform_soup", "bomf_p"', '"uniform_soup", "uniform_soup"'), "twice"),
    (('models = ["tiny-bert"]', 'models = ["tiny-llama"]'), "cannot use model tiny-llama"),
    (('name = "rt-polarity"', 'name = "aclsum-summ"'), "give it a decoder"),
    (('options = { objectives = "primary" }', 'budget = 0'), "budget must be a positive integer"),
    (('options = { objectives = "primary" }', 'budgets = 4'), "unknown key 'budgets'"),
    (('name = "t"', 'name = "t"\nreferences = ["swa"]'), "references must list methods of the suite"),
    (('models = ["tiny-bert"]', 'models = ["tiny-bert"]\nregime = "../x"'), "regime of rt-polarity must be"),
    (('limits = { train = 64 }', 'limits = { train = 64 }\n[[tasks]]\nname = "rt-polarity"\nmodels = ["tiny-bert"]'),
     "listed twice"),
    (('limits = { train = 64 }', 'limits = { train = 64 }\nmethods = ["swa"]'), "must be a non-empty list of the suite's"),
])
def test_malformed_or_contradictory_suites_are_rejected(tmp_path, change, message):
    with pytest.raises(BomfError, match=message) as err:
        load_suite(_write(tmp_path, GOOD.replace(*change)))
    assert "\n" not in str(err.value)


# The bad inputs of issue 13: each passed validation (or failed only after training, or with a
# traceback) before; now each is refused before any compute, in one line naming the key and the fix.
@pytest.mark.parametrize("change, message", [
    (('objectives = "primary"', 'num_restarts = "two"'),
     r"\[variants.bomf_p\] options: num_restarts must be an int in \[1, 1000\], got 'two' \(text\); e.g. 4"),
    (('objectives = "primary"', 'pick_rule = "banana"'),
     r"pick_rule must be one of 'pareto_best_metric', 'best_metric', 'best_loss', 'pareto_utopia', 'loss_guard', 'posterior_mean', got 'banana'"),
    (("epochs = 1", 'batch_size = "16"'), r"\[train\] batch_size must be an int >= 1, got '16' \(text\); write 16 without quotes"),
    (("limits = { train = 64 }", "limits = { train = -5 }"), "limits of rt-polarity train must be an int >= 1 or None, got -5"),
    (('name = "t"', 'name = "../../evil"'), r"name '../../evil' cannot name a results folder"),
    (('name = "t"', 'name = "a/b"'), r"name 'a/b' cannot name a results folder"),
    (('"uniform_soup", "bomf_p"', '"uniform_soup", "../x"'), r"method '../x' cannot name a results folder"),
    (("budget = 3", "budget = true"), "budget must be a positive integer, got True"),
    (("epochs = 1", "epochs = 1\nstart_fraction = 1.0"), r"start_fraction must be a float in \[0, 1\), got 1.0"),
    (("[train]", "[method_options.bomf]\nn_init = 2\n[train]"), r"\[method_options.bomf\] names 'bomf', which is not a method"),
    (("[train]", "[method_options.uniform_soup]\nn_init = 2\n[train]"), "method uniform_soup has no option 'n_init'"),
    (("budget = 3", "budget = 3\nstage1 = ['bomf']\nstage1_options = { bomf = { trials = 0 } }"),
     r"\[stage1_options.bomf\] trials must be an int in \[1, 10000\], got 0"),
    (("budget = 3", "budget = 3\nstage1 = ['bomf']\nstage1_options = { bomf = { lr = [3e-4, 1e-5] } }"),
     r"lr must be a \[low, high\] pair of floats, each in \(0, 1\], got \[0.0003, 1e-05\]"),
    (('models = ["tiny-bert"]', 'models = "tiny-bert"'), "must be a non-empty list of model names"),
    (("limits = { train = 64 }", 'limits = { train = 64 }\ntrain = { lr = "fast" }'), r"train of task rt-polarity lr must be a float"),
])
def test_each_bad_value_is_refused_in_one_line_naming_the_key(tmp_path, change, message):
    with pytest.raises(BomfError, match=message) as err:
        load_suite(_write(tmp_path, GOOD.replace(*change)))
    assert "\n" not in str(err.value)


def test_options_are_normalised_and_effective_values_enter_the_key(tmp_path):
    suite = load_suite(_write(tmp_path, GOOD.replace('objectives = "primary"', 'margin = 1')))
    cell = suite.cells()[1]
    assert dict(cell.options) == {"margin": 1.0}  # an int for a float option: one value, one key
    from bomf.training.request import TrainConfig

    request = cell.fusion_request(TrainConfig(epochs=1))
    options = request.identity()["options"]
    from bomf.fusion import get_method

    defaults = {name: spec.default for name, spec in get_method("bomf").options.items()}
    assert options["margin"] == 1.0 and options == {**defaults, "margin": 1.0}  # every default, as used


def test_regimes_variant_budgets_and_references_expand_into_their_own_cells(tmp_path):
    text = GOOD.replace('options = { objectives = "primary" }', 'budget = 2').replace(
        'name = "t"', 'name = "t"\nreferences = ["uniform_soup"]') + """
[[tasks]]
name = "rt-polarity"
regime = "high-lr"
models = ["tiny-bert"]
train = { lr = 1e-3 }
"""
    suite = load_suite(_write(tmp_path, text))
    assert suite.references == ["uniform_soup"]
    cells = suite.cells()
    assert [(c.task_label, c.label, c.budget) for c in cells] == [
        ("rt-polarity", "uniform_soup", 3), ("rt-polarity", "bomf_p", 2),
        ("rt-polarity@high-lr", "uniform_soup", 3), ("rt-polarity@high-lr", "bomf_p", 2)]
    assert cells[2].train.lr == 1e-3 and cells[0].group() != cells[2].group()
    assert cells[2].relpath() == "t/rt-polarity@high-lr/tiny-bert/default/uniform_soup/seed0.json"
    # a task entry may run a subset of the suite's methods
    subset = load_suite(_write(tmp_path, text.replace('regime = "high-lr"', 'regime = "high-lr"\nmethods = ["bomf_p"]')))
    assert [(c.task_label, c.label) for c in subset.cells()][2:] == [("rt-polarity@high-lr", "bomf_p")]


def test_the_regimes_suite_validates_with_the_bomf_variants():
    suite = load_suite("regimes")
    cells = suite.cells()
    # 3 seeds x (2 default regimes x 21 methods + 4 other regimes x 16: no budget curve there)
    assert len(cells) == 3 * (2 * 21 + 4 * 16) and suite.references == ["last", "best"]
    assert {c.budget for c in cells if c.label in ("bomf", "bomf_paper", "random_search", "smac_bo")} == {58}
    assert {c.budget for c in cells if c.label.endswith("_b32") or c.label == "bomf_posterior"} == {32}


def test_the_variants_suite_repeats_the_offline_cells():
    # Its twelve offline methods must be the offline suite's cells (so they come from the caches
    # after make sweep, and the variants are compared on the same trajectories).
    from dataclasses import replace

    offline = {replace(c, suite="-") for c in load_suite("offline").cells()}
    variants = [replace(c, suite="-") for c in load_suite("variants").cells()]
    shared = [c for c in variants if c.label not in ("bomf_posterior", "bomf_loss_guard", "bomf_soup_start")]
    assert set(shared) == offline and len(variants) == len(offline) + 3 * 2 * 3


def test_shipped_suites_validate():
    for name in ("smoke", "offline", "variants", "paper", "stage1", "generation", "regimes", "search"):
        suite = load_suite(name)
        assert suite.cells()
    # 4 GLUE tasks + SQuAD v2 (T5-base) + SAMSum (Qwen2.5-0.5B, LoRA), 3 seeds, 12 methods/variants
    assert len(load_suite("paper").cells()) == 6 * 3 * 12
    with pytest.raises(BomfError, match="unknown suite 'nope'"):
        load_suite("nope")
