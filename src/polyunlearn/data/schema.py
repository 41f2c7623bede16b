"""The QA item every polyunlearn benchmark is made of (the TOFU format plus `id`, `language`,
`split`), and its validation. Loaders for files and hubs live in `polyunlearn.data.loaders`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from polyunlearn.core.languages import get_language

# "holdout": items in the forget set's style that no model is ever trained on, the
# non-members of the membership-inference AUC (forget vs holdout).
# "forget_train" / "retain_train": training-only copies of the forget / retain facts, trained on
# (learn, the unlearning step) but never evaluated, for data whose authors train on one set and
# evaluate on another: TOFU trains on forget01 + retain99 and evaluates forget01_perturbed +
# retain_perturbed (in the Multilingual Amnesia translations two different translations of the
# same questions). "forget" / "retain" stay the evaluated splits.
# General-knowledge sets (Model Utility adds each one's normalized prob, ROUGE and Truth Ratio):
# "general" is the bundled benchmark's one set of real-world facts; "real_authors" and
# "world_facts" are TOFU's two sets, kept apart as TOFU and open-unlearning keep them.
GENERAL_SPLITS = ("real_authors", "world_facts", "general")
SPLITS = ("forget", "retain", "general", "holdout", "real_authors", "world_facts", "forget_train", "retain_train")
# Training-only split -> the evaluated split it stands in for during training.
TRAIN_SPLITS: dict[str, str] = {"forget_train": "forget", "retain_train": "retain"}
REQUIRED = ("question", "answer")
# Spec: on the forget and retain sets (and the holdout, built like forget) the "correct" answer of
# the truth ratio is the paraphrase; general-knowledge sets without one (TOFU's real authors and
# world facts) compare the answer itself, as TOFU does.
PARAPHRASE_SPLITS = ("forget", "retain", "holdout")


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
    """The items any model may be trained on.

    By default all but the holdout split. A language whose data has training-only splits
    (TRAIN_SPLITS, e.g. TOFU's forget01 + retain99) follows that protocol instead: it trains on
    them, on a forget/retain split only where it has no training copy of it, and never on its
    general or holdout items (TOFU never trains on real_authors / world_facts)."""
    present = {(it.language, it.split) for it in items}
    protocol = {lang for lang, split in present if split in TRAIN_SPLITS}
    out: list[QAItem] = []
    for it in items:
        if it.split == "holdout":
            continue
        replaced = it.split not in TRAIN_SPLITS.values() or (it.language, f"{it.split}_train") in present
        if it.language in protocol and it.split not in TRAIN_SPLITS and replaced:
            continue  # general, or a forget/retain split that has its training copy
        out.append(it)
    return out


def training_split(items: Sequence[QAItem], split: str, language: str) -> str:
    """The split that trains `split` ("forget" or "retain") in `language`: its training-only copy
    ("forget_train") when the data has one in that language, else `split` itself."""
    copy = f"{split}_train"
    return copy if any(it.split == copy and it.language == language for it in items) else split


def evaluated(items: Sequence[QAItem]) -> list[QAItem]:
    """The items evaluation scores: all but the training-only splits."""
    return [it for it in items if it.split not in TRAIN_SPLITS]


def item_from_dict(
    row: dict[str, Any], where: str = "row", language: str | None = None, split: str | None = None
) -> QAItem:
    """Build a checked QAItem from a mapping; `where` names the row in error messages."""
    for name in REQUIRED:
        value = row.get(name)
        if not isinstance(value, str) or not value.strip():
            raise DataError(f"{where}: missing or empty field {name!r}")
    lang = row.get("language") or language
    if not lang:
        raise DataError(f"{where}: missing field 'language' (pass a language for files without that column)")
    try:
        lang = get_language(str(lang)).code  # a legacy alias ("iw") becomes the table's code ("he")
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


# ----------------------------------------------------------------------------- skipped rows


@dataclass(frozen=True)
class SkippedRow:
    """A source row left out of the data, and why; `where` names the file and line/row."""

    where: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"where": self.where, "reason": self.reason}


class SkippedRowsWarning(UserWarning):
    """Rows of a data source were skipped (an empty required field); the message names them."""


def skip_row(where: str, reason: str, strict: bool, skipped: list[SkippedRow]) -> None:
    """Record a row that cannot be used, or (strict mode) raise a DataError naming it."""
    if strict:
        raise DataError(f"{where}: {reason}")
    skipped.append(SkippedRow(where, reason))


def describe_skipped(rows: Sequence[SkippedRow], show: int = 5) -> str:
    """One line: "3 rows skipped: f.csv: line 5 (empty field 'answer'), ... (and 1 more)"."""
    shown = ", ".join(f"{r.where} ({r.reason})" for r in rows[:show])
    more = f" (and {len(rows) - show} more)" if len(rows) > show else ""
    return f"{len(rows)} row{'s' if len(rows) != 1 else ''} skipped: {shown}{more}"


def report_skipped(rows: list[SkippedRow], sink: list[SkippedRow] | None) -> None:
    """Hand skipped rows to the caller's `sink`, or warn (SkippedRowsWarning) when it gave none:
    a skipped row is never silent."""
    if sink is not None:
        sink.extend(rows)
    elif rows:
        import warnings

        warnings.warn(describe_skipped(rows), SkippedRowsWarning, stacklevel=3)
