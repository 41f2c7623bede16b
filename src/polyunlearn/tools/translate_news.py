"""`polyunlearn translate` for the news formats of Study A: the news-truthful shape
(data/news_truthful.py, `translate_news`) and polyunlearn's own news table (data/news.py, what
`polyunlearn study-a` writes; `translate_news_table`, answer keys flagged where a translation
loses them). The news-truthful shape: every text field
of every story (real and fake article, fake keyword, the instruction pairs, the two
evaluation-only questions and their answers) into new languages, ids kept, resumable.

    polyunlearn translate --data news:TaiMingLu/news-truthful --to de,fr,zh,ru,jv,ur,ha,hy \\
        --model facebook/nllb-200-distilled-600M --out runs/news_tr

    from polyunlearn.tools.translate_news import translate_news
    result = translate_news(load_news_truthful(), translator, "runs/news_tr", targets=["fr"])

Articles are translated sentence by sentence (split after . ! ? and at line breaks, joined back
with a space, or with nothing for languages written without spaces), since translation models
are trained on sentences and truncate long inputs. The fake keyword is translated on its own, so
a translation may word it differently from the translated fake article: every translated story
says whether its keyword appears in its fake article (`keyword_in_fake_news`, the OF judge needs
it to) and is flagged when not. Round trip chrF per story as for QA benchmarks (tools/translate.py).

Resumable like tools/translate.py: chunks of `chunk_size` stories per language, written
atomically to OUT/chunks/<lang>/news-NNNNN.jsonl and skipped on a rerun; OUT/manifest.json
refuses a rerun with another source, model or settings. Outputs: OUT/news.jsonl (source and
translations, the input schema plus a language column), OUT/news_report.csv (per translated
story), OUT/summary.csv (per language). A story with an empty translated field is left out of
news.jsonl (flag "empty:<field>").
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from polyunlearn.core.atomic import write_table
from polyunlearn.core.languages import get_language
from polyunlearn.data.news import NewsQA, NewsStory, load_news_file, save_news_file
from polyunlearn.data.news_truthful import NewsTruthful, news_from_records, news_rows, save_news_truthful
from polyunlearn.evaluation.judge import contains_keyword
from polyunlearn.tools.translate import Translator, _check_manifest, check_request, translate_in_chunks

_DOCS = ("real_news", "fake_news")
_SHORT = ("fake_keyword", "real_question", "real_answer", "fake_question", "fake_answer")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass
class NewsTranslation:
    data: NewsTruthful  # source + every translated story without an empty field
    report: pd.DataFrame  # one row per translated story
    summary: pd.DataFrame  # one row per target language
    out: Path


def split_sentences(text: str) -> list[list[str]]:
    """Paragraphs (line breaks) of sentences (split after . ! ?), empty pieces dropped."""
    return [[s for s in _SENTENCE_END.split(p.strip()) if s] for p in text.split("\n") if p.strip()]


def _fields(row: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) of every text of a story row: document sentences as real_news[p.s]."""
    out = [
        (f"{d}[{p}.{k}]", s)
        for d in _DOCS
        for p, para in enumerate(split_sentences(row[d]))
        for k, s in enumerate(para)
    ]
    out += [(name, row[name]) for name in _SHORT if row.get(name)]
    for k, pair in enumerate(row["sft_qas"]):
        out += [(f"sft_qas[{k}].question", pair["question"]), (f"sft_qas[{k}].answer", pair["answer"])]
    return out


def _assemble_row(row: dict[str, Any], fields: list[tuple[str, str]], texts: list[str], target: str) -> dict[str, Any]:
    joiner = " " if get_language(target).spaces else ""
    new: dict[str, Any] = {
        "id": row["id"],
        "language": target,
        "sft_qas": [{"index": pair["index"]} for pair in row["sft_qas"]],
    }
    docs: dict[str, dict[int, list[str]]] = {d: {} for d in _DOCS}
    for (label, _), text in zip(fields, texts):
        m = re.fullmatch(r"(\w+)\[(\d+)\.(\d+)\]", label)
        if m:
            docs[m.group(1)].setdefault(int(m.group(2)), []).append(text)
        elif label.startswith("sft_qas["):
            k, key = re.fullmatch(r"sft_qas\[(\d+)\]\.(\w+)", label).groups()
            new["sft_qas"][int(k)][key] = text
        else:
            new[label] = text
    for d in _DOCS:
        new[d] = "\n".join(joiner.join(sentences) for _, sentences in sorted(docs[d].items()))
    return new


def translate_story_chunk(
    rows: Sequence[dict[str, Any]], translator: Translator, source: str, target: str, roundtrip: bool = True
) -> list[dict]:
    """Translated rows of one chunk, each with `chrf` ({field: round-trip chrF}), `empty`
    (fields translated to nothing) and `keyword_in_fake_news`."""
    from sacrebleu import sentence_chrf

    fields = [_fields(r) for r in rows]
    flat = [text for fs in fields for _, text in fs]
    forward = translator.translate(flat, source, target)
    back = translator.translate(forward, target, source) if roundtrip else None
    out, k = [], 0
    for row, fs in zip(rows, fields):
        texts = forward[k : k + len(fs)]
        new = _assemble_row(row, fs, texts, target)
        new["empty"] = sorted({label.split("[")[0] for (label, _), t in zip(fs, texts) if not t})
        new["chrf"] = (
            {label: round(float(sentence_chrf(back[k + j], [orig]).score), 2) for j, (label, orig) in enumerate(fs)}
            if back
            else {}
        )
        new["keyword_in_fake_news"] = bool(new.get("fake_keyword")) and contains_keyword(
            new["fake_news"], new["fake_keyword"], target
        )
        out.append(new)
        k += len(fs)
    return out


