"""The probes of `polyunlearn attack` (probes/attack.py), each run in run folders of its own
through core/rundir and the shared steps:

- `probe_evaluation`: the evaluation every probe uses: per-item records of the forget items (Prob,
  truth ratio, greedy answer, ROUGE-L from evaluation/records.py as on main), plus the language
  each answer is written in and its chrF (evaluation/confusion.py), per condition x language;
- `prompt_items`: the prompt probes as items: cross-lingual prompting (question in X, answer in
  Y's gold, with the instruction "answer in Y" in X's words, or without it), the paraphrased
  question, and the per-language affirmative prefix forced before the answer (`ProbeEncoder`);
- `quantized_eval`: the unlearned model quantized and dequantized (core/quantize.py), evaluated;
- `relearn_run`: a copy fine-tuned on a few forget items in one language (or retain items, or
  a text file) and the held-out forget items evaluated in every language.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from polyunlearn.core.atomic import write_json
from polyunlearn.core.encoding import Encoded, Encoder
from polyunlearn.core.logprobs import mean_nll
from polyunlearn.core.models import answer_text
from polyunlearn.core.rundir import RunFolder, canonical, data_fingerprint, load_eval, write_eval
from polyunlearn.core.trainloop import TrainConfig, train
from polyunlearn.data.loaders import read_file_records
from polyunlearn.data.probe_text import affirmative_prefix, answer_in
from polyunlearn.data.resolve import parse_tofu_spec, split_specs
from polyunlearn.data.schema import DataError, QAItem
from polyunlearn.data.tofu import TOFU_HF_ID, load_tofu
from polyunlearn.evaluation.confusion import annotate, confusion_summary
from polyunlearn.evaluation.records import EvalConfig, score_items, summarize
from polyunlearn.methods.reference import forward_logits
from polyunlearn.pipeline.step import Evaluation

PLAIN = "plain"


class ProbeEncoder(Encoder):
    """An Encoder whose prompt for some questions ends with forced answer text (the affirmative
    prefix): 'Question: q\\nAnswer: Sure, here is the answer:' and the scored answer after it."""

    def __init__(self, tokenizer: Any, max_length: int, prefixes: Mapping[str, str], prompt_format: str = "auto"):
        super().__init__(tokenizer, max_length, prompt_format)
        self.prefixes = dict(prefixes)

    def prompt(self, question: str, language: str | None = None) -> tuple[int, ...]:
        ids = super().prompt(question, language)
        prefix = self.prefixes.get(question)
        if prefix is None:
            return ids
        text = answer_text(self.tok, prefix, self.prompt_format, language)
        return ids + tuple(self.tok(text, add_special_tokens=False)["input_ids"])


def probe_evaluation(
    items: Sequence[QAItem],
    conditions: Sequence[str],
    ecfg: EvalConfig,
    candidates: Sequence[str] | None,
    expected: Sequence[str] | None = None,
    prefixes: Mapping[str, str] | None = None,
    what: Mapping[str, Any] | None = None,
) -> Evaluation:
    """Score `items` (parallel to `conditions`, the probe condition of each), write items.jsonl
    (one record per item with its `condition`) and summary.csv (one row per condition x
    language: records.summarize's columns + the language-confusion columns), summary last."""
    if len(items) != len(conditions):
        raise ValueError(f"{len(items)} items for {len(conditions)} conditions")
    expected = list(expected) if expected is not None else [it.language for it in items]

    def run(model: torch.nn.Module, tokenizer: Any, folder: Path) -> pd.DataFrame:
        enc = ProbeEncoder(tokenizer, ecfg.max_length, prefixes or {}, ecfg.prompt_format)
        records = score_items(model, tokenizer, items, ecfg, encoder=enc)
        out = []
        for rec, it, cond, want in zip(records, items, conditions, expected):
            rec = (
                annotate([rec], {(it.id, it.language): it.answer}, {(it.id, it.language): want}, candidates)[0]
                if "generated" in rec
                else rec
            )
            out.append(rec | {"condition": cond})
        summary = summarize_conditions(out)
        write_eval(folder, out, summary)
        return summary

    ident = {
        "eval": canonical(ecfg),
        "items": data_fingerprint(items),
        "conditions": list(conditions),
        "expected": expected,
        "prefixes": dict(prefixes or {}),
        "langid_candidates": list(candidates) if candidates is not None else "all",
        "probe": dict(what or {}),
    }
    return Evaluation(ident, run)


def summarize_conditions(records: Sequence[dict]) -> pd.DataFrame:
    """records.summarize + confusion_summary for each condition, one row per condition x language."""
    frames = []
    for cond in dict.fromkeys(r["condition"] for r in records):
        recs = [r for r in records if r["condition"] == cond]
        s = summarize(recs)
        conf = confusion_summary(recs)
        if len(conf):
            conf = conf.drop(columns=["rouge_l", "chrf", "n"]).rename(
                columns=lambda c: c if c == "language" else f"forget_{c}"
            )
            s = s.merge(conf, on="language", how="left")
        chrf = [r for r in recs if r.get("chrf") is not None]
        if chrf:
            s = s.merge(
                pd.DataFrame(chrf).groupby("language", sort=False)["chrf"].mean().rename("forget_chrf").reset_index(),
                on="language",
                how="left",
            )
        frames.append(s.assign(condition=cond))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# ----------------------------------------------------------------------------- prompt probes


def crosslingual_items(
    forget: Sequence[QAItem], languages: Sequence[str], instructed: bool
) -> tuple[list[QAItem], list[str]]:
    """For every pair (X, Y) of `languages`: the forget question asked in X (with, when
    `instructed`, the instruction in X's words to answer in Y), scored against Y's gold answer
    (the item keeps Y's id, answers and language). Condition label 'X>Y'."""
    by_key = {(it.id, it.language): it for it in forget}
    ids = list(dict.fromkeys(it.id for it in forget))
    items, conds = [], []
    for x in languages:
        for y in languages:
            for i in ids:
                qx, ay = by_key.get((i, x)), by_key.get((i, y))
                if qx is None or ay is None:
                    continue
                question = f"{qx.question} {answer_in(x, y)}" if instructed else qx.question
                items.append(replace(ay, question=question))
                conds.append(f"{x}>{y}")
    return items, conds


def jailbreak_items(
    forget: Sequence[QAItem], paraphrased: Mapping[tuple[str, str], str] | None
) -> tuple[list[QAItem], list[str], dict[str, str]]:
    """The affirmative-prefix condition (every forget item, its language's prefix forced before
    the answer) and, where `paraphrased` has the item's paraphrased question, the paraphrase
    condition. Returns (items, conditions, question -> prefix)."""
    items, conds, prefixes = [], [], {}
    for it in forget:
        items.append(it)
        conds.append("affirmative_prefix")
        prefixes[it.question] = affirmative_prefix(it.language)
    for it in forget:
        q = (paraphrased or {}).get((it.id, it.language))
        if q and q != it.question:
            items.append(replace(it, question=q))
            conds.append("paraphrased_question")
    return items, conds, prefixes


def load_paraphrases(path: str | Path) -> dict[tuple[str, str], str]:
    """(id, language) -> paraphrased question from a JSONL/CSV/Parquet file with the columns id,
    language, paraphrased_question (TOFU's name for it)."""
    out = {}
    for where, _, row in read_file_records(Path(path)):
        if not all(row.get(k) for k in ("id", "language", "paraphrased_question")):
            raise DataError(f"{where}: needs id, language and paraphrased_question")
        out[(str(row["id"]), str(row["language"]))] = str(row["paraphrased_question"]).strip()
    if not out:
        raise DataError(f"{path}: no paraphrased questions")
    return out


def tofu_paraphrases(data_spec: str) -> dict[tuple[str, str], str]:
    """(id, language) -> TOFU's paraphrased_question for every part of a --data spec that is
    TOFU (`tofu:...`); data/tofu.py keeps that column only as a replacement question
    (use_paraphrased_question), so each TOFU part is read twice and the questions compared."""
    out: dict[tuple[str, str], str] = {}
    for part in split_specs(data_spec):
        if not part.strip().startswith("tofu:"):
            continue
        folder, forget, lang = parse_tofu_spec(part.strip()[len("tofu:") :])
        kwargs = {"language": lang, "source": folder or TOFU_HF_ID, "general": False}  # the forget rows are enough
        plain = {it.key: it.question for it in load_tofu(forget, **kwargs)}
        for it in load_tofu(forget, use_paraphrased_question=True, **kwargs):
            if it.split == "forget" and plain.get(it.key) not in (None, it.question):
                out[it.key] = it.question
    return out


# ----------------------------------------------------------------------------- relearning


def relearn_ids(forget: Sequence[QAItem], fraction: float) -> list[str]:
    """The forget ids an attacker relearns: ceil(fraction * n) of the n forget facts, chosen by a
    stable hash of the id (crc32), the same in every language; the others are held out."""
    import math

    ids = sorted(dict.fromkeys(it.id for it in forget), key=lambda i: (zlib.crc32(i.encode("utf-8")), i))
    k = max(1, math.ceil(fraction * len(ids)))
    if k >= len(ids):
        raise DataError(f"relearn fraction {fraction:g} leaves no held-out forget item ({len(ids)} forget facts)")
    return sorted(ids[:k])


def encode_text(tok: Any, text: str, max_length: int) -> Encoded:
    """A line of a user's text file for plain LM training (BOS unscored, every token + EOS scored)."""
    ids = tok(text, add_special_tokens=False)["input_ids"][: max_length - 2]
    bos = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    return Encoded((bos,), tuple(ids) + ((tok.eos_token_id,) if tok.eos_token_id is not None else ()))


def relearn_data(
    tok: Any, items: Sequence[QAItem] | None, texts: Sequence[str] | None, max_length: int, prompt_format: str = "auto"
) -> list[Encoded]:
    if texts is not None:
        return [encode_text(tok, t, max_length) for t in texts]
    enc = Encoder(tok, max_length, prompt_format)
    return [enc.encode(it.question, it.answer, it.language) for it in items or []]


def relearn_run(
    folder: Path,
    *,
    load: Callable[[], torch.nn.Module],
    identity: Mapping[str, Any],
    tokenizer: Any,
    data: Sequence[Encoded],
    cfg: TrainConfig,
    evaluation: Evaluation,
    overwrite: bool = False,
    console: Any = None,
) -> tuple[list[dict], pd.DataFrame]:
    """Fine-tune `load()` on `data` (loss = NLL of the scored tokens) with `cfg`, evaluate into
    folder/eval; one run folder (kind "relearn"), reused when done with the same identity. The
    relearned weights are not kept (an 8B copy per condition would be 16 GB each)."""
    ident = dict(identity) | {"relearn": canonical(cfg), "evaluation": evaluation.identity}
    with RunFolder(folder, ident, kind="relearn", overwrite=overwrite) as rf:
        if not rf.done:
            if not data:
                raise DataError(f"{folder.name}: nothing to relearn on")

            def loss_fn(m, batch, _):
                return mean_nll(forward_logits(m, batch), batch["labels"]), {}

            model, hist = train(
                load(),
                loss_fn,
                list(data),
                cfg,
                tokenizer.pad_token_id,
                checkpoint_dir=rf.ckpt,
                desc=f"relearn {folder.name}",
                progress=False,
            )
            write_json(rf.history, hist)
            evaluation.run(model, tokenizer, rf.eval)
            rf.finish({"steps": len(hist), "final_loss": hist[-1]["loss"] if hist else None})
        elif console is not None:
            console.print(f"[dim]relearn {folder.name}: done, skipping[/dim]")
        return load_eval(rf.eval)
