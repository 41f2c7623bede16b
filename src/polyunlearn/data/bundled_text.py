"""Reader of the bundled multilingual text, which is package data (`polyunlearn/data/text/`), not
Python literals: one JSON file per language per data set plus one `shared.json` per data set for
the language-independent tables (syllables, vocabulary keys, template slots).

    from polyunlearn.data.bundled_text import read_shared, read_languages
    shared = read_shared("fictitious")                   # text/fictitious/shared.json
    text = read_languages("fictitious", shared["languages"])   # {"en": {...}, "de": {...}, ...}

Data sets: "fictitious" (data/fictitious.py), "news" (data/news.py), "stereotypes", "mcq"
(data/stereotypes.py, data/seegull_mcq.py); `text/README.md` describes each file's fields and the linguistic choices
behind the templates. Keys starting with "_" (`_about`, `_notes`) are documentation for
translators and are removed here, so no generator ever sees them.

Files are read through importlib.resources, so they are found in a wheel, a zip or an editable
install alike; each file is read once per process.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

from polyunlearn.data.schema import DataError

DATASETS = ("fictitious", "news", "stereotypes", "mcq", "probes")


@cache
def _read(dataset: str, name: str) -> str:
    if dataset not in DATASETS:
        raise ValueError(f"unknown bundled text data set {dataset!r}; expected one of {', '.join(DATASETS)}")
    path = resources.files("polyunlearn.data").joinpath("text", dataset, f"{name}.json")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"bundled text file text/{dataset}/{name}.json is missing from the package") from None


def read_table(dataset: str, name: str) -> dict[str, Any]:
    """One file of `dataset` (`name` is "shared" or a language code) without its "_" keys.

    A fresh object each call (parsed from the cached text), so a caller that mutates it cannot
    change what the next caller reads.
    """
    try:
        data = json.loads(_read(dataset, name))
    except json.JSONDecodeError as e:
        raise DataError(
            f"bundled text file text/{dataset}/{name}.json: invalid JSON at line {e.lineno}: {e.msg}"
        ) from None
    if not isinstance(data, dict):
        raise DataError(f"bundled text file text/{dataset}/{name}.json: expected a JSON object")
    return {k: v for k, v in data.items() if not k.startswith("_")}


def read_shared(dataset: str) -> dict[str, Any]:
    """The language-independent tables of `dataset` (text/<dataset>/shared.json)."""
    return read_table(dataset, "shared")


def read_languages(dataset: str, languages: Iterable[str]) -> dict[str, dict[str, Any]]:
    """{code: that language's file} for `languages`, in the order given."""
    return {code: read_table(dataset, code) for code in languages}


def language_files(dataset: str) -> list[str]:
    """The language codes that have a file in text/<dataset>/ (sorted), for packaging checks."""
    folder = resources.files("polyunlearn.data").joinpath("text", dataset)
    names = [p.name for p in folder.iterdir() if p.name.endswith(".json")]
    return sorted(n.removesuffix(".json") for n in names if n != "shared.json")
