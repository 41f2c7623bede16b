"""Evaluation in every language: per-item records (each carrying its language) and the
per-language summary (Prob, ROUGE-L recall, Truth Ratio, Forget Quality, Model Utility,
membership-attack AUCs forget vs holdout), as spec.md defines them. Model work happens in scoring.py; the
formulas live in metrics.py."""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Sequence

import pandas as pd
import torch

from polyunlearn.evaluation import metrics
from polyunlearn.core.encoding import Encoder
from polyunlearn.data.schema import QAItem
from polyunlearn.core.languages import get_language
from polyunlearn.evaluation.scoring import Score, score_and_generate
from polyunlearn.evaluation.settings import MARGIN_MIN, MARGIN_SHARE, EvalConfig

__all__ = ["EvalConfig", "build_records", "generation_budget", "item_pairs", "score_items", "summarize"]

log = logging.getLogger(__name__)

def generation_budget(cfg: EvalConfig, encoder: Encoder, items: Sequence[QAItem]) -> tuple[int, str]:
    """(new tokens per greedy answer, how it was chosen)."""
    if cfg.max_new_tokens:
        return cfg.max_new_tokens, f"{cfg.max_new_tokens} (--max-new-tokens)"
    longest = max((len(encoder.answer(it.answer)) for it in items), default=1)
    margin = max(MARGIN_MIN, math.ceil(MARGIN_SHARE * longest))
    return longest + margin, f"{longest + margin} (longest gold answer {longest} tokens + margin {margin})"


@dataclass(frozen=True)
class Slots:
    """Where an item's sequences sit in the flat list of scored pairs."""

    answer: int
    paraphrase: int  # -1 when the item has no paraphrase
    first_perturbed: int
    n_perturbed: int


def item_pairs(items: Sequence[QAItem]) -> tuple[list[tuple[str, str]], list[Slots]]:
    """Every (question, continuation) pair the metrics need: answer, paraphrase, perturbed."""
    pairs: list[tuple[str, str]] = []
    slots: list[Slots] = []
    for it in items:
        a = len(pairs)
        pairs.append((it.question, it.answer))
        p = -1
        if it.paraphrased_answer:
            p = len(pairs)
            pairs.append((it.question, it.paraphrased_answer))
        first = len(pairs)
        pairs.extend((it.question, w) for w in it.perturbed_answer)
        slots.append(Slots(a, p, first, len(it.perturbed_answer)))
    return pairs, slots


def score_items(model: torch.nn.Module, tokenizer, items: Sequence[QAItem], cfg: EvalConfig | None = None, encoder: Encoder | None = None) -> list[dict]:
    """One record per item: answer Prob, truth ratio (paraphrase vs perturbed), greedy answer
    and its ROUGE-L recall, membership-attack scores. Every record carries id/language/split."""
    cfg = cfg or EvalConfig()
    enc = encoder or Encoder(tokenizer, cfg.max_length)
    # All sequences of all items in one call, so batches are packed across languages, and each
    # question's prompt is run once for its scores and its greedy answer.
    pairs, slots = item_pairs(items)
    questions = [it.question for it in items] if cfg.generate else []
    vllm = bool(questions) and cfg.generation_backend == "vllm"
    if vllm:
        from polyunlearn.evaluation.vllm_backend import check_vllm_usable, vllm_generate

        check_vllm_usable(model, cfg.model_source)  # before the scoring, not after
    budget, why = generation_budget(cfg, enc, items) if questions else (0, "")
    if questions:
        log.info("greedy answers: up to %s new tokens", why)
    scores, answers = score_and_generate(model, enc, pairs, [] if vllm else questions, budget, cfg.eval_batch_tokens, cfg.max_batch, cfg.prefix_sharing)
    if vllm:
        answers = vllm_generate(model, enc, questions, budget, cfg.model_source)
    records = build_records(items, scores, slots, answers if cfg.generate else None)
    for rec in records if cfg.generate else []:
        rec["gen_max_new_tokens"] = budget  # the budget travels with the answers it limited
    return records


