"""Study A on its authors' published data: the Hugging Face data set TaiMingLu/news-truthful
(arXiv 2406.13748) and files in its shape (translations made by `polyunlearn translate`).

    from polyunlearn.data.news_truthful import load_news_truthful
    data = load_news_truthful("TaiMingLu/news-truthful")      # hub id (English)
    data = load_news_truthful("news_fr.jsonl")                 # a local file with a language column
    data.stories          # NewsStory (data/news.py): real_doc = real article, fake_doc = fake one
    data.instruct()       # the instruction Q&A pairs (trained on)
    data.eval_only()      # the 2 evaluation-only questions per story (never trained on)

Input schema, one row per story (the published data: 100 English rows):
| column          | required | meaning                                                              |
|-----------------|----------|----------------------------------------------------------------------|
| real_news       | yes      | a generated real news article                                        |
| fake_news       | yes      | the same article with injected fake information                      |
| fake_keyword    | yes      | the fake detail; OF counts answers that contain it (judge.contains_keyword) |
| sft_qas         | yes      | instruction Q&A pairs on the real news: a list of {"question", "answer"} (in CSV a JSON string; polyunlearn's own files add "index") |
| real_question   | yes      | evaluation-only question on the real news (QR)                       |
| fake_question   | yes      | evaluation-only question whose answer reveals the fake detail (OF)   |
| real_answer     | no       | reference answer of real_question                                    |
| fake_answer     | no       | the answer of fake_question that states the fake detail              |
| scenario_id/id  | no       | the story's id (default: the row index); shared by its translations   |
| language        | no       | the row's language (default: the `language` argument; for the hub id TaiMingLu/news-truthful, English, as its card says; otherwise an error) |
These column names are those of the published derivatives of the data set
(paolordls/crosslg-contaminated-benchmark-*, whose cards list fake_news, scenario_id, real_news,
sft_qas, fake_keyword, real_question, fake_question, real_answer, fake_answer); the news.json of
TaiMingLu/news-truthful itself could not be read when this was written. A source with other
names loads with `columns={"our name": "their name"}` (CLI: `--columns ours=theirs,...` of
study-a and translate, `parse_columns`); a missing column is an error listing the columns the
source has.

Rows with an empty required field, and instruction pairs with an empty question or answer, are
skipped and reported (`skipped`, else a warning; `strict=True`: an error). Ids: story
"nt-<id>", questions "nt-<id>-i<k>" (instruction pair k), "nt-<id>-real", "nt-<id>-fake", the
same in every language. The bundled corpus (data/news.py) is untouched: the evaluation-only
notion lives in NewsQuestion.role here, so the bundled NewsStory/NewsQA (and their pinned hash)
do not change.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyunlearn.core.languages import get_language
from polyunlearn.data.news import NewsStory
from polyunlearn.data.schema import DataError, QAItem, SkippedRow, report_skipped, skip_row

HUB_ID = "TaiMingLu/news-truthful"
REQUIRED = ("real_news", "fake_news", "fake_keyword", "sft_qas", "real_question", "fake_question")
OPTIONAL = ("real_answer", "fake_answer", "scenario_id", "id", "language")
ROLES = ("instruct", "eval_real", "eval_fake")


@dataclass(frozen=True)
class NewsQuestion:
    """One question about a story. role "instruct": an instruction pair (trained on);
    "eval_real" / "eval_fake": the evaluation-only questions (never trained on). `answer` is
    None for an evaluation question without a reference answer."""

    id: str
    story_id: str
    language: str
    question: str
    answer: str | None
    role: str

    @property
    def eval_only(self) -> bool:
        return self.role != "instruct"


@dataclass
class NewsTruthful:
    """The published data (or a translation of it): stories, questions and fake keywords."""

    stories: list[NewsStory]
    questions: list[NewsQuestion]
    fake_keywords: dict[tuple[str, str], str] = field(default_factory=dict)  # (story_id, language) -> keyword

    def instruct(self) -> list[NewsQuestion]:
        return [q for q in self.questions if q.role == "instruct"]

    def eval_only(self) -> list[NewsQuestion]:
        return [q for q in self.questions if q.eval_only]

    @property
    def languages(self) -> list[str]:
        return list(dict.fromkeys(s.language for s in self.stories))

    def instruct_items(self, split: str = "retain_train") -> list[QAItem]:
        """The instruction pairs as QA items (default split retain_train: trained on, never
        evaluated, as the authors use them)."""
        return [QAItem(q.id, q.language, q.question, q.answer or "", split=split) for q in self.instruct()]


def load_news_truthful(
    source: str | os.PathLike[str] = HUB_ID,
    language: str | None = None,
    *,
    split: str = "train",
    columns: Mapping[str, str] | None = None,
    strict: bool = False,
    skipped: list[SkippedRow] | None = None,
) -> NewsTruthful:
    """Stories and questions from a hub id or a local file (.json/.jsonl/.csv/.parquet/.arrow or a
    save_to_disk folder) in the schema of the module docstring."""
    from polyunlearn.data.loaders import read_records

    s = os.fspath(source)
    if language is None and s == HUB_ID:
        language = "en"  # the data set card: "Languages: English"; not a guess
    records = read_records(s, hf_split=split)
    return news_from_records(records, language, columns=columns, strict=strict, skipped=skipped)


def parse_columns(text: str | None) -> dict[str, str] | None:
    """The CLI's --columns "ours=theirs,..." as the `columns` mapping (None for none given); our
    names are the module docstring's (REQUIRED, OPTIONAL), anything else is an error naming them."""
    if not text or not text.strip():
        return None
    out: dict[str, str] = {}
    for pair in (p.strip() for p in text.split(",") if p.strip()):
        ours, sep, theirs = (x.strip() for x in pair.partition("="))
        if not (sep and ours and theirs):
            raise DataError(f"--columns: {pair!r} is not ours=theirs (e.g. --columns fake_keyword=keyword)")
        if ours not in (*REQUIRED, *OPTIONAL):
            raise DataError(f"--columns: {ours!r} is none of our column names ({', '.join((*REQUIRED, *OPTIONAL))})")
        out[ours] = theirs
    return out


