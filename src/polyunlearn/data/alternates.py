"""Alternate answers for AltPO: one per forget item and language, passed beside the QA items (QAItem
itself is unchanged: the bundled data's hashes are pinned).

    from polyunlearn.data.alternates import load_alternates
    alternates = load_alternates("alternates.jsonl", items)   # {(id, language): alternate answer}
    alternates = load_alternates("bundled", items)            # the bundled benchmark's own

A file is JSONL, CSV, JSON or Parquet (data.loaders reads it) with the columns `id`, `language`
and `alternate`, one row per (id, language): the answer the model should give instead, in that
language (AltPO: a plausible other answer, not a refusal). "bundled" gives the alternates of the
bundled fictitious benchmark (data.fictitious.bundled_alternates), for the items whose question
is the bundled one. Every error names the file and the row, or the item without an alternate.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from polyunlearn.core.languages import get_language
from polyunlearn.data.loaders import read_file_records
from polyunlearn.data.schema import DataError, QAItem

Alternates = Mapping[tuple[str, str], str]
COLUMNS = ("id", "language", "alternate")
HELP = "alternate answers for altpo: 'bundled' (the bundled benchmark's) or a JSONL/CSV file with columns id, language, alternate"


def read_alternates(path: str | Path) -> dict[tuple[str, str], str]:
    """{(id, language): alternate} from a file; one line naming the file and row on bad input."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"alternate file not found: {path}")
    out: dict[tuple[str, str], str] = {}
    for where, _, row in read_file_records(path):
        for col in COLUMNS:
            value = row.get(col)
            if value is None or not str(value).strip():
                raise DataError(
                    f"{where}: missing or empty field {col!r} (an alternate file has columns {', '.join(COLUMNS)})"
                )
        key = (str(row["id"]).strip(), str(row["language"]).strip())
        try:
            get_language(key[1])
        except ValueError as e:
            raise DataError(f"{where}: field 'language': {e}") from None
        if key in out:
            raise DataError(f"{where}: a second alternate for id {key[0]!r} in language {key[1]!r}")
        out[key] = str(row["alternate"]).strip()
    if not out:
        raise DataError(f"{path}: no alternates (empty file)")
    return out


def bundled_for(items: Sequence[QAItem]) -> dict[tuple[str, str], str]:
    """The bundled benchmark's alternates for those of `items` that are bundled items (same id,
    language and question), so "bundled" never attaches an alternate to another data set's item."""
    from polyunlearn.data.fictitious import BUNDLED_LANGUAGES, bundled_alternates, bundled_benchmark

    langs = [lang for lang in dict.fromkeys(it.language for it in items) if lang in BUNDLED_LANGUAGES]
    questions = {it.key: it.question for it in bundled_benchmark(langs)} if langs else {}
    alternates = bundled_alternates(langs) if langs else {}
    return {it.key: alternates[it.key] for it in items if it.key in alternates and questions.get(it.key) == it.question}


def load_alternates(source: str, items: Sequence[QAItem]) -> dict[tuple[str, str], str]:
    """The alternates named by `source` ("bundled" or a file path; see the module docstring)."""
    if source.strip().lower() == "bundled":
        return bundled_for(items)
    return read_alternates(source)


def alternate_for(item: QAItem, alternates: Alternates) -> str:
    """The alternate answer of `item`, or a DataError naming the item."""
    alt = alternates.get(item.key)
    if alt is None:
        raise DataError(
            f"forget item {item.id!r} ({item.language}) has no alternate answer; add a row (id {item.id}, language {item.language}, alternate ...) to the alternate file"
        )
    return alt


def alternates_digest(forget: Sequence[QAItem], alternates: Alternates) -> str:
    """sha256 of the (id, language, alternate) triples of `forget`: what a run trains on, for its identity."""
    used = sorted((it.id, it.language, alternate_for(it, alternates)) for it in forget)
    return hashlib.sha256(json.dumps(used, ensure_ascii=False).encode("utf-8")).hexdigest()


def check_alternates(forget: Sequence[QAItem], alternates: Alternates | None, method: str = "altpo") -> None:
    """Every forget item has an alternate (checked before any model is loaded)."""
    if alternates is None:
        raise ValueError(
            f"{method} needs alternate answers: give --alternate FILE (JSONL/CSV with id, language, alternate) or --alternate bundled"
        )
    for it in forget:
        alternate_for(it, alternates)