def translate_news(
    data: NewsTruthful,
    translator: Translator,
    out_dir: str | Path,
    targets: Sequence[str],
    source: str = "en",
    chunk_size: int = 8,
    roundtrip: bool = True,
    threshold: float = 50.0,
    log: Callable[[str], None] | None = None,
) -> NewsTranslation:
    """Translate the `source`-language stories of `data` into every target (module docstring)."""
    out = Path(out_dir)
    rows = [r for r in news_rows(data) if r["language"] == source]
    settings = (source, chunk_size, roundtrip, threshold, log)
    records = _translate_rows(out, "news", rows, data.languages, translate_story_chunk, translator, targets, *settings)
    return _assemble(out, data, records, threshold)


def _translate_rows(
    out: Path,
    fmt: str,
    rows: list[dict],
    present: Sequence[str],
    translate_chunk: Callable[..., list[dict]],
    translator: Translator,
    targets: Sequence[str],
    source: str,
    chunk_size: int,
    roundtrip: bool,
    threshold: float,
    log: Callable[[str], None] | None,
) -> list[dict]:
    """The request checked, OUT's manifest checked or written (a rerun with other settings is
    refused; the same one resumes), then `rows` (the source stories) translated chunk by chunk
    into every target: the translated records, as both news formats translate them."""
    targets = check_request(translator, source, targets, present, chunk_size, "story")
    fingerprint = hashlib.sha256(json.dumps(rows, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()
    _check_manifest(
        out,
        {"format": fmt, "source_language": source, "source_sha256": fingerprint, "chunk_size": chunk_size}
        | translator.settings()
        | {"roundtrip": roundtrip, "targets": targets, "threshold": threshold},
    )
    return translate_in_chunks(
        out,
        rows,
        [r["id"] for r in rows],
        targets,
        chunk_size,
        lambda chunk, target: translate_chunk(chunk, translator, source, target, roundtrip),
        name=("news", "stories"),
        log=log,
    )


def roundtrip_report(records: list[dict], check: str, threshold: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-story report, per-language summary) of translated news records: the mean round-trip
    chrF, the empty fields, the record's own `check` (a bool field: keyword_in_fake_news for the
    news-truthful shape, keys_in_answers for our news table; when False the flag reads
    keyword_not_in_fake_news / keys_not_in_answers) and low chrF. A story with an empty field is
    not kept."""
    flag = check.replace("_in_", "_not_in_")
    rows = []
    for r in records:
        scores = list(r["chrf"].values())
        mean = sum(scores) / len(scores) if scores else None
        flags = [f"empty:{f}" for f in r["empty"]]
        flags += [] if r[check] else [flag]
        flags += ["low_chrf"] if mean is not None and mean < threshold else []
        rows.append(
            {
                "id": r["id"],
                "language": r["language"],
                "roundtrip_chrf": mean,
                check: r[check],
                "flagged": bool(flags),
                "flags": ";".join(flags),
                "kept": not r["empty"],
            }
        )
    report = pd.DataFrame(rows)
    summary = pd.DataFrame(
        [
            {
                "language": lang,
                "stories": len(g),
                "kept": int(g["kept"].sum()),
                "flagged": int(g["flagged"].sum()),
                check: int(g[check].sum()),
                "mean_roundtrip_chrf": float(g["roundtrip_chrf"].mean()) if g["roundtrip_chrf"].notna().any() else None,
            }
            for lang, g in report.groupby("language", sort=False)
        ]
    )
    return report, summary


def _assemble(out: Path, data: NewsTruthful, records: list[dict], threshold: float) -> NewsTranslation:
    report, summary = roundtrip_report(records, "keyword_in_fake_news", threshold)
    kept = [
        {k: v for k, v in r.items() if k not in ("chrf", "empty", "keyword_in_fake_news")}
        for r in records
        if not r["empty"]
    ]
    rows = news_rows(data) + kept
    merged = news_from_records([(f"{out / 'news.jsonl'}: row {i + 1}", i, row) for i, row in enumerate(rows)])
    save_news_truthful(merged, out / "news.jsonl")
    write_table(out / "news_report.csv", report)
    write_table(out / "summary.csv", summary)
    return NewsTranslation(merged, report, summary, out)


# ----------------------------------------------------------------------------- polyunlearn's news table


@dataclass
class NewsTableTranslation:
    stories: list[NewsStory]  # source + every translated story without an empty field
    qas: list[NewsQA]
    report: pd.DataFrame  # one row per translated story
    summary: pd.DataFrame  # one row per target language
    out: Path


_QA_TEXTS = ("question", "real_answer", "real_key", "fake_answer", "fake_key")


def _table_units(stories: Sequence[NewsStory], qas: Sequence[NewsQA], source: str) -> list[dict[str, Any]]:
    """One unit per source-language story: its documents and its questions (data/news.py)."""
    by_story: dict[str, list[dict]] = {}
    for q in qas:
        if q.language == source:
            by_story.setdefault(q.story_id, []).append(asdict(q))
    return [
        {"id": s.id, "real_doc": s.real_doc, "fake_doc": s.fake_doc, "qas": by_story.get(s.id, [])}
        for s in stories
        if s.language == source
    ]


def _table_fields(unit: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) of every text of a story unit: document sentences as real_doc[p.s]."""
    out = [
        (f"{d}[{p}.{k}]", s)
        for d in ("real_doc", "fake_doc")
        for p, para in enumerate(split_sentences(unit[d] or ""))
        for k, s in enumerate(para)
    ]
    for k, q in enumerate(unit["qas"]):
        out += [(f"qas[{k}].{name}", q[name]) for name in _QA_TEXTS if q.get(name)]
    return out


def translate_table_chunk(
    units: Sequence[dict[str, Any]], translator: Translator, source: str, target: str, roundtrip: bool = True
) -> list[dict]:
    """Translated story units of one chunk, each with `chrf`, `empty` (fields translated to
    nothing) and `keys_in_answers` (every answer key still appears in its translated answer: the
    key-matching judge needs it to)."""
    from sacrebleu import sentence_chrf

    joiner = " " if get_language(target).spaces else ""
    fields = [_table_fields(u) for u in units]
    flat = [text for fs in fields for _, text in fs]
    forward = translator.translate(flat, source, target)
    back = translator.translate(forward, target, source) if roundtrip else None
    out, k = [], 0
    for unit, fs in zip(units, fields):
        texts = forward[k : k + len(fs)]
        docs: dict[str, dict[int, list[str]]] = {"real_doc": {}, "fake_doc": {}}
        qas = [{**q, "language": target} for q in unit["qas"]]
        for (label, _), text in zip(fs, texts):
            m = re.fullmatch(r"(\w+)\[(\d+)\.(\d+)\]", label)
            if m:
                docs[m.group(1)].setdefault(int(m.group(2)), []).append(text)
            else:
                i, name = re.fullmatch(r"qas\[(\d+)\]\.(\w+)", label).groups()
                qas[int(i)][name] = text
        new: dict[str, Any] = {"id": unit["id"], "language": target, "qas": qas}
        for d in docs:
            joined = "\n".join(joiner.join(sentences) for _, sentences in sorted(docs[d].items()))
            new[d] = joined if unit[d] else None
        new["empty"] = sorted(
            {re.sub(r"\[.*?\]", "", label).split(".")[-1] for (label, _), t in zip(fs, texts) if not t}
        )
        new["chrf"] = (
            {label: round(float(sentence_chrf(back[k + j], [orig]).score), 2) for j, (label, orig) in enumerate(fs)}
            if back
            else {}
        )
        new["keys_in_answers"] = all(
            contains_keyword(q[answer], q[key], target)
            for q in qas
            for answer, key in (("real_answer", "real_key"), ("fake_answer", "fake_key"))
            if q.get(key) and q.get(answer)
        )
        out.append(new)
        k += len(fs)
    return out


def translate_news_table(
    stories: Sequence[NewsStory],
    qas: Sequence[NewsQA],
    translator: Translator,
    out_dir: str | Path,
    targets: Sequence[str],
    source: str = "en",
    chunk_size: int = 8,
    roundtrip: bool = True,
    threshold: float = 50.0,
    log: Callable[[str], None] | None = None,
) -> NewsTableTranslation:
    """Translate the `source`-language stories of polyunlearn's news table (data/news.py: what
    `polyunlearn study-a` writes to OUT/data/news.jsonl) with their questions, answers and answer
    keys into every target: OUT/news.jsonl in the same one-table format, news_report.csv (flag
    keys_not_in_answers where a translated key no longer appears in its answer), summary.csv.
    Resumable as `translate_news`."""
    out = Path(out_dir)
    units = _table_units(stories, qas, source)
    present = list(dict.fromkeys(s.language for s in stories))
    settings = (source, chunk_size, roundtrip, threshold, log)
    records = _translate_rows(out, "news-table", units, present, translate_table_chunk, translator, targets, *settings)
    report, summary = roundtrip_report(records, "keys_in_answers", threshold)
    new_stories, new_qas = list(stories), list(qas)
    for r in records:
        if not r["empty"]:
            new_stories.append(NewsStory(r["id"], r["language"], r["real_doc"], r["fake_doc"]))
            new_qas += [NewsQA(**q) for q in r["qas"]]
    save_news_file(new_stories, new_qas, out / "news.jsonl")
    load_news_file(out / "news.jsonl")  # written in the format every reader checks
    write_table(out / "news_report.csv", report)
    write_table(out / "summary.csv", summary)
    return NewsTableTranslation(new_stories, new_qas, report, summary, out)