def build_records(items: Sequence[QAItem], scores: Sequence[Score], slots: Sequence[Slots], answers: Sequence[str] | None) -> list[dict]:
    """Per-item metric records from the pair scores (and greedy answers, when generated)."""
    records: list[dict] = []
    for k, (it, sl) in enumerate(zip(items, slots)):
        s = scores[sl.answer]
        rec: dict = {
            "id": it.id,
            "language": it.language,
            "split": it.split,
            "nll": s.mean_nll,
            "n_tokens": s.n_tokens,
            "prob": metrics.prob_from_mean_nll(s.mean_nll),
            "min_k": metrics.min_k_percent(s.token_logps, 0.2) if s.n_tokens else None,
            "zlib": metrics.zlib_ratio(-s.sum_logp, it.answer),
        }
        wrong = [scores[i].mean_nll for i in range(sl.first_perturbed, sl.first_perturbed + sl.n_perturbed)]
        if wrong:
            # Spec: on forget/retain sets the "correct" answer of the truth ratio is the paraphrase.
            correct = scores[sl.paraphrase].mean_nll if sl.paraphrase >= 0 else s.mean_nll
            tr = metrics.truth_ratio(correct, wrong)
            rec["truth_ratio"] = tr
            rec["truth_ratio_score"] = metrics.truth_ratio_score(tr, on_forget=it.split == "forget")
            if it.split == "general":
                rec["normalized_prob"] = metrics.normalized_prob(s.mean_nll, wrong)
        if answers is not None:
            rec["generated"] = answers[k]
            rec["rouge_l"] = metrics.rouge_l_recall(answers[k], it.answer, it.language)
        records.append(rec)
    return records


def _mean(df: pd.DataFrame, col: str) -> float | None:
    if col not in df or df[col].isna().all():
        return None
    return float(df[col].mean())


# Membership attacks as AUC columns: record column and the sign that makes higher = member.
MIA_SCORES = {"loss": ("nll", -1.0), "min_k": ("min_k", 1.0), "zlib": ("zlib", -1.0)}


def mia_aucs(g: pd.DataFrame) -> dict[str, float]:
    """`mia_<attack>_auc` of one language's records: forget items (members) against holdout
    items (never trained on). 0.5 = the attack cannot tell them apart, which is what a model
    that never saw the forget set should give, up to noise and real differences between the two
    item sets (hence `privleak`, relative to the retain model); empty when a split is missing."""
    out: dict[str, float] = {}
    if "split" not in g:
        return out
    forget, holdout = g[g["split"] == "forget"], g[g["split"] == "holdout"]
    for attack, (col, sign) in MIA_SCORES.items():
        if col not in g:
            continue
        pos, neg = forget[col].dropna(), holdout[col].dropna()
        if len(pos) and len(neg):
            out[f"mia_{attack}_auc"] = metrics.auc((sign * pos).tolist(), (sign * neg).tolist())
    return out


def summarize(records: Sequence[dict], retain_model_records: Sequence[dict] | None = None) -> pd.DataFrame:
    """Per-language summary: one row per language, columns `<split>_<metric>` plus
    model_utility, the membership-attack AUCs (when there is a holdout split) and, given the
    retain model's records, forget_quality and privleak (MUSE's PrivLeak on the loss AUC:
    100 (AUC - AUC_retain) / AUC_retain; near 0 = as private as never having trained on the
    forget set, negative = over-unlearned, positive = still leaking)."""
    df = pd.DataFrame(records)
    ref = pd.DataFrame(retain_model_records) if retain_model_records else None
    rows = []
    for lang, g in df.groupby("language", sort=False):
        row: dict = {"language": lang, "resource": get_language(lang).resource}
        for split, s in g.groupby("split"):
            row[f"{split}_n"] = len(s)
            for col in ("prob", "rouge_l", "truth_ratio_score", "normalized_prob"):
                v = _mean(s, col)
                if v is not None:
                    row[f"{split}_{col}"] = v
        if {"retain_prob", "retain_rouge_l", "retain_truth_ratio_score"} <= row.keys():
            general = None
            if {"general_normalized_prob", "general_rouge_l", "general_truth_ratio_score"} <= row.keys():
                general = (row["general_normalized_prob"], row["general_rouge_l"], row["general_truth_ratio_score"])
            row["model_utility"] = metrics.model_utility(row["retain_prob"], row["retain_rouge_l"], row["retain_truth_ratio_score"], general)
        if ref is not None and "truth_ratio" in g:
            mine = g[(g["split"] == "forget") & g["truth_ratio"].notna()]["truth_ratio"]
            theirs = ref[(ref["language"] == lang) & (ref["split"] == "forget")]["truth_ratio"].dropna()
            if len(mine) and len(theirs):
                row["forget_quality"] = metrics.forget_quality(mine.tolist(), theirs.tolist())
        row.update(mia_aucs(g))
        if ref is not None and "mia_loss_auc" in row:
            base = mia_aucs(ref[ref["language"] == lang]).get("mia_loss_auc")
            if base:  # an AUC of exactly 0 leaves the ratio undefined
                row["privleak"] = 100.0 * (row["mia_loss_auc"] - base) / base
        rows.append(row)
    return pd.DataFrame(rows)
