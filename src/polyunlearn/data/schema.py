"""The QA item every polyunlearn benchmark is made of (the TOFU format plus `id`, `language`,
`split`), and its validation. Loaders for files and hubs live in `polyunlearn.data.loaders`."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from polyunlearn.core.languages import get_language

# "holdout": items in the forget set's style that no model is ever trained on, the
# non-members of the membership-inference AUC (forget vs holdout).
# General-knowledge sets (Model Utility adds each one's normalized prob, ROUGE and Truth Ratio):
# "general" is the bundled benchmark's one set of real-world facts; "real_authors" and
# "world_facts" are TOFU's two sets, kept apart as TOFU and open-unlearning keep them.
GENERAL_SPLITS = ("real_authors", "world_facts", "general")
SPLITS = ("forget", "retain", "general", "holdout", "real_authors", "world_facts")
REQUIRED = ("question", "answer")


class DataError(ValueError):
    """Bad benchmark data; the message names the file/row/field at fault."""


@dataclass
class QAItem:
    """One question in one language.

    `id` is shared by the same fact in every language (parallel data), so an item is identified
    by (id, language). `perturbed_answer` is a list of wrong answers in the answer's own style
    (TOFU's field name is kept so TOFU files load unchanged).
    """

    id: str
    language: str
    question: str
    answer: str
    paraphrased_answer: str = ""
    perturbed_answer: list[str] = field(default_factory=list)
    split: str = "retain"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def key(self) -> tuple[str, str]:
        return (self.id, self.language)


def trainable(items: Sequence[QAItem]) -> list[QAItem]:
    """The items any model may be trained on: all but the holdout split."""
    return [it for it in items if it.split != "holdout"]


def item_from_dict(row: dict[str, Any], where: str = "row", language: str | None = None, split: str | None = None) -> QAItem:
    """Build a checked QAItem from a mapping; `where` names the row in error messages."""
    for name in REQUIRED:
        value = row.get(name)
        if not isinstance(value, str) or not value.strip():
            raise DataError(f"{where}: missing or empty field {name!r}")
    lang = row.get("language") or language
    if not lang:
        raise DataError(f"{where}: missing field 'language' (pass a language for files without that column)")
    try:
        get_language(str(lang))
    except ValueError as e:
        raise DataError(f"{where}: field 'language': {e}") from None
    perturbed = row.get("perturbed_answer", row.get("perturbed_answers")) or []
    if isinstance(perturbed, str):
        perturbed = [perturbed]
    perturbed = [str(p) for p in list(perturbed)]
    sp = row.get("split") or split or "retain"
    if sp not in SPLITS:
        raise DataError(f"{where}: field 'split' is {sp!r}; expected one of {', '.join(SPLITS)}")
    item_id = row.get("id")
    if item_id is None or str(item_id) == "":
        raise DataError(f"{where}: missing field 'id' (parallel items share it across languages)")
    return QAItem(
        id=str(item_id),
        language=str(lang),
        question=row["question"].strip(),
        answer=row["answer"].strip(),
        paraphrased_answer=str(row.get("paraphrased_answer") or "").strip(),
        perturbed_answer=perturbed,
        split=sp,
    )
