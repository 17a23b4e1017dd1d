"""Generation metrics against hand-computed values (SQuAD-v2 rules, ROUGE with sentence splitting)."""

import pytest

from bomf.metrics.scores import compute_metrics
from bomf.metrics.text import example_scores, exact_match, normalize_answer, rouge_scores, split_sentences, token_f1


def test_squad_normalisation_drops_case_punctuation_articles_and_extra_space():
    assert normalize_answer("  The  Eiffel-Tower, an icon! ") == "eiffeltower icon"


def test_exact_match_takes_the_best_gold_answer():
    # "in Paris" matches the second gold answer exactly; "Paris" the first: both count.
    assert exact_match(["in Paris", "paris", "London"], [["Paris", "in Paris"]] * 3) == pytest.approx(2 / 3)


def test_token_f1_hand_computed():
    # pred "black cat sat" vs gold "the cat sat down": after normalisation 3 vs 3 tokens ("the" dropped),
    # common = {cat, sat} = 2 -> P = 2/3, R = 2/3, F1 = 2/3.
    assert token_f1(["black cat sat"], [["the cat sat down"]]) == pytest.approx(2 / 3)
    # max over gold answers: 1.0 against the second
    assert token_f1(["cat"], [["dog", "a cat"]]) == 1.0
    # repeated tokens count with multiplicity: pred "a b b" vs gold "b": common 1, P 1/3, R 1 -> 0.5
    assert token_f1(["x b b"], [["b"]]) == pytest.approx(0.5)


def test_no_answer_rules():
    # unanswerable (no gold answers): only the empty prediction scores, in EM and in F1
    assert exact_match([""], [[]]) == 1.0 and token_f1([""], [[]]) == 1.0
    assert exact_match(["Paris"], [[]]) == 0.0 and token_f1(["Paris"], [[]]) == 0.0
    # answerable, but the model abstains: 0
    assert exact_match([""], [["Paris"]]) == 0.0 and token_f1([""], [["Paris"]]) == 0.0
    # a gold answer that normalises to nothing counts as no answer
    assert exact_match([""], [["the"]]) == 1.0


def test_rouge_hand_computed():
    # unigrams: pred {the, cat, sat} vs ref {the, cat, ran}: 2 common -> P = R = F = 2/3
    # bigrams: {the cat, cat sat} vs {the cat, cat ran}: 1 common -> 1/2
    r = rouge_scores(["the cat sat"], ["the cat ran"])
    assert r["rouge1"] == pytest.approx(2 / 3)
    assert r["rouge2"] == pytest.approx(0.5)
    assert r["rougeLsum"] == pytest.approx(2 / 3)
    # Porter stemming: "running cats" matches "run cat"
    assert rouge_scores(["running cats"], ["run cat"])["rouge1"] == pytest.approx(1.0)


def test_rouge_lsum_uses_sentence_splitting():
    # Summary-level LCS over sentences: both sentences are found whatever their order (1.0), whereas
    # one LCS over the concatenation would find only "a b" or "c d" (0.5).
    r = rouge_scores(["c d. a b."], ["a b. c d."])
    assert r["rougeLsum"] == pytest.approx(1.0)
    assert split_sentences("One. Two! Three? four") == ["One.", "Two!", "Three?", "four"]


def test_compute_metrics_is_the_mean_of_the_per_example_scores():
    preds, refs = ["the cat sat", "a dog", ""], ["the cat ran", "the dog barked", "nothing here"]
    per = example_scores(("rouge1", "rougeLsum"), preds, refs)
    agg = compute_metrics(("rouge1", "rougeLsum"), preds, refs)
    assert per["rouge1"][2] == 0.0
    assert agg["rouge1"] == pytest.approx(sum(per["rouge1"]) / 3)
    qa = compute_metrics(("exact_match", "token_f1"), ["Paris", ""], [["paris"], []])
    assert qa == {"exact_match": 1.0, "token_f1": 1.0}
