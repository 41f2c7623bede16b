"""What a data spec loads, as numbers a person checks before spending GPU hours (`polyunlearn
data SPEC`): items per language and split, ids shared by every language, optional fields missing,
rows skipped and why, SeeGULL multiple-choice rows that repeat an option.

    from polyunlearn.data.describe import describe_items
    report = describe_items(items, skipped)
    report["shared_ids"]["forget"]       # forget ids present in every language of the data
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from polyunlearn.data.schema import PARAPHRASE_SPLITS, SPLITS, TRAIN_SPLITS, QAItem, SkippedRow

# Optional fields of the Truth Ratio: perturbed_answer everywhere; paraphrased_answer on the
# forget / retain / holdout splits (general-knowledge splits compare the answer itself, as TOFU).
OPTIONAL_FIELDS = ("paraphrased_answer", "perturbed_answer")


def missing_effect(split: str, fields: Sequence[str]) -> str:
    """What the optional `fields` missing from some items of `split` cost, in words."""
    if "perturbed_answer" in fields:
        return "no Truth Ratio for those items (it needs perturbed_answer)"
    if split in PARAPHRASE_SPLITS:
        return "no Truth Ratio for those items (on this split it needs paraphrased_answer)"
    return "Truth Ratio compares the answer itself there, as TOFU does for its general-knowledge sets"


def describe_items(items: Sequence[QAItem], skipped: Sequence[SkippedRow] = ()) -> dict[str, Any]:
    """One JSON-ready object:
    - "languages": {code: {split: item count}} (languages in order of first appearance, splits
      in schema order);
    - "shared_ids": {split: number of ids of that split present in every language of the data}
      (a split some language lacks shares 0: transfer matrices need the same items everywhere);
    - "missing_optional": {code: {split: {field: items without it}}} (non-zero counts only;
      not for the training-only splits, which no metric reads);
    - "skipped": [{"where": file and line, "reason": ...}] for every row left out;
    - "repeated_options": {code: SeeGULL multiple-choice items two of whose options share a text}
      (non-zero counts only; kept, told apart by position: data/seegull_mcq.py).
    """
    from polyunlearn.data.seegull_mcq import repeated_option_counts

    languages = list(dict.fromkeys(it.language for it in items))
    splits = [s for s in SPLITS if any(it.split == s for it in items)]
    counts: dict[str, dict[str, int]] = {lang: {} for lang in languages}
    ids: dict[tuple[str, str], set[str]] = {}
    missing: dict[str, dict[str, dict[str, int]]] = {}
    for it in items:
        counts[it.language][it.split] = counts[it.language].get(it.split, 0) + 1
        ids.setdefault((it.split, it.language), set()).add(it.id)
        for name in OPTIONAL_FIELDS if it.split not in TRAIN_SPLITS else ():  # training copies are never scored
            if not getattr(it, name):
                per_split = missing.setdefault(it.language, {}).setdefault(it.split, {})
                per_split[name] = per_split.get(name, 0) + 1
    shared = {split: len(set.intersection(*(ids.get((split, lang), set()) for lang in languages))) for split in splits}
    return {
        "languages": {lang: {s: counts[lang][s] for s in splits if s in counts[lang]} for lang in languages},
        "shared_ids": shared,
        "missing_optional": missing,
        "skipped": [r.to_dict() for r in skipped],
        "repeated_options": repeated_option_counts(items),
    }
