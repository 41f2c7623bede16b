"""The text of the prompt probes (`polyunlearn attack`), one package-data file per language
(text/probes/<lang>.json, all 16 languages of core/languages.py):

    from polyunlearn.data.probe_text import affirmative_prefix, answer_in
    affirmative_prefix("fr")        # 'Bien sûr, voici la réponse :'
    answer_in("ja", "fr")           # 'フランス語で答えてください。'  (asked in Japanese, answer in French)
"""

from __future__ import annotations

from polyunlearn.core.languages import get_language
from polyunlearn.data.bundled_text import read_shared, read_table
from polyunlearn.data.schema import DataError


def _table(language: str) -> dict:
    code = get_language(language).code
    table = read_table("probes", code)
    for key in ("affirmative_prefix", "answer_in", "language_names"):
        if not table.get(key):
            raise DataError(f"bundled text file text/probes/{code}.json: missing {key!r}")
    return table


def affirmative_prefix(language: str) -> str:
    """'Sure, here is the answer:' written in `language` (forced before the answer)."""
    return _table(language)["affirmative_prefix"]


def answer_in(question_language: str, answer_language: str) -> str:
    """The instruction, in `question_language`'s words, to answer in `answer_language`."""
    table = _table(question_language)
    target = get_language(answer_language).code
    names = table["language_names"]
    if target not in names:
        raise DataError(
            f"bundled text file text/probes/{get_language(question_language).code}.json: no name for {target!r}"
        )
    return table["answer_in"].format(language=names[target])


def probe_text_languages() -> list[str]:
    """The languages that have probe text (text/probes/shared.json: all of the language table)."""
    return list(read_shared("probes")["languages"])
