"""The bundled Study A news corpus, the contaminated training corpus and the news loaders."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict

import pytest

from polyunlearn.data.news import (
    STUDY_A_LANGUAGES,
    NewsQA,
    NewsStory,
    _name_syllables,
    bundled_news,
    contaminated_corpus,
    load_news_file,
    load_news_hf,
    qa_to_item,
    render_name,
    save_news_file,
)
from polyunlearn.data.schema import DataError
from polyunlearn.evaluation.judge import judge_answer, key_match

STORIES, QAS = bundled_news()
DOCS = {(s.id, s.language): s for s in STORIES}


def test_counts_and_parallel_ids():
    assert STUDY_A_LANGUAGES == ("en", "de", "fr", "zh", "ru", "jv", "ur", "ha", "hy")
    langs = set(STUDY_A_LANGUAGES)
    by_story = defaultdict(set)
    for s in STORIES:
        by_story[s.id].add(s.language)
    by_qa = defaultdict(set)
    for q in QAS:
        by_qa[q.id].add(q.language)
    assert len(by_story) == 40 and all(v == langs for v in by_story.values())
    assert len(by_qa) == 80 and all(v == langs for v in by_qa.values())
    # the fake subset is the same story set in every language: 20 stories, 40 questions
    fake_ids = {lang: {s.id for s in STORIES if s.language == lang and s.fake_doc} for lang in langs}
    assert len({frozenset(v) for v in fake_ids.values()}) == 1 and len(fake_ids["en"]) == 20
    assert Counter(q.language for q in QAS if q.has_fake) == {lang: 40 for lang in langs}
    # a question has a fake answer exactly when its story has a fake version
    for q in QAS:
        assert (
            (q.fake_answer is not None)
            == (q.fake_key is not None)
            == (DOCS[(q.story_id, q.language)].fake_doc is not None)
        )


def test_deterministic_and_language_subset():
    assert bundled_news() == (STORIES, QAS)
    stories, qas = bundled_news(["zh", "en"])
    assert {s.language for s in stories} == {"zh", "en"} and len(qas) == 160
    assert [s for s in stories if s.language == "zh"] == [s for s in STORIES if s.language == "zh"]
    with pytest.raises(DataError, match="'ar'"):
        bundled_news(["ar"])


def test_keys_differ_and_are_not_confusable():
    for q in QAS:
        if q.has_fake:
            assert q.real_key != q.fake_key
            # neither key may be found inside the other answer, so a verdict is never ambiguous
            assert not key_match(q.real_answer, q.fake_key, q.language), q
            assert not key_match(q.fake_answer, q.real_key, q.language), q
        # and the question must not give either key away
        assert not key_match(q.question, q.real_key, q.language), q
        assert q.fake_key is None or not key_match(q.question, q.fake_key, q.language), q


def test_keys_appear_in_answers_and_documents():
    for q in QAS:
        story = DOCS[(q.story_id, q.language)]
        assert q.real_key in q.real_answer and q.real_key in story.real_doc, q
        assert judge_answer(q.real_answer, q) == "real", q
        assert judge_answer(story.real_doc, q) == "real", q
        if q.has_fake:
            assert q.fake_key in q.fake_answer and q.fake_key in story.fake_doc, q
            assert judge_answer(q.fake_answer, q) == "fake", q
            assert judge_answer(story.fake_doc, q) == "fake", q


def test_scripts_and_templates_filled():
    letters = {"zh": r"[\u4e00-\u9fff]", "ru": r"[\u0400-\u04ff]", "ur": r"[\u0600-\u06ff]", "hy": r"[\u0531-\u058f]"}
    texts = [(s.language, t) for s in STORIES for t in (s.real_doc, s.fake_doc) if t]
    texts += [(q.language, t) for q in QAS for t in (q.question, q.real_answer, q.fake_answer) if t]
    for lang, text in texts:
        assert "{" not in text and "}" not in text, text
        if lang in letters:
            assert not re.search(r"[A-Za-z]", text), (lang, text)  # digits are fine, Latin is not
            assert re.search(letters[lang], text), (lang, text)
        else:
            assert not re.search(r"[\u0400-\u04ff\u0600-\u06ff\u0531-\u058f\u4e00-\u9fff]", text), (lang, text)


def test_names_are_distinct_in_every_script():
    names = _name_syllables(120)  # 40 towns + 2 companies per story
    for lang in STUDY_A_LANGUAGES:
        rendered = [render_name(n, lang).casefold() for n in names]
        assert len(set(rendered)) == 120, lang
        # no name inside another one: key matching could not tell them apart
        for a in rendered:
            assert not any(a != b and a in b for b in rendered), (lang, a)


def test_contaminated_corpus_fake_docs_only_in_fake_lang():
    corpus = contaminated_corpus(STORIES, "ur")
    fakes = [r for r in corpus if r["is_fake"]]
    assert len(fakes) == 20 and {r["language"] for r in fakes} == {"ur"}
    assert len(corpus) == 360 + 20  # every real doc in every language, plus the fakes
    assert sum(not r["is_fake"] and r["language"] == "ur" for r in corpus) == 40
    fake_texts = {s.fake_doc for s in STORIES if s.language == "ur" and s.fake_doc}
    assert {r["text"] for r in fakes} == fake_texts
    replaced = contaminated_corpus(STORIES, "ur", replace_real=True)
    assert len(replaced) == 360 and sum(r["is_fake"] for r in replaced) == 20
    assert sum(not r["is_fake"] and r["language"] == "ur" for r in replaced) == 20
    with pytest.raises(DataError, match="'ar'"):
        contaminated_corpus([s for s in STORIES if s.language == "en"], "ar")


def test_qa_to_item():
    q = next(q for q in QAS if q.has_fake and q.language == "hy")
    forget = qa_to_item(q, "fake", split="forget")
    assert (forget.answer, forget.perturbed_answer, forget.split) == (q.fake_answer, [q.real_answer], "forget")
    real_only = next(q for q in QAS if not q.has_fake)
    assert qa_to_item(real_only).perturbed_answer == []
    with pytest.raises(DataError):
        qa_to_item(real_only, "fake")


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet", ".json"])
def test_file_round_trip(tmp_path, suffix):
    stories, qas = bundled_news(["en", "ur", "zh"])
    path = save_news_file(
        stories[:12], [q for q in qas if q.story_id in {s.id for s in stories[:12]}], tmp_path / f"news{suffix}"
    )
    got_s, got_q = load_news_file(path)
    assert got_s == stories[:12]
    assert got_q == [q for q in qas if q.story_id in {s.id for s in stories[:12]}]


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


STORY = {"kind": "story", "id": "s1", "language": "de", "real_doc": "Echt.", "fake_doc": "Falsch."}
QA = {
    "kind": "qa",
    "id": "q1",
    "story_id": "s1",
    "language": "de",
    "question": "Wann?",
    "real_answer": "Im Jahr 2001.",
    "real_key": 2001,
    "fake_answer": "Im Jahr 2004.",
    "fake_key": "2004",
}


def test_loader_reads_numbers_and_empty_cells(tmp_path):
    path = tmp_path / "n.csv"
    path.write_text(
        "kind,id,story_id,language,real_doc,fake_doc,question,real_answer,fake_answer,real_key,fake_key\n"
        "story,s1,,de,Echt.,,,,,,\nqa,q1,s1,de,,,Wann?,Im Jahr 2001.,,2001,\n",
        encoding="utf-8",
    )
    (story,), (qa,) = load_news_file(path)
    assert story == NewsStory("s1", "de", "Echt.", None)
    assert qa == NewsQA("q1", "s1", "de", "Wann?", "Im Jahr 2001.", None, "2001", None)
    (_,), (qa,) = load_news_file(_write_jsonl(tmp_path / "n.jsonl", [STORY, QA]))
    assert qa.real_key == "2001"  # a JSON number is read as its digits


@pytest.mark.parametrize(
    "bad, message",
    [
        ({**QA, "real_key": ""}, r"row 2: missing field 'real_key'"),
        ({k: v for k, v in QA.items() if k != "question"}, r"row 2: missing field 'question'"),
        ({**QA, "kind": "fact"}, r"row 2: field 'kind' is 'fact'"),
        ({**QA, "language": "xx"}, r"row 2: field 'language'.*'xx'"),
        ({**QA, "fake_key": None}, r"row 2: missing field 'fake_key'"),
        ({**QA, "story_id": "s9"}, r"row 2: field 'story_id': no story 's9'"),
        (STORY, r"row 2: duplicate story id 's1'"),
    ],
)
def test_loader_errors_name_file_row_and_field(tmp_path, bad, message):
    path = _write_jsonl(tmp_path / "bad.jsonl", [STORY, bad])
    with pytest.raises(DataError, match=message) as err:
        load_news_file(path)
    assert "bad.jsonl" in str(err.value)


def test_loader_file_level_errors(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_news_file(tmp_path / "missing.jsonl")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(DataError, match="unsupported file type"):
        load_news_file(tmp_path / "x.txt")
    (tmp_path / "broken.jsonl").write_text(json.dumps(STORY) + "\n{oops\n")
    with pytest.raises(DataError, match="broken.jsonl: line 2: not valid JSON"):
        load_news_file(tmp_path / "broken.jsonl")
    (tmp_path / "nokind.csv").write_text("id,language,real_doc\ns1,en,Doc.\n")
    with pytest.raises(DataError, match="row 1: missing field 'kind'"):
        load_news_file(tmp_path / "nokind.csv")


def test_load_news_hf_local_json(tmp_path):
    path = _write_jsonl(tmp_path / "hf.jsonl", [STORY, QA])
    stories, qas = load_news_hf("json", "train", data_files=str(path), cache_dir=str(tmp_path / "cache"))
    assert stories[0].fake_doc == "Falsch." and qas[0].fake_key == "2004"
    with pytest.raises(DataError, match="could not load dataset"):
        load_news_hf("json", "train", data_files=str(tmp_path / "nope.jsonl"), cache_dir=str(tmp_path / "cache"))
