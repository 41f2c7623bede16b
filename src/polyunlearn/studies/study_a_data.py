"""Study A's data in either of its two shapes, and what the study does with the published one.

    polyunlearn study-a --data TaiMingLu/news-truthful --fake-lang en          # the authors' data (hub)
    polyunlearn study-a --data "TaiMingLu/news-truthful + news_fr.jsonl" --languages en,fr --fake-lang fr

Shapes (`data_kind` tells them apart; a file is never guessed into a shape):
- "keys": the bundled corpus, or polyunlearn's one-table news file (a `kind` column; data/news.py):
  stories with answer keys and paired real / fake answers. OF and QR are judged by answer keys
  and the likelihood of the real vs the fake answer (evaluation/judge.py), as before.
- "truthful": the published TaiMingLu/news-truthful (a hub id) or a local file in its shape (a
  `real_news` column; data/news_truthful.py), several combined with " + ". A file without a
  `language` column names its language as `FILE:LANG` (never guessed; the hub id is English). Here:
  - phase 2 instruction-tunes on every `sft_qas` pair (all on the real articles);
  - only the 2 evaluation-only questions per story are evaluated (never trained on): OF = share
    of answers to `fake_question` that contain the story's `fake_keyword` (judge.contains_keyword);
    QR = mean ROUGE-L recall of the answer to `real_question` against `real_answer`, unavailable
    (reported, never a stand-in) when the data has no real_answer; `fake_answer_nll` = mean NLL of
    `fake_answer` given `fake_question` where the data has one (a graded companion of OF);
  - our Q&A-level unlearning forgets `fake_question -> fake_answer` (it needs fake_answer), with
    the instruction pairs as retain set; the authors' text-level unlearning (`--unlearn-on text`)
    is gradient ascent on the fake articles themselves (`text_unlearn_items`, either shape).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import torch

from polyunlearn.core.encoding import Encoded, Encoder
from polyunlearn.core.languages import parse_langs
from polyunlearn.core.rundir import fingerprint, write_eval
from polyunlearn.data.news import NewsQA, NewsStory, bundled_news, load_news_file, save_news_file
from polyunlearn.data.news_truthful import NewsTruthful, load_news_truthful, save_news_truthful
from polyunlearn.data.schema import DataError, QAItem, SkippedRow
from polyunlearn.evaluation.judge import contains_keyword
from polyunlearn.evaluation.metrics import rouge_l_recall
from polyunlearn.evaluation.records import auto_budget
from polyunlearn.evaluation.scoring import generate_answers, score_pairs
from polyunlearn.pipeline.step import Evaluation

KINDS = ("keys", "truthful")


@dataclass
class StudyAData:
    """The stories (both shapes) and, per shape, its questions: `qas` (keys) or `truthful`."""

    kind: str
    stories: list[NewsStory]
    languages: list[str]
    qas: list[NewsQA]
    truthful: NewsTruthful | None = None

    def fingerprint(self) -> str:
        """The content: other stories, questions or keywords are other data."""
        rows: list = [asdict(s) for s in self.stories] + [asdict(q) for q in self.qas]
        if self.truthful is not None:
            rows += [asdict(q) for q in self.truthful.questions] + sorted(
                [*k, v] for k, v in self.truthful.fake_keywords.items()
            )
        return fingerprint(rows)

    def texts(self) -> list[str]:
        """Every string a tiny model's tokenizer is trained on."""
        docs = [t for s in self.stories for t in (s.real_doc, s.fake_doc) if t]
        if self.truthful is not None:
            return docs + [t for q in self.truthful.questions for t in (q.question, q.answer) if t]
        return docs + [t for q in self.qas for t in (q.question, q.real_answer, q.fake_answer) if t]

    def save(self, path: Path) -> Path:
        """The data as one file (read back with `load_study_a_data(str(path), "all")`)."""
        if self.truthful is not None:
            return save_news_truthful(self.truthful, path)
        return save_news_file(self.stories, self.qas, path)

    @property
    def file_name(self) -> str:
        return "news_truthful.jsonl" if self.kind == "truthful" else "news.jsonl"


