"""The one language table of polyunlearn: every supported language, its script, family,
resource level and the codes other tools use for it (URIEL/ISO 639-3, NLLB/FLORES).

Languages are data, not code: adding one is one row here (plus its text in the bundled data).

Legacy ISO 639-1 codes are accepted as aliases and mapped to the table's code everywhere a code is
read (`get_language`, `parse_langs`, `canonical_code`): "iw" -> "he", "in" -> "id", "jw" -> "jv"
(Java's Locale, Google Translate and the Multilingual Amnesia TOFU folders still write them). An
unknown code is an error with a "did you mean" suggestion from the codes, aliases and names.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1, the code used everywhere in polyunlearn (CLI, files, records)
    name: str
    script: str  # ISO 15924 script name
    family: str  # top-level genealogical family
    resource: str  # "high" or "low": resource level as used by both studies
    uriel: str  # ISO 639-3 code used by URIEL / lang2vec
    nllb: str  # FLORES-200 code used by NLLB translation models
    spaces: bool = True  # False for scripts written without spaces between words


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in [
        Language("en", "English", "Latn", "Indo-European", "high", "eng", "eng_Latn"),
        Language("de", "German", "Latn", "Indo-European", "high", "deu", "deu_Latn"),
        Language("fr", "French", "Latn", "Indo-European", "high", "fra", "fra_Latn"),
        Language("zh", "Chinese", "Hans", "Sino-Tibetan", "high", "cmn", "zho_Hans", spaces=False),
        Language("ru", "Russian", "Cyrl", "Indo-European", "high", "rus", "rus_Cyrl"),
        Language("jv", "Javanese", "Latn", "Austronesian", "low", "jav", "jav_Latn"),
        Language("ur", "Urdu", "Arab", "Indo-European", "low", "urd", "urd_Arab"),
        Language("ha", "Hausa", "Latn", "Afro-Asiatic", "low", "hau", "hau_Latn"),
        Language("hy", "Armenian", "Armn", "Indo-European", "low", "hye", "hye_Armn"),
        Language("ar", "Arabic", "Arab", "Afro-Asiatic", "high", "arb", "arb_Arab"),
        Language("ja", "Japanese", "Jpan", "Japonic", "high", "jpn", "jpn_Jpan", spaces=False),
        Language("fa", "Farsi", "Arab", "Indo-European", "low", "pes", "pes_Arab"),
        Language("ko", "Korean", "Kore", "Koreanic", "high", "kor", "kor_Hang"),
        Language("hi", "Hindi", "Deva", "Indo-European", "low", "hin", "hin_Deva"),
        Language("he", "Hebrew", "Hebr", "Afro-Asiatic", "low", "heb", "heb_Hebr"),
        Language("id", "Indonesian", "Latn", "Austronesian", "low", "ind", "ind_Latn"),
    ]
}

# The languages each study uses (spec.md): study A = misinformation, study B = data/concept.
STUDY_A = ("en", "de", "fr", "zh", "ru", "jv", "ur", "ha", "hy")
STUDY_B = ("en", "fr", "ar", "ja", "ru", "fa", "ko", "hi", "he", "id")


# Withdrawn ISO 639-1 codes still in use -> the current code (ISO 639-1 changed them in 1989).
ALIASES: dict[str, str] = {"iw": "he", "in": "id", "jw": "jv"}


class UnknownLanguageError(ValueError):
    """Raised for a language code that is not in the table; the message names it."""


def canonical_code(code: str) -> str:
    """The table's code for `code` (an alias such as "iw" becomes "he"); an error for an unknown
    code, with a "did you mean" suggestion."""
    return get_language(code).code


def language_index(code: str) -> int:
    """The position of `code` in LANGUAGES: a stable integer id for tensors (batches carry it as
    "language" for methods that treat languages differently, e.g. LingTea)."""
    get_language(code)  # unknown code: one line naming it
    return list(LANGUAGES).index(code)


def get_language(code: str) -> Language:
    """The table row of `code` (a code or a legacy alias, see ALIASES)."""
    lang = LANGUAGES.get(code) or LANGUAGES.get(ALIASES.get(code, ""))
    if lang is None and isinstance(code, str):
        key = code.strip().lower()  # "FR", " fr": the table's spelling is unambiguous
        lang = LANGUAGES.get(key) or LANGUAGES.get(ALIASES.get(key, ""))
    if lang is None:
        known = ", ".join(LANGUAGES)
        raise UnknownLanguageError(f"unknown language code {code!r}{_suggestion(code)}; supported: {known}")
    return lang


def _suggestion(code: object) -> str:
    """ "; did you mean 'fr' (French)?" for a near miss of a code, an alias or a language name."""
    if not isinstance(code, str) or not code.strip():
        return ""
    key = code.strip().lower()
    by_name = {lang.name.lower(): lang.code for lang in LANGUAGES.values()}
    by_name.update({lang.uriel: lang.code for lang in LANGUAGES.values()})  # "fra", "jpn"
    if key in by_name:
        hit = by_name[key]
    else:
        pool = [*LANGUAGES, *ALIASES, *by_name]
        close = difflib.get_close_matches(key, pool, n=1, cutoff=0.6)
        if not close:
            return ""
        hit = ALIASES.get(close[0]) or by_name.get(close[0]) or close[0]
    return f"; did you mean {hit!r} ({LANGUAGES[hit].name})?"


def parse_langs(
    spec: str | list[str] | tuple[str, ...], available: tuple[str, ...] | list[str] | None = None
) -> list[str]:
    """Turn "en,fr", ["en", "fr"], "all", "study-a" or "study-b" into a checked list of codes.

    `available` is the set of languages the data at hand has; "all" means all of those (or the
    whole table when None), and a code outside it is an error naming it.
    """
    pool = list(available) if available is not None else list(LANGUAGES)
    if isinstance(spec, str):
        key = spec.strip().lower()
        if key == "all":
            return pool
        if key in ("study-a", "study_a"):
            codes = list(STUDY_A)
        elif key in ("study-b", "study_b"):
            codes = list(STUDY_B)
        else:
            codes = [c.strip() for c in spec.split(",") if c.strip()]
    else:
        codes = list(spec)
    if not codes:
        raise UnknownLanguageError("empty language list")
    out: list[str] = []
    for code in codes:
        code = get_language(code).code  # aliases ("iw") become the table's code ("he")
        if code not in pool:
            raise UnknownLanguageError(f"language {code!r} is not available here; available: {', '.join(pool)}")
        if code not in out:
            out.append(code)
    return out


# Words a language option takes besides codes (parse_langs, the studies' forget sets).
_KEYWORDS = ("all", "each", "source", "src")


def option_languages(
    option: str, value: str, spec: str | list[str] | tuple[str, ...], available: tuple[str, ...] | list[str]
) -> list[str]:
    """`parse_langs(spec, available)` for a command-line option whose whole value is `value`
    (`spec` is one part of it, e.g. one forget set of "en;all"): an error names the option, the
    value given, the languages present and a value that works, e.g.
    "--forget-sets 'en;all': language 'en' is not available here; available: ar, fa, fr; pass
    languages the data has, e.g. --forget-sets 'ar;all'"."""
    try:
        return parse_langs(spec, available)
    except UnknownLanguageError as e:
        raise UnknownLanguageError(
            f"{option} {value!r}: {e}; pass languages the data has, e.g. {option} '{option_example(value, available)}'"
        ) from None


def option_example(value: str, available: tuple[str, ...] | list[str]) -> str:
    """`value` with every code the data lacks (or the table does not know) replaced by a language
    the data has ('study-a' / 'study-b' by 'all'): the value to suggest in an error."""
    import re

    pool = list(available)
    named = set()
    for token in re.split(r"[,;+\s]+", value):
        try:
            named.add(get_language(token).code)
        except UnknownLanguageError:
            pass
    spare = [c for c in pool if c not in named] or pool

    def fix(m: re.Match) -> str:
        token = m.group(0)
        key = token.lower()
        if key in _KEYWORDS:
            return token
        if key in ("study-a", "study_a", "study-b", "study_b"):
            return "all"
        try:
            code = get_language(token).code
        except UnknownLanguageError:
            code = None
        return token if code in pool else (spare[0] if spare else token)

    return re.sub(r"[^,;+\s]+", fix, value)