def news_from_records(
    records: Sequence[tuple[str, int, dict[str, Any]]],
    language: str | None = None,
    *,
    columns: Mapping[str, str] | None = None,
    strict: bool = False,
    skipped: list[SkippedRow] | None = None,
) -> NewsTruthful:
    """Parse (where, index, row) records of the news-truthful shape (see load_news_truthful)."""
    rename = {theirs: ours for ours, theirs in (columns or {}).items()}
    rows = [(where, i, {rename.get(k, k): v for k, v in raw.items()}) for where, i, raw in records]
    if not rows:
        raise DataError("no rows in this news source")
    have = sorted({k for _, _, r in rows for k in r})
    missing = [c for c in REQUIRED if c not in have]
    if missing:
        raise DataError(
            f"{rows[0][0]}: missing column(s) {', '.join(missing)} (columns: {', '.join(have)}); map yours to ours: "
            f"--columns {','.join(f'{c}=YOURS' for c in missing)} on the command line, columns={{our name: yours}} in Python"
        )
    out = NewsTruthful([], [])
    mine: list[SkippedRow] = []
    seen: dict[tuple[str, str], str] = {}
    for where, index, row in rows:
        story = _story(row, where, index, language, strict, mine)
        if story is None:
            continue
        sid, lang = story
        if (sid, lang) in seen:
            raise DataError(f"{where}: duplicate story id {sid!r} in language {lang!r} (first at {seen[(sid, lang)]})")
        seen[(sid, lang)] = where
        _add_story(out, row, where, sid, lang, strict, mine)
    if not out.stories:
        raise DataError(f"no usable row: all {len(mine)} skipped, the first at {mine[0].where} ({mine[0].reason})")
    report_skipped(mine, skipped)
    return out


