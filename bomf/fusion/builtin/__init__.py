"""Fusion methods that ship with bomf: BOMF and its ablations (baselines live in ``baselines/``)."""
