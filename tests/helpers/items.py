"""The slice of the bundled benchmark the tiny model learns in tests (tests/conftest.py builds the
shared tokenizer and learned model from it)."""

from __future__ import annotations

from polyunlearn.data.fictitious import bundled_benchmark
from polyunlearn.data.schema import QAItem

SLICE_IDS = {f"fact-{k:03d}" for k in list(range(0, 20)) + list(range(90, 100))}


def small_items(langs=("en", "fr")) -> list[QAItem]:
    """20 retain + 10 forget facts per language (the forget ones are the bundled forget split)."""
    return [it for it in bundled_benchmark(list(langs)) if it.id in SLICE_IDS]


def all_texts(items):
    return [t for it in items for t in (it.question, it.answer, it.paraphrased_answer, *it.perturbed_answer)]
