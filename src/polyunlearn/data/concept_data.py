"""The concept-unlearning data set: the bundled stereotype items (split "forget": the
association is what unlearning removes) plus the bundled fictitious facts, whose own forget
split is relabelled "retain" -- in the concept study no fact is to be forgotten, and the
unlearning step takes every "forget" item as the forget set, so the stereotypes must be the only
ones. The retain set of an unlearning run is then the factual retain items.

    from polyunlearn.data.concept_data import concept_benchmark
    items = concept_benchmark("en,ja", n_facts=20)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from polyunlearn.core.languages import parse_langs
from polyunlearn.data.schema import DataError, QAItem, trainable


def concept_benchmark(languages: str | Sequence[str] | None = None, n_facts: int | None = None) -> list[QAItem]:
    """Bundled stereotypes (split "forget") + bundled facts (forget split relabelled "retain").

    `languages`: default the ten study-B languages (the stereotypes exist in those only).
    `n_facts`: keep the first n fact ids per language (all 100 by default) plus the general
    items, for quick runs.
    """
    from polyunlearn.data.stereotypes import STEREOTYPE_LANGUAGES, bundled_stereotypes

    langs = list(STEREOTYPE_LANGUAGES) if languages is None else parse_langs(languages, available=STEREOTYPE_LANGUAGES)
    return bundled_stereotypes(langs) + bundled_facts(langs, n_facts)


def bundled_facts(languages: Sequence[str], n_facts: int | None = None) -> list[QAItem]:
    """The bundled facts of the concept task in `languages`: the trainable bundled benchmark with
    its forget split relabelled "retain" (no fact is forgotten here), the first `n_facts` ids."""
    from polyunlearn.data.fictitious import bundled_benchmark

    facts = trainable(bundled_benchmark(list(languages)))  # no membership attack in this task
    if n_facts is not None:
        keep = {f"fact-{k:03d}" for k in range(n_facts)}
        facts = [it for it in facts if it.split == "general" or it.id in keep]
    return [replace(it, split="retain") if it.split == "forget" else it for it in facts]


def check_concept_items(items: Sequence[QAItem], source: str) -> list[QAItem]:
    """`items` (of the `--data` spec `source`) as concept-task items: there must be stereotype
    items (split "forget") and every one needs alternatives, or it has no biased-answer rate."""
    stereo = [it for it in items if it.split == "forget"]
    if not stereo:
        raise DataError(f"{source}: no items with split 'forget' (the stereotype items) for the concept task")
    for it in stereo:
        if not it.perturbed_answer:
            raise DataError(
                f"{source}: stereotype item {it.id!r} ({it.language}) has no perturbed_answer (the non-stereotyped alternatives)"
            )
    from polyunlearn.data.seegull_mcq import mcq_layout

    kinds = {mcq_layout(it) is not None for it in stereo}
    if len(kinds) > 1:  # two metrics (biased-answer rate vs the 5-option MCQ rates) cannot share one table
        raise DataError(
            f"{source}: the concept items mix SeeGULL multiple-choice items with other stereotype items; use one kind per run"
        )
    return list(items)