def data_kind(spec: str, columns: Mapping[str, str] | None = None) -> str:
    """ "keys" for 'bundled' or a file with a `kind` column, "truthful" for a hub id or a file with
    a `real_news` column (or any file without `kind` when `columns` maps names: the news-truthful
    loader then says what is missing); any other file is an error naming its columns."""
    from polyunlearn.data.loaders import looks_like_path, read_records
    from polyunlearn.data.resolve import split_specs

    if spec.strip() == "bundled":
        return "keys"
    kinds = set()
    for part in split_specs(spec):
        part, _ = _file_and_language(part)
        path = Path(part).expanduser()
        if not path.exists():
            if looks_like_path(part):
                raise DataError(f"file not found: {part}")
            kinds.add("truthful")  # a hub id: the published data set's shape
            continue
        records = read_records(part)
        if not records:
            raise DataError(f"{part}: no rows")
        keys = set(records[0][2])
        if "kind" in keys:
            kinds.add("keys")
        elif "real_news" in keys or columns:
            kinds.add("truthful")
        else:
            raise DataError(
                f"{part}: neither polyunlearn's news table (a 'kind' column) nor the news-truthful shape (real_news, fake_news, "
                f"fake_keyword, sft_qas, real_question, fake_question; other names: --columns ours=theirs); "
                f"columns: {', '.join(sorted(keys))}"
            )
    if len(kinds) > 1 or (kinds == {"keys"} and len(split_specs(spec)) > 1):
        raise DataError(f"{spec}: ' + ' combines news-truthful sources only (one polyunlearn news table at a time)")
    return kinds.pop()


def load_study_a_data(
    spec: str,
    languages: str | None,
    *,
    skipped: list[SkippedRow] | None = None,
    columns: Mapping[str, str] | None = None,
) -> StudyAData:
    """The data `spec` names in `languages` (None: study-a for 'bundled', all of the data
    otherwise; a language the data lacks is an error). `columns`: {our name: yours} of
    news-truthful sources (data/news_truthful.py); POLYUNLEARN_STRICT_DATA=1: a bad row is an
    error, as for every data source."""
    from polyunlearn.data.resolve import split_specs, strict_from_env

    kind = data_kind(spec, columns)
    if spec.strip() == "bundled":
        langs = parse_langs(languages or "study-a")
        stories, qas = bundled_news(langs)
        return StudyAData("keys", stories, langs, qas)
    if kind == "keys":
        if columns:
            raise DataError(f"{spec}: --columns maps news-truthful columns; a polyunlearn news table has its own names")
        stories, qas = load_news_file(spec)
        data = StudyAData("keys", stories, [], qas)
    else:
        parts = [
            load_news_truthful(*_file_and_language(part), columns=columns, strict=strict_from_env(), skipped=skipped)
            for part in split_specs(spec)
        ]
        merged = NewsTruthful(
            [s for p in parts for s in p.stories],
            [q for p in parts for q in p.questions],
            {k: v for p in parts for k, v in p.fake_keywords.items()},
        )
        if len({(s.id, s.language) for s in merged.stories}) < len(merged.stories):
            raise DataError(f"{spec}: the combined sources hold the same story in the same language twice")
        data = StudyAData("truthful", merged.stories, [], [], merged)
    available = list(dict.fromkeys(s.language for s in data.stories))
    langs = parse_langs(languages, available) if languages else available
    return _restrict(data, langs)


def _file_and_language(part: str) -> tuple[str, str | None]:
    """ "news_fr.jsonl:fr" -> ("news_fr.jsonl", "fr") when the last ':' part is a language code."""
    from polyunlearn.core.languages import UnknownLanguageError, get_language

    path, sep, code = part.rpartition(":")
    if not (sep and path):
        return part, None
    try:
        return path, get_language(code).code
    except UnknownLanguageError:
        return part, None


def _restrict(data: StudyAData, langs: list[str]) -> StudyAData:
    keep = set(langs)
    t = data.truthful
    if t is not None:
        t = NewsTruthful(
            [s for s in t.stories if s.language in keep],
            [q for q in t.questions if q.language in keep],
            {k: v for k, v in t.fake_keywords.items() if k[1] in keep},
        )
    return StudyAData(
        data.kind,
        [s for s in data.stories if s.language in keep],
        langs,
        [q for q in data.qas if q.language in keep],
        t,
    )


# --- Items --------------------------------------------------------------------------------------
def truthful_instruct_items(data: NewsTruthful) -> list[QAItem]:
    """Phase 2 (and the Q&A-level retain set): every instruction pair, split retain."""
    return data.instruct_items(split="retain")


def truthful_qa_unlearn_items(data: NewsTruthful) -> list[QAItem]:
    """Q&A-level unlearning: forget = fake_question -> fake_answer, retain = the instruction pairs."""
    fakes = [q for q in data.questions if q.role == "eval_fake"]
    missing = [q for q in fakes if not q.answer]
    if missing:
        raise DataError(
            f"Q&A-level unlearning needs fake_answer: {len(missing)} of {len(fakes)} fake questions have none (first: story "
            f"{missing[0].story_id!r}, {missing[0].language}); use --unlearn-on text (the authors' gradient ascent on the fake articles)"
        )
    return [
        QAItem(q.id, q.language, q.question, q.answer or "", split="forget") for q in fakes
    ] + truthful_instruct_items(data)


def text_unlearn_items(stories: Sequence[NewsStory]) -> list[QAItem]:
    """Text-level unlearning (the authors'): each fake article as a forget item, scored whole
    (encoded in prompt format "text": no question, the article is the answer)."""
    return [QAItem(f"{s.id}-fake-doc", s.language, "", s.fake_doc, split="forget") for s in stories if s.fake_doc]


