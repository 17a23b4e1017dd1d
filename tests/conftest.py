"""Test-wide settings: a throw-away cache, shared downloaded data, one CPU thread for BO."""

from __future__ import annotations

import os

import pytest
import torch

from bomf.core import paths


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Trajectories go to a fresh cache; downloaded data is shared with the user's cache."""
    old = {k: os.environ.get(k) for k in ("BOMF_CACHE", "BOMF_DATA_CACHE", "HF_HUB_OFFLINE")}
    os.environ.setdefault("BOMF_DATA_CACHE", str(paths.cache_root() / "data"))
    os.environ["BOMF_CACHE"] = str(tmp_path_factory.mktemp("bomf-cache"))
    # Tests never touch the Hub; offline mode makes any accidental call fail at once.
    os.environ["HF_HUB_OFFLINE"] = "1"
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def one_torch_thread():
    """BO code runs on one thread, as the methods run it (see bomf.core.device.torch_threads)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
