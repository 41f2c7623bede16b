"""Shared fixtures: a tiny tokenizer and a tiny Llama-style model that has learned a small
slice of the bundled benchmark (built once per test session, in a few seconds on CPU)."""

from __future__ import annotations

import copy

import pytest
import torch

from helpers.cli import DEMO_ARGS, cli
from helpers.items import all_texts, small_items
from polyunlearn.core.models import build_tiny_model, train_tokenizer
from polyunlearn.core.trainloop import TrainConfig
from polyunlearn.data.schema import QAItem

# Tiny models do not profit from intra-op threads, and lose badly when the cores are busy.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def items() -> list[QAItem]:
    return small_items()


@pytest.fixture(scope="session")
def tokenizer(items):
    return train_tokenizer(all_texts(items), vocab_size=600)


@pytest.fixture(scope="session")
def _learned(items, tokenizer):
    from polyunlearn.pipeline.phases import learn

    model = build_tiny_model(tokenizer, "llama", seed=0)
    cfg = TrainConfig(lr=3e-3, epochs=40, batch_size=16, schedule="linear", warmup_ratio=0.05)
    model, _ = learn(model, tokenizer, items, cfg, progress=False)
    return model


@pytest.fixture()
def learned(_learned):
    """A fresh copy of the learned tiny model (tests may train it further)."""
    return copy.deepcopy(_learned)


@pytest.fixture(scope="session")
def learned_folder(tmp_path_factory, _learned, tokenizer):
    """make(name) -> a new folder holding items.jsonl (small_items(): the en + fr slice) and
    learned/ (the shared learned tiny model saved like `learn` saves it), one per caller so that
    each test module writes its runs beside its own copy."""
    from polyunlearn.core.models import save_model
    from polyunlearn.data.loaders import save_items

    def make(name: str):
        root = tmp_path_factory.mktemp(name)
        save_items(small_items(), root / "items.jsonl")
        save_model(_learned, tokenizer, root / "learned")
        return root

    return make


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """(OUT, console output) of the reduced demo, run from a fresh folder without --out, so that
    OUT is README's default ./polyunlearn_runs/demo."""
    import contextlib

    cwd = tmp_path_factory.mktemp("demo_cwd")
    with contextlib.chdir(cwd):
        res = cli(*DEMO_ARGS, env={"COLUMNS": "200"}, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return cwd / "polyunlearn_runs" / "demo", res.output
