"""Shared fixtures: a tiny tokenizer and a tiny Llama-style model that has learned a small
slice of the bundled benchmark (built once per test session, in a few seconds on CPU)."""

from __future__ import annotations

import copy

import pytest
import torch

from polyunlearn.core.models import build_tiny_model, train_tokenizer
from polyunlearn.core.trainloop import TrainConfig
from polyunlearn.data.fictitious import bundled_benchmark
from polyunlearn.data.schema import QAItem

# Tiny models do not profit from intra-op threads, and lose badly when the cores are busy.
torch.set_num_threads(1)

SLICE_IDS = {f"fact-{k:03d}" for k in list(range(0, 20)) + list(range(90, 100))}


def small_items(langs=("en", "fr")) -> list[QAItem]:
    """20 retain + 10 forget facts per language (the forget ones are the bundled forget split)."""
    return [it for it in bundled_benchmark(list(langs)) if it.id in SLICE_IDS]


def all_texts(items):
    return [t for it in items for t in (it.question, it.answer, it.paraphrased_answer, *it.perturbed_answer)]


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


# The reduced demo every end-to-end test of the demo shares (test_cli, test_readme): README's
# `polyunlearn demo` at its defaults (default OUT under the current folder, per-epoch curves,
# forget sets en;all) on 3 languages, one method and fewer epochs. Built once per session.
DEMO_ARGS = (
    "demo",
    "--languages",
    "en,fr,ja",
    "--methods",
    "npo",
    "--learn-epochs",
    "25",
    "--unlearn-epochs",
    "5",
    "--unlearn-lr",
    "1e-3",
)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """(OUT, console output) of the reduced demo, run from a fresh folder without --out, so that
    OUT is README's default ./polyunlearn_runs/demo."""
    import contextlib

    from typer.testing import CliRunner

    from polyunlearn.cli import app

    cwd = tmp_path_factory.mktemp("demo_cwd")
    with contextlib.chdir(cwd):
        res = CliRunner().invoke(app, list(DEMO_ARGS), env={"COLUMNS": "200"}, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return cwd / "polyunlearn_runs" / "demo", res.output
