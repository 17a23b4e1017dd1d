"""Degenerate trajectories: fine-tuning that gave fusion nothing to choose between.

A trajectory is degenerate when every member predicts a single class on val (the run never
left the majority class), or when the primary val metric is the same for every member (e.g.
F1 = 0 throughout). Fusing such members compares methods on noise, so the trainer says so in
one line and records the reason in ``trajectory.json`` (``degenerate``); the tables flag the
seed and leave it out of their comparisons and the summary ranks (``docs/statistics.md``).

Example:
    >>> degenerate_reason([{"f1": 0.0}, {"f1": 0.0}], "f1")
    'the val f1 is 0.0000 for every member'
    >>> degenerate_reason([{"f1": 0.4}, {"f1": 0.5}], "f1", predicted_classes=[1, 1])
    'every member predicts a single class on val'
    >>> degenerate_reason([{"f1": 0.4}, {"f1": 0.5}], "f1", predicted_classes=[2, 2]) is None
    True
"""

from __future__ import annotations

from typing import Sequence

# Members whose primary metric differs by less than this count as tied.
TIE = 1e-12


def degenerate_reason(member_metrics: Sequence[dict], primary: str,
                      predicted_classes: Sequence[int | None] | None = None) -> str | None:
    """Why the members are degenerate, or None. ``member_metrics``: each member's val metrics;
    ``predicted_classes``: how many distinct classes each member predicts on val (classification)."""
    if predicted_classes and all(c is not None and c <= 1 for c in predicted_classes):
        return "every member predicts a single class on val"
    values = [m[primary] for m in member_metrics if primary in m]
    if len(values) >= 2 and max(values) - min(values) <= TIE:
        return f"the val {primary} is {values[0]:.4f} for every member"
    return None
