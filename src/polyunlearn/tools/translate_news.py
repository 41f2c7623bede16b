"""`polyunlearn translate` for the news format of Study A (data/news_truthful.py): every text field
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from polyunlearn.core.atomic import write_table
from polyunlearn.core.languages import get_language
from polyunlearn.data.news_truthful import NewsTruthful, news_from_records, news_rows, save_news_truthful
from polyunlearn.data.schema import DataError
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
    if not rows:
        raise DataError(f"no story in the source language {source!r}; languages present: {', '.join(data.languages)}")
    targets = check_request(translator, source, targets, data.languages, chunk_size)
    fingerprint = hashlib.sha256(json.dumps(rows, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()
    _check_manifest(
        out,
        {"format": "news", "source_language": source, "source_sha256": fingerprint, "chunk_size": chunk_size}
        | translator.settings()
        | {"roundtrip": roundtrip, "targets": targets, "threshold": threshold},
    )
    records = translate_in_chunks(
        out,
        rows,
        [r["id"] for r in rows],
        targets,
        chunk_size,
        lambda chunk, target: translate_story_chunk(chunk, translator, source, target, roundtrip),
        name=("news", "stories"),
        log=log,
    )
    return _assemble(out, data, records, threshold)


def _assemble(out: Path, data: NewsTruthful, records: list[dict], threshold: float) -> NewsTranslation:
    report_rows, kept = [], []
    for r in records:
        scores = list(r["chrf"].values())
        mean = sum(scores) / len(scores) if scores else None
        flags = [f"empty:{f}" for f in r["empty"]]
        flags += [] if r["keyword_in_fake_news"] else ["keyword_not_in_fake_news"]
        flags += ["low_chrf"] if mean is not None and mean < threshold else []
        if not r["empty"]:
            kept.append({k: v for k, v in r.items() if k not in ("chrf", "empty", "keyword_in_fake_news")})
        report_rows.append(
            {
                "id": r["id"],
                "language": r["language"],
                "roundtrip_chrf": mean,
                "keyword_in_fake_news": r["keyword_in_fake_news"],
                "flagged": bool(flags),
                "flags": ";".join(flags),
                "kept": not r["empty"],
            }
        )
    report = pd.DataFrame(report_rows)
    summary = pd.DataFrame(
        [
            {
                "language": lang,
                "stories": len(g),
                "kept": int(g["kept"].sum()),
                "flagged": int(g["flagged"].sum()),
                "keyword_in_fake_news": int(g["keyword_in_fake_news"].sum()),
                "mean_roundtrip_chrf": float(g["roundtrip_chrf"].mean()) if g["roundtrip_chrf"].notna().any() else None,
            }
            for lang, g in report.groupby("language", sort=False)
        ]
    )
    rows = news_rows(data) + kept
    merged = news_from_records([(f"{out / 'news.jsonl'}: row {i + 1}", i, row) for i, row in enumerate(rows)])
    save_news_truthful(merged, out / "news.jsonl")
    write_table(out / "news_report.csv", report)
    write_table(out / "summary.csv", summary)
    return NewsTranslation(merged, report, summary, out)