def _add_story(
    out: NewsTruthful, row: dict[str, Any], where: str, sid: str, lang: str, strict: bool, skipped: list[SkippedRow]
) -> None:
    """One checked row's story, fake keyword and questions (instruction pairs with an empty
    field are skipped and reported)."""
    out.stories.append(NewsStory(sid, lang, _text(row["real_news"]), _text(row["fake_news"])))
    out.fake_keywords[(sid, lang)] = _text(row["fake_keyword"])
    for k, q, a in _pairs(row["sft_qas"], where):
        if not q or not a:
            skip_row(f"{where}: sft_qas[{k}]", f"empty {'question' if not q else 'answer'}", strict, skipped)
            continue
        out.questions.append(NewsQuestion(f"{sid}-i{k}", sid, lang, q, a, "instruct"))
    for kind in ("real", "fake"):
        answer = _text(row.get(f"{kind}_answer")) or None
        out.questions.append(
            NewsQuestion(f"{sid}-{kind}", sid, lang, _text(row[f"{kind}_question"]), answer, f"eval_{kind}")
        )


def _story(
    row: dict[str, Any], where: str, index: int, language: str | None, strict: bool, skipped: list[SkippedRow]
) -> tuple[str, str] | None:
    """(story id, language) of a row, or None when the row is skipped (an empty required field)."""
    for name in REQUIRED:
        value = row.get(name)
        if name == "sft_qas" and value is not None and not isinstance(value, str):
            continue
        if not _text(value):
            skip_row(where, f"missing or empty field {name!r}", strict, skipped)
            return None
    lang = _text(row.get("language")) or language
    if not lang:
        raise DataError(
            f"{where}: no 'language' column and no language given (only {HUB_ID} is known to be English); name it"
        )
    try:
        lang = get_language(lang).code
    except ValueError as e:
        raise DataError(f"{where}: field 'language': {e}") from None
    raw_id = row.get("id", row.get("scenario_id"))
    return f"nt-{_text(raw_id) if _text(raw_id) else index}", lang


def _pairs(value: Any, where: str) -> list[tuple[int, str, str]]:
    """sft_qas as (index, question, answer): a list of {"question", "answer"} (or of 2-lists), or
    its JSON text (CSV cells). The index is the pair's position, or its "index" key where
    polyunlearn wrote one (news_rows), so a pair skipped in the source keeps the ids of the
    pairs after it aligned in the translations."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            raise DataError(f"{where}: field 'sft_qas': not a JSON list ({e.msg})") from None
    if not isinstance(value, (list, tuple)) and type(value).__name__ != "ndarray":
        raise DataError(
            f"{where}: field 'sft_qas': expected a list of {{question, answer}}, got {type(value).__name__}"
        )
    pairs = []
    for k, p in enumerate(value):
        if isinstance(p, Mapping) and "question" in p and "answer" in p:
            pairs.append((int(p.get("index", k)), _text(p["question"]), _text(p["answer"])))
        elif isinstance(p, (list, tuple)) and len(p) == 2:
            pairs.append((k, _text(p[0]), _text(p[1])))
        else:
            raise DataError(f"{where}: field 'sft_qas'[{k}]: expected {{question, answer}}, got {p!r}")
    return pairs


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):  # None or NaN (pandas)
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a scenario_id column read as float
    return str(value).strip()


def news_rows(data: NewsTruthful) -> list[dict[str, Any]]:
    """`data` back in the input schema (one row per story and language, with a language column)."""
    by_story: dict[tuple[str, str], dict[str, Any]] = {}
    for s in data.stories:
        by_story[(s.id, s.language)] = {
            "id": s.id.removeprefix("nt-"),
            "language": s.language,
            "real_news": s.real_doc,
            "fake_news": s.fake_doc,
            "fake_keyword": data.fake_keywords[(s.id, s.language)],
            "sft_qas": [],
        }
    for q in data.questions:
        row = by_story[(q.story_id, q.language)]
        if q.role == "instruct":
            row["sft_qas"].append({"question": q.question, "answer": q.answer, "index": int(q.id.rsplit("-i", 1)[1])})
        else:
            kind = q.role.removeprefix("eval_")
            row[f"{kind}_question"] = q.question
            if q.answer is not None:
                row[f"{kind}_answer"] = q.answer
    return list(by_story.values())


def save_news_truthful(data: NewsTruthful, path: str | os.PathLike[str]) -> Path:
    """Write `data` as JSON Lines in the input schema, atomically."""
    from polyunlearn.core.atomic import write_jsonl

    path = Path(path)
    write_jsonl(path, news_rows(data))
    return path
