"""One string -> QA items: what the CLI's `--data` option accepts, in one place.

    from polyunlearn.data.resolve import resolve_data
    items = resolve_data("bundled", "en,fr")            # bundled fictitious-facts benchmark
    items = resolve_data("tofu:forget10")               # TOFU from the hub (locuslab/TOFU, English)
    items = resolve_data("tofu:data/tofu_fr:forget05:fr")   # a local TOFU folder (e.g. a translation)
    items = resolve_data("tofu:amnesia/:forget01")      # Multilingual Amnesia <config>_<lang>/ folders
    items = resolve_data("tofu:forget01 + tofu:amnesia/:forget01")   # English from the hub + the rest
    items = resolve_data("seegull-mcq:mcq/")            # SeeGULL multiple choice, every language
    items = resolve_data("runs/bench.jsonl", "all")     # any file / hub id load_items reads

Syntax (DATA_HELP says it in one line for command help):
- `bundled`: the bundled fictitious-facts benchmark (data/fictitious.py).
- `concept`: the bundled stereotypes (split forget) + facts of the concept study
  (data/concept_data.py; study-B languages).
- `tofu:FORGET[:LANG]`: TOFU from the hub (English); FORGET is forget01, forget05 or forget10
  (or 1, 5, 10). `tofu:DIR:FORGET[:LANG]`: a local folder, either in TOFU's own layout (one file
  per config; files without a `language` column need LANG, never labelled English) or in the
  Multilingual Amnesia layout (`<config>_<lang>/` save_to_disk folders, `iw` read as he). LANG
  means the same in both layouts: only that language is loaded (the `<config>_LANG` folders; the
  rows of LANG, files without a language column being LANG), a language the folder lacks is an
  error naming those it has; without LANG every language there is loaded. An unknown LANG is an
  error with a "did you mean". `tofu:DIR` alone means forget10. Splits: data/tofu.py (CONFIG_SPLIT).
- `seegull:PATH[:LANG]`: a SeeGULL CSV as stereotype items (data/stereotypes.load_seegull); the
  language from LANG, else the file name's "(xx)", else an error.
- `seegull-mcq:PATH[:LANG]`: the SeeGULL multiple-choice files of arXiv 2601.05641
  (data/seegull_mcq.py): one `mcq_stereotype_dataset_<lang>.csv`, or a folder of them (every
  language); as QA items of split forget whose question is the lettered 5-option prompt.
- anything else: `data.loaders.load_items` (a local .jsonl/.json/.csv/.parquet/.arrow file, a
  save_to_disk folder, or a Hugging Face dataset id in the TOFU schema).
- `A + B`: several specs combined in one run (a plus sign with a space on each side, so it never
  clashes with a path or a hub id, which have no " + "); an (id, language) in two parts is an error.

Rows with an empty required field are skipped and reported (`skipped`, else a warning naming
each line); `strict=True` makes them errors, and so does POLYUNLEARN_STRICT_DATA=1 in the
environment, for every caller of `resolve_data` (every command; `polyunlearn data SPEC --strict`
for one run).

`langs` keeps only those languages ("en,fr", "all", "study-b"; legacy codes such as iw accepted);
a code the data does not have is an error naming it, never an empty benchmark.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from polyunlearn.core.languages import UnknownLanguageError, get_language, parse_langs
from polyunlearn.data.schema import DataError, QAItem, SkippedRow, report_skipped

SEPARATOR = " + "
STRICT_ENV = "POLYUNLEARN_STRICT_DATA"
DATA_HELP = (
    "'bundled'; 'concept' (stereotypes + facts); 'tofu:FORGET' (hub, English, e.g. tofu:forget10) or 'tofu:DIR:FORGET[:LANG]' "
    "(a local TOFU folder, or Multilingual Amnesia <config>_<lang>/ folders: every language in it); 'seegull:CSV[:LANG]'; "
    "'seegull-mcq:CSV_OR_DIR[:LANG]'; a local JSONL/JSON/CSV/Parquet/Arrow file or save_to_disk folder; a HF dataset id (TOFU schema); "
    "combine several with ' + ' (spaces around +). Rows with an empty field are skipped with a warning (POLYUNLEARN_STRICT_DATA=1: an error)."
)


def resolve_data(
    data: str,
    langs: str | Sequence[str] | None = None,
    *,
    strict: bool = False,
    skipped: list[SkippedRow] | None = None,
) -> list[QAItem]:
    """The items `data` names (syntax in the module docstring), restricted to `langs`;
    `strict` (or POLYUNLEARN_STRICT_DATA=1): a row with an empty required field is an error."""
    strict = strict or strict_from_env()
    parts = split_specs(data)
    mine: list[SkippedRow] = []
    if len(parts) == 1:
        items = _resolve_one(parts[0], langs, strict, mine)
    else:
        items, origin = [], {}
        for part in parts:
            for it in _resolve_one(part, None, strict, mine):
                if it.key in origin:
                    raise DataError(
                        f"id {it.id!r} ({it.language}) is in both {origin[it.key]!r} and {part!r}; combined specs must not overlap"
                    )
                origin[it.key] = part
                items.append(it)
    report_skipped(mine, skipped)
    if not items:
        raise DataError(f"{data}: no items (an empty file?)")
    return filter_languages(items, langs)


def strict_from_env() -> bool:
    """POLYUNLEARN_STRICT_DATA=1: every data source is read strictly (a bad row is an error)."""
    return os.environ.get(STRICT_ENV, "").strip() == "1"


def split_specs(data: str) -> list[str]:
    """The parts of a combined spec ("A + B" -> ["A", "B"]); an empty part is an error."""
    parts = [p.strip() for p in data.split(SEPARATOR)]
    if any(not p for p in parts):
        raise DataError(f"empty part in data spec {data!r}; combine specs as 'A + B'")
    return parts


def _resolve_one(data: str, langs: str | Sequence[str] | None, strict: bool, skipped: list[SkippedRow]) -> list[QAItem]:
    if data == "bundled":
        from polyunlearn.data.fictitious import bundled_benchmark

        # Bundled data is built per language, so unknown codes fail here with the table's message.
        return bundled_benchmark(parse_langs(langs) if langs else None)
    if data == "concept":
        from polyunlearn.data.concept_data import concept_benchmark

        return concept_benchmark(langs or None)
    scheme, sep, rest = data.partition(":")
    scheme = scheme.lower() if sep else ""
    if scheme == "tofu":
        return _tofu(rest, strict, skipped)
    if scheme == "seegull":
        return _seegull(rest, strict, skipped)
    if scheme == "seegull-mcq":
        from polyunlearn.data.seegull_mcq import load_mcq_items

        path, lang = _path_and_language(rest, "seegull-mcq")
        return load_mcq_items(path, language=lang, strict=strict, skipped=skipped)
    from polyunlearn.data.loaders import load_items

    try:
        return load_items(data, strict=strict, skipped=skipped)
    except DataError as e:
        if "+" in data and str(e).startswith("file not found"):
            raise DataError(f"{e} (to combine specs, separate them with ' + ', a space on each side)") from None
        raise


def filter_languages(items: Sequence[QAItem], langs: str | Sequence[str] | None) -> list[QAItem]:
    """Items in `langs` (all when None); `langs` is checked against the languages present."""
    if not langs:
        return list(items)
    available = list(dict.fromkeys(it.language for it in items))
    keep = set(parse_langs(langs, available))
    return [it for it in items if it.language in keep]


def parse_tofu_spec(rest: str) -> tuple[str | None, str, str | None]:
    """The part after "tofu:" -> (local folder or None for the hub, forget set, language).

    "forget10" -> (None, "forget10", "en") (the hub set is English); "DIR:forget05:fr" ->
    ("DIR", "forget05", "fr"); "DIR" -> ("DIR", "forget10", None): a local folder's language
    comes from its files or folder names, never from a default. Split from the right, so a
    folder may contain ':'. A legacy code (iw) is accepted as the table's code (he); anything
    after a forget set that is no language code ("DIR:forget01:xx") is an error with a "did you
    mean", not a folder name.
    """
    if not rest.strip():
        raise DataError("empty TOFU spec; use tofu:forget10 (hub) or tofu:DIR:forget10 (local folder)")
    parts = rest.split(":")
    language = None
    if len(parts) >= 2 and _is_forget(parts[-2]) and not _is_forget(parts[-1]):
        # After a forget set only a language may follow: an unknown code is said as one, never
        # read as part of a folder name ("TOFU source folder not found").
        try:
            language = get_language(parts.pop()).code
        except UnknownLanguageError as e:
            raise DataError(f"tofu:{rest}: language suffix: {e}") from None
    forget = _normalize_forget(parts.pop()) if _is_forget(parts[-1]) else "forget10"
    folder = ":".join(parts) or None
    if folder is None and language is None:
        language = "en"
    return folder, forget, language


def _language_code(s: str) -> str | None:
    try:
        return get_language(s).code
    except UnknownLanguageError:
        return None


def _normalize_forget(s: str) -> str:
    from polyunlearn.data.tofu import normalize_forget

    return normalize_forget(s)


def _is_forget(s: str) -> bool:
    try:
        _normalize_forget(s)
    except DataError:
        return False
    return True


def _tofu(rest: str, strict: bool, skipped: list[SkippedRow]) -> list[QAItem]:
    from polyunlearn.data.tofu import TOFU_HF_ID, amnesia_layout, load_tofu, load_tofu_folders

    folder, forget, language = parse_tofu_spec(rest)
    path = Path(folder).expanduser() if folder else None
    if path is not None and path.is_dir() and amnesia_layout(path):
        langs = [language] if language else None
        return load_tofu_folders(path, forget, strict=strict, skipped=skipped, languages=langs)
    items = load_tofu(forget, language=language, source=folder or TOFU_HF_ID, strict=strict, skipped=skipped)
    if folder is None or language is None:
        return items  # the hub is English, labelled as LANG says; no LANG: every language there
    # TOFU's own layout: files with a language column may hold other languages; LANG keeps its own.
    mine = [it for it in items if it.language == language]
    if not mine:
        have = ", ".join(dict.fromkeys(it.language for it in items))
        raise DataError(f"tofu:{rest}: no rows in language {language!r}; languages here: {have}")
    return mine


def _path_and_language(rest: str, scheme: str) -> tuple[str, str | None]:
    """ "PATH:LANG" -> (PATH, LANG) when the last part is a language code, else (rest, None)."""
    path, sep, lang = rest.rpartition(":")
    if not (sep and _language_code(lang)):  # no trailing language: the whole rest is the path
        path, lang = rest, None
    if not path:
        raise DataError(f"empty {scheme} spec; use {scheme}:PATH or {scheme}:PATH:LANG")
    return path, _language_code(lang) if lang else None


def _seegull(rest: str, strict: bool, skipped: list[SkippedRow]) -> list[QAItem]:
    from polyunlearn.data.stereotypes import load_seegull

    path, lang = _path_and_language(rest, "seegull")
    return load_seegull(path, language=lang, strict=strict, skipped=skipped)
