"""One string -> QA items: what the CLI's `--data` option accepts, in one place.

    from polyunlearn.data.resolve import resolve_data
    items = resolve_data("bundled", "en,fr")            # bundled fictitious-facts benchmark
    items = resolve_data("tofu:forget10")               # TOFU from the hub (locuslab/TOFU)
    items = resolve_data("tofu:data/tofu_fr:forget05")  # a local TOFU folder (e.g. a translation)
    items = resolve_data("seegull:stereotypes.csv")     # SeeGULL rows as stereotype items
    items = resolve_data("runs/bench.jsonl", "all")     # any file / hub id load_items reads

Syntax (DATA_HELP says it in one line for command help):
- `bundled`: the bundled fictitious-facts benchmark (data/fictitious.py).
- `concept`: the bundled stereotypes (split forget) + facts of the concept study
  (data/concept_data.py; study-B languages).
- `tofu:FORGET[:LANG]`: TOFU from the hub; FORGET is forget01, forget05 or forget10 (or 1, 5,
  10). `tofu:DIR:FORGET[:LANG]`: a local folder with one file per TOFU config (data/tofu.py),
  which is how a translated TOFU plugs in; a `language` column in its files wins, LANG (default
  en) names the language of files without one. `tofu:DIR` alone means forget10.
- `seegull:PATH[:LANG]`: a SeeGULL CSV (data/stereotypes.load_seegull); the language comes
  from LANG, else the file name's "(xx)", else en.
- anything else: `data.loaders.load_items` (a local .jsonl/.json/.csv/.parquet file, or a
  Hugging Face dataset id in the TOFU schema).

`langs` keeps only those languages ("en,fr", "all", "study-b"); a code the data does not have
is an error naming it, never an empty benchmark.
"""
from __future__ import annotations

from collections.abc import Sequence

from polyunlearn.data.schema import DataError, QAItem
from polyunlearn.core.languages import LANGUAGES, parse_langs

DATA_HELP = (
    "'bundled'; 'concept' (stereotypes + facts); 'tofu:FORGET' (hub, e.g. tofu:forget10) or 'tofu:DIR:FORGET[:LANG]' (local TOFU folder, "
    "e.g. a translation); 'seegull:CSV[:LANG]'; a local JSONL/JSON/CSV/Parquet file; or a HF dataset id (TOFU schema)."
)


def resolve_data(data: str, langs: str | Sequence[str] | None = None) -> list[QAItem]:
    """The items `data` names (syntax in the module docstring), restricted to `langs`."""
    data = data.strip()
    if data == "bundled":
        from polyunlearn.data.fictitious import bundled_benchmark

        # Bundled data is built per language, so unknown codes fail here with the table's message.
        return bundled_benchmark(parse_langs(langs) if langs else None)
    if data == "concept":
        from polyunlearn.data.concept_data import concept_benchmark

        return concept_benchmark(langs or None)
    scheme, sep, rest = data.partition(":")
    if sep and scheme.lower() == "tofu":
        items = _tofu(rest)
    elif sep and scheme.lower() == "seegull":
        items = _seegull(rest)
    else:
        from polyunlearn.data.loaders import load_items

        items = load_items(data)
    if not items:
        raise DataError(f"{data}: no items (an empty file?)")
    return filter_languages(items, langs)


def filter_languages(items: Sequence[QAItem], langs: str | Sequence[str] | None) -> list[QAItem]:
    """Items in `langs` (all when None); `langs` is checked against the languages present."""
    if not langs:
        return list(items)
    available = list(dict.fromkeys(it.language for it in items))
    keep = set(parse_langs(langs, available))
    return [it for it in items if it.language in keep]


def parse_tofu_spec(rest: str) -> tuple[str | None, str, str]:
    """The part after "tofu:" -> (local folder or None for the hub, forget set, language).

    "forget10" -> (None, "forget10", "en"); "DIR:forget05:fr" -> ("DIR", "forget05", "fr");
    "DIR" -> ("DIR", "forget10", "en"). Split from the right, so a folder may contain ':'.
    """
    from polyunlearn.data.tofu import normalize_forget

    if not rest.strip():
        raise DataError("empty TOFU spec; use tofu:forget10 (hub) or tofu:DIR:forget10 (local folder)")
    parts = rest.split(":")
    language = "en"
    if len(parts) >= 2 and parts[-1] in LANGUAGES and _is_forget(parts[-2]):
        language = parts.pop()
    if _is_forget(parts[-1]):
        forget = normalize_forget(parts.pop())
    else:
        forget = "forget10"
    folder = ":".join(parts) or None
    return folder, forget, language


def _is_forget(s: str) -> bool:
    from polyunlearn.data.tofu import normalize_forget

    try:
        normalize_forget(s)
    except DataError:
        return False
    return True


def _tofu(rest: str) -> list[QAItem]:
    from polyunlearn.data.tofu import TOFU_HF_ID, load_tofu

    folder, forget, language = parse_tofu_spec(rest)
    return load_tofu(forget, language=language, source=folder or TOFU_HF_ID)


def _seegull(rest: str) -> list[QAItem]:
    from polyunlearn.data.stereotypes import load_seegull

    path, sep, lang = rest.rpartition(":")
    if not (sep and lang in LANGUAGES):  # no trailing language: the whole rest is the path
        path, lang = rest, None
    if not path:
        raise DataError("empty SeeGULL spec; use seegull:PATH.csv or seegull:PATH.csv:LANG")
    return load_seegull(path, language=lang)
