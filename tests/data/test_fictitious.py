"""Tests of the bundled fictitious-facts benchmark (polyunlearn.data.fictitious) and of the
"I don't know" answers (polyunlearn.data.idk): parallel ids and splits in all 16 languages,
TOFU fields, perturbed answers, scripts, determinism."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import unicodedata
from collections import defaultdict

import pytest

from polyunlearn.core.languages import LANGUAGES, UnknownLanguageError
from polyunlearn.data.fictitious import (
    BUNDLED_LANGUAGES,
    FACT_TYPES,
    bundled_benchmark,
    entity_names,
    forget_entities,
    holdout_entities,
)
from polyunlearn.data.idk import IDK_ANSWERS, idk_answer
from polyunlearn.data.schema import QAItem, item_from_dict

# Unicode-name prefixes allowed for the letters of each non-Latin language (digits and
# punctuation are not letters and are not checked).
SCRIPT_LETTERS = {
    "zh": ("CJK",),
    "ja": ("CJK", "KATAKANA", "HIRAGANA"),
    "ko": ("HANGUL",),
    "ru": ("CYRILLIC",),
    "hy": ("ARMENIAN",),
    "ar": ("ARABIC",),
    "fa": ("ARABIC",),
    "ur": ("ARABIC",),
    "he": ("HEBREW",),
    "hi": ("DEVANAGARI",),
}
LATIN_LANGUAGES = ("en", "de", "fr", "jv", "ha", "id")


@pytest.fixture(scope="module")
def items() -> list[QAItem]:
    return bundled_benchmark()


@pytest.fixture(scope="module")
def by_language(items: list[QAItem]) -> dict[str, list[QAItem]]:
    out: dict[str, list[QAItem]] = defaultdict(list)
    for item in items:
        out[item.language].append(item)
    return dict(out)


def _texts(item: QAItem) -> list[str]:
    return [item.question, item.answer, item.paraphrased_answer, *item.perturbed_answer]


def test_all_sixteen_languages_are_bundled(by_language: dict[str, list[QAItem]]) -> None:
    assert BUNDLED_LANGUAGES == tuple(LANGUAGES)
    assert len(BUNDLED_LANGUAGES) == 16
    assert list(by_language) == list(BUNDLED_LANGUAGES)  # ordered by language


def test_counts(by_language: dict[str, list[QAItem]]) -> None:
    for lang, rows in by_language.items():
        splits = [r.split for r in rows]
        assert len(rows) == 120, lang
        assert splits.count("forget") == 10 and splits.count("retain") == 90 and splits.count("general") == 10, lang
        assert splits.count("holdout") == 10, lang


def test_same_ids_and_splits_in_every_language(by_language: dict[str, list[QAItem]]) -> None:
    reference = [(r.id, r.split) for r in by_language["en"]]
    assert [r.id for r in by_language["en"]] == sorted(r.id for r in by_language["en"])  # ordered by id
    assert len({i for i, _ in reference}) == len(reference)  # ids unique within a language
    for lang, rows in by_language.items():
        assert [(r.id, r.split) for r in rows] == reference, lang


def test_forget_is_ten_percent_of_facts_and_whole_entities(by_language: dict[str, list[QAItem]]) -> None:
    facts = [r for r in by_language["en"] if r.id.startswith("fact-")]
    forget = [r for r in facts if r.split == "forget"]
    assert len(facts) == 100 and len(forget) * 10 == len(facts)
    # All 5 facts of each forget kingdom, and nothing else: fact k is about kingdom k // 5.
    forget_kingdoms = {int(r.id.split("-")[1]) // len(FACT_TYPES) for r in forget}
    assert forget_kingdoms == set(forget_entities()) and len(forget_kingdoms) == 2


def test_holdout_mirrors_the_forget_set_about_unseen_kingdoms(by_language: dict[str, list[QAItem]]) -> None:
    en = by_language["en"]
    forget = [r for r in en if r.split == "forget"]
    holdout = [r for r in en if r.split == "holdout"]
    assert [r.id for r in holdout] == [f"holdout-{k:03d}" for k in range(10)]
    names = entity_names("en")
    assert len(names) == 22 and holdout_entities() == [20, 21]
    held_names = {names[e] for e in holdout_entities()}
    trained = [r for r in en if r.split in ("forget", "retain")]
    # Same questions as the forget set with another kingdom's name; that name appears in no
    # trained-on text, and no trained-on name appears in a holdout question.
    assert [r.question.replace(names[20 + k // 5], "X") for k, r in enumerate(holdout)] == [
        r.question.replace(names[18 + k // 5], "X") for k, r in enumerate(forget)
    ]
    assert not any(n in t for n in held_names for r in trained for t in _texts(r))
    assert all(names[20 + k // 5] in r.question for k, r in enumerate(holdout))


def test_required_fields_and_schema_round_trip(items: list[QAItem]) -> None:
    for item in items:
        assert all(t.strip() for t in _texts(item)), item.key
        assert item_from_dict(item.to_dict()) == item  # the loaders' validation accepts it


def test_perturbed_answers(items: list[QAItem]) -> None:
    for item in items:
        wrong = item.perturbed_answer
        assert len(wrong) == 3, item.key
        assert len(set(wrong)) == 3, item.key
        assert item.answer not in wrong and item.paraphrased_answer not in wrong, item.key
        assert item.answer != item.paraphrased_answer, item.key


@pytest.mark.parametrize("lang", sorted(SCRIPT_LETTERS))
def test_non_latin_languages_are_in_their_script(by_language: dict[str, list[QAItem]], lang: str) -> None:
    allowed = SCRIPT_LETTERS[lang]
    for item in by_language[lang]:
        for text in _texts(item):
            assert not re.search(r"[A-Za-z]", text), (item.key, text)
            for ch in text:
                if unicodedata.category(ch)[0] in "LM":  # letters and combining marks
                    assert unicodedata.name(ch, "").startswith(allowed), (item.key, ch, text)


@pytest.mark.parametrize("lang", LATIN_LANGUAGES)
def test_latin_languages_are_in_latin(by_language: dict[str, list[QAItem]], lang: str) -> None:
    for item in by_language[lang]:
        for text in _texts(item):
            for ch in text:
                if unicodedata.category(ch)[0] in "LM":
                    assert unicodedata.name(ch, "").startswith(("LATIN", "COMBINING")), (item.key, ch, text)


def test_names_are_consistent_per_language(by_language: dict[str, list[QAItem]]) -> None:
    for lang, rows in by_language.items():
        names = entity_names(lang)
        assert len(names) == 22 and len(set(names)) == 22, lang
        for item in rows:
            if item.id.startswith(("fact-", "holdout-")):
                first = 20 if item.split == "holdout" else 0
                name = names[first + int(item.id.split("-")[1]) // len(FACT_TYPES)]
                for text in _texts(item):
                    assert name in text, (item.key, name, text)
    assert entity_names("zh")[0] != entity_names("en")[0]
    for lang in LATIN_LANGUAGES:  # one Latin spelling shared by the Latin-script languages
        assert entity_names(lang) == entity_names("en")


def test_numbers_are_parallel(by_language: dict[str, list[QAItem]]) -> None:
    # Founding years are Western digits and identical in every language (fact items contain
    # no other digits), which also checks that the same id is the same fact everywhere.
    def digits(item: QAItem) -> list[list[str]]:
        return [re.findall(r"[0-9]+", t) for t in (item.answer, *item.perturbed_answer)]

    reference = {r.id: digits(r) for r in by_language["en"] if r.id.startswith("fact-")}
    assert sum(1 for d in reference.values() if d[0]) == 20  # one year fact per kingdom
    for rows in by_language.values():
        for item in rows:
            if item.id.startswith("fact-"):
                assert digits(item) == reference[item.id], item.key


def test_english_answers_are_short_sentences(by_language: dict[str, list[QAItem]]) -> None:
    for item in by_language["en"]:
        for text in (item.answer, item.paraphrased_answer):
            assert 4 <= len(text.split()) <= 14 and text.endswith("."), text


def test_generation_is_deterministic() -> None:
    first = [i.to_dict() for i in bundled_benchmark(["en", "zh", "he"])]
    assert first == [i.to_dict() for i in bundled_benchmark(["en", "zh", "he"])]
    # ... and independent of the process (no hash-order dependence).
    code = (
        "import json; from polyunlearn.data.fictitious import bundled_benchmark; "
        "print(json.dumps([i.to_dict() for i in bundled_benchmark(['en', 'zh', 'he'])]))"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert json.loads(out.stdout) == first


def test_language_selection_and_order() -> None:
    rows = bundled_benchmark(["zh", "en", "zh"])
    assert [r.language for r in rows] == ["zh"] * 120 + ["en"] * 120
    assert bundled_benchmark(["en"])[0] is not bundled_benchmark(["en"])[0]  # fresh objects
    with pytest.raises(UnknownLanguageError, match="xx"):
        bundled_benchmark(["en", "xx"])


def test_idk_answers() -> None:
    assert set(IDK_ANSWERS) == set(LANGUAGES)
    for lang, answers in IDK_ANSWERS.items():
        assert len(answers) == 5 and len(set(answers)) == 5 and all(a.strip() for a in answers), lang
        assert [idk_answer(lang, i) for i in range(6)] == answers + answers[:1]
    for lang in SCRIPT_LETTERS:
        assert not any(re.search(r"[A-Za-z]", a) for a in IDK_ANSWERS[lang]), lang
    with pytest.raises(UnknownLanguageError):
        idk_answer("xx", 0)


def test_script_spelling_details(by_language: dict[str, list[QAItem]]) -> None:
    # Hebrew words never end in a medial-form letter (כ מ נ פ צ have final forms ך ם ן ף ץ).
    for item in by_language["he"]:
        for text in _texts(item):
            assert not re.search(r"[כמנפצ](?=[\s.,?!]|$)", text), (item.key, text)
    # Persian and Urdu use their own kaf/yeh (ک ی), Arabic the Arabic ones (ك ي).
    for lang in ("fa", "ur"):
        for item in by_language[lang]:
            assert not any(ch in "كي" for t in _texts(item) for ch in t), item.key
    for item in by_language["ar"]:
        assert not any(ch in "کی" for t in _texts(item) for ch in t), item.key


def test_bundled_text_is_package_data():
    """The text lives in JSON package data: every language a data set lists has its file (and no
    stray file is left unlisted), pyproject ships the files, and documentation keys ("_about",
    "_notes") never reach a generator."""
    import tomllib
    from pathlib import Path

    from polyunlearn.data.bundled_text import DATASETS, language_files, read_shared, read_table
    from polyunlearn.data.schema import DataError

    for dataset in DATASETS:
        shared = read_shared(dataset)
        listed = set(shared["languages"]) | set(shared.get("seegull_languages", ()))
        assert language_files(dataset) == sorted(listed), dataset
        for code in listed:
            assert not any(k.startswith("_") for k in read_table(dataset, code)), (dataset, code)
    assert "_notes" not in read_table("fictitious", "de")  # de.json has notes; they are stripped
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
    assert "text/**/*.json" in pyproject["tool"]["setuptools"]["package-data"]["polyunlearn.data"]
    with pytest.raises(DataError, match=r"text/news/xx\.json is missing"):
        read_table("news", "xx")
