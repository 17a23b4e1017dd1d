"""Evaluation throughput: our evaluator vs the authors' way, same model, same data.

The authors' code pads every example to 512 tokens and evaluates in batches of 32. Ours
tokenises once, sorts by length and pads each batch to its own longest example. Run with
``python -m pytest benchmarks/test_bench_evaluator.py --benchmark-only -s``; the ratio is
printed and written to ``results/benchmarks/evaluator_throughput.json``. Target: >= 5x.
"""

from bomf.tasks.encoding import encode_split
from bomf.evaluation.classification import Evaluator
from bomf.models import get_model
from bomf.tasks import get_task

from sidebyside import authors_eval_pass, compare, record

N_EXAMPLES = 256


def test_evaluator_vs_pad_to_512(benchmark):
    task, spec = get_task("rt-polarity"), get_model("minilm")
    tokenizer = spec.load_tokenizer()
    split = task.load_splits().val.select(range(N_EXAMPLES))
    model = spec.build_classifier(task.num_labels, seed=0).eval()

    ours = Evaluator(task, tokenizer, split, batch_size=128)
    theirs = authors_eval_pass(model, task, encode_split(tokenizer, split, max_length=512))

    # Same model, same examples: the two must agree on the loss before their speed means anything.
    assert abs(theirs() - ours(model).loss) < 1e-3
    result = compare(lambda: ours(model), theirs, rounds=3)
    out = record("evaluator_throughput", result, examples=N_EXAMPLES, model="minilm", task="rt-polarity",
                 ours_examples_per_s=N_EXAMPLES / result["ours_s"], theirs_examples_per_s=N_EXAMPLES / result["theirs_s"])
    benchmark.extra_info.update({k: out[k] for k in ("ratio", "ours_examples_per_s", "theirs_examples_per_s")})
    print(f"\nevaluator: {out['ours_examples_per_s']:.0f} ex/s vs pad-to-512: {out['theirs_examples_per_s']:.0f} ex/s "
          f"-> {out['ratio']:.1f}x (target >= 5x)")
    benchmark.pedantic(ours, args=(model,), rounds=3, iterations=1)