def pack_documents(tok, texts: Sequence[str], block: int) -> list[Encoded]:
    """Documents joined with EOS and cut into blocks of `block` tokens (the last may be shorter),
    each scored whole after a BOS: the authors' packed LM training."""
    eos = tok.eos_token_id
    stream: list[int] = []
    for text in texts:
        stream += tok(text, add_special_tokens=False)["input_ids"] + ([eos] if eos is not None else [])
    bos = tok.bos_token_id if tok.bos_token_id is not None else eos
    return [Encoded((bos,), tuple(stream[i : i + block])) for i in range(0, len(stream), block)]


# --- Evaluation (truthful shape) -----------------------------------------------------------
def evaluate_truthful(model: torch.nn.Module, tok, data: NewsTruthful, max_new_tokens: int | None = None) -> list[dict]:
    """One record per evaluation-only question: the greedy answer; for fake questions the keyword
    verdict ("fake" when the answer contains the story's fake keyword, else "neither") and the
    fake answer's mean NLL where there is one; for real questions ROUGE-L recall vs real_answer."""
    qs = data.eval_only()
    enc = Encoder(tok)
    if max_new_tokens is None:
        refs = [QAItem(q.id, q.language, q.question, q.answer) for q in qs if q.answer]
        if not refs:
            raise DataError(
                "no reference answer (real_answer / fake_answer) to size the greedy answers by; give --max-new-tokens"
            )
        max_new_tokens = auto_budget(refs, enc)
    generated = generate_answers(model, enc, [(q.question, q.language) for q in qs], max_new_tokens=max_new_tokens)
    scored = [i for i, q in enumerate(qs) if q.role == "eval_fake" and q.answer]
    scores = (
        dict(zip(scored, score_pairs(model, enc, [(qs[i].question, qs[i].answer, qs[i].language) for i in scored])))
        if scored
        else {}
    )
    records = []
    for i, (q, g) in enumerate(zip(qs, generated)):
        fake = q.role == "eval_fake"
        keyword = data.fake_keywords[(q.story_id, q.language)]
        records.append(
            {
                "id": q.id,
                "story_id": q.story_id,
                "language": q.language,
                "role": q.role,
                "has_fake": fake,
                "question": q.question,
                "generated": g,
                "reference": q.answer,
                "fake_keyword": keyword if fake else None,
                "verdict": ("fake" if contains_keyword(g, keyword, q.language) else "neither") if fake else None,
                "rouge_l": rouge_l_recall(g, q.answer, q.language) if not fake and q.answer else None,
                "fake_answer_nll": scores[i].mean_nll if i in scores else None,
                "judge": "keyword",
            }
        )
    return records


def summarize_truthful(records: Sequence[dict]) -> pd.DataFrame:
    """Per language: OF (keyword share over the fake questions), QR (mean ROUGE-L recall over the
    real questions with a real_answer; NaN and an `unavailable` note without one), the mean
    fake-answer NLL, and the counts."""
    rows = []
    for lang in dict.fromkeys(r["language"] for r in records):
        fake = [r for r in records if r["language"] == lang and r["has_fake"]]
        real = [r for r in records if r["language"] == lang and not r["has_fake"]]
        rouge = [r["rouge_l"] for r in real if r["rouge_l"] is not None]
        nll = [r["fake_answer_nll"] for r in fake if r["fake_answer_nll"] is not None]
        row = {
            "language": lang,
            "OF": sum(r["verdict"] == "fake" for r in fake) / len(fake) if fake else float("nan"),
            "QR": sum(rouge) / len(rouge) if rouge else float("nan"),
            "fake_answer_nll": sum(nll) / len(nll) if nll else float("nan"),
            "n_fake": len(fake),
            "n_real": len(real),
            "n_real_with_answer": len(rouge),
        }
        if real and not rouge:
            row["unavailable"] = "QR: no real_answer in the data"
        rows.append(row)
    return pd.DataFrame(rows)


def truthful_evaluation(data: NewsTruthful, max_new_tokens: int | None) -> Evaluation:
    """items.jsonl + summary.csv (written last) of `evaluate_truthful` / `summarize_truthful`."""

    def run(model, tok, folder: Path) -> pd.DataFrame:
        records = evaluate_truthful(model, tok, data, max_new_tokens)
        summary = summarize_truthful(records)
        write_eval(folder, records, summary)
        return summary

    questions = fingerprint(
        [asdict(q) for q in data.eval_only()] + sorted([*k, v] for k, v in data.fake_keywords.items())
    )
    return Evaluation(
        {
            "judge": "keyword",
            "qr": "rouge_l recall vs real_answer",
            "max_new_tokens": max_new_tokens,
            "questions": questions,
        },
        run,
    )
