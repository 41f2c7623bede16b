"""The one language table of polyunlearn: every supported language, its script, family,
resource level and the codes other tools use for it (URIEL/ISO 639-3, NLLB/FLORES).

Languages are data, not code: adding one is one row here (plus its text in the bundled data).
"""
from __future__ import annotations

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


class UnknownLanguageError(ValueError):
    """Raised for a language code that is not in the table; the message names it."""


def language_index(code: str) -> int:
    """The position of `code` in LANGUAGES: a stable integer id for tensors (batches carry it as
    "language" for methods that treat languages differently, e.g. LingTea)."""
    get_language(code)  # unknown code: one line naming it
    return list(LANGUAGES).index(code)


def get_language(code: str) -> Language:
    try:
        return LANGUAGES[code]
    except KeyError:
        known = ", ".join(LANGUAGES)
        raise UnknownLanguageError(f"unknown language code {code!r}; supported: {known}") from None


def parse_langs(spec: str | list[str] | tuple[str, ...], available: tuple[str, ...] | list[str] | None = None) -> list[str]:
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
        get_language(code)
        if code not in pool:
            raise UnknownLanguageError(f"language {code!r} is not available here; available: {', '.join(pool)}")
        if code not in out:
            out.append(code)
    return out
