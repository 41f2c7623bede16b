"""Evaluation in every language: per-item records (each carrying its language) and the
per-language summary (Prob, ROUGE-L, Truth Ratio, Exact Memorization, Extraction Strength,
Forget Quality, Model Utility, membership-attack AUCs forget vs holdout, PrivLeak), as
spec.md defines them. Model work happens in scoring.py, the formulas live in metrics.py and
mia.py, and which columns exist (and what the references call them) in metric_table.py."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import torch

from polyunlearn.core.encoding import Encoder
from polyunlearn.core.languages import get_language
from polyunlearn.data.schema import GENERAL_SPLITS, PARAPHRASE_SPLITS, QAItem, evaluated
from polyunlearn.evaluation import metrics
from polyunlearn.evaluation.metric_table import ITEM_MEANS, MIA_ATTACKS
from polyunlearn.evaluation.scoring import Score, score_and_generate
from polyunlearn.evaluation.settings import MARGIN_MIN, MARGIN_SHARE, EvalConfig

__all__ = ["EvalConfig", "auto_budget", "build_records", "generation_budget", "item_pairs", "score_items", "summarize"]

log = logging.getLogger(__name__)


def generation_budget(cfg: EvalConfig, encoder: Encoder, items: Sequence[QAItem]) -> tuple[int, str]:
    """(new tokens per greedy answer, how it was chosen)."""
    if cfg.max_new_tokens:
        return cfg.max_new_tokens, f"{cfg.max_new_tokens} (--max-new-tokens)"
    longest, margin = _longest_and_margin(items, encoder)
    return longest + margin, f"{longest + margin} (longest gold answer {longest} tokens + margin {margin})"


def auto_budget(items: Sequence[QAItem], encoder: Encoder) -> int:
    """The default greedy budget of `items`: their longest gold answer in tokens (EOS included, in
    the encoder's prompt format and each item's language) plus max(16, a quarter of it). Why a
    margin: a greedy answer that is right but worded differently runs a little longer, and a cut
    answer loses ROUGE recall where a longer one loses nothing; a fixed cap cut Hindi answers
    (most tokens per word) more than English ones, so ROUGE differed by language."""
    return sum(_longest_and_margin(items, encoder))


def _longest_and_margin(items: Sequence[QAItem], encoder: Encoder) -> tuple[int, int]:
    longest = max((len(encoder.answer(it.answer, it.language)) for it in items), default=1)
    return longest, max(MARGIN_MIN, math.ceil(MARGIN_SHARE * longest))


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


def score_items(
    model: torch.nn.Module,
    tokenizer,
    items: Sequence[QAItem],
    cfg: EvalConfig | None = None,
    encoder: Encoder | None = None,
) -> list[dict]:
    """One record per evaluated item (not the training-only splits): answer Prob, truth ratio
    (paraphrase vs perturbed), greedy answer and its ROUGE-L recall, membership-attack scores.
    Every record carries id/language/split."""
    cfg = cfg or EvalConfig()
    items = evaluated(items)  # training-only copies (forget_train, retain_train) are never scored
    enc = encoder or Encoder(tokenizer, cfg.max_length, cfg.prompt_format)
    # All sequences of all items in one call, so batches are packed across languages, and each
    # question's prompt is run once for its scores and its greedy answer.
    pairs, slots = item_pairs(items)
    # Each pair with its item's language, for prompt formats with per-language tags (core/prompts.py).
    langs = [it.language for it in items for _ in range(1 + bool(it.paraphrased_answer) + len(it.perturbed_answer))]
    pairs = [(q, a, lang) for (q, a), lang in zip(pairs, langs, strict=True)]
    # Only each item's answer needs the per-token distribution statistics (Min-K%++, EM, ES).
    detail = [False] * len(pairs)
    for sl in slots:
        detail[sl.answer] = True
    questions = [(it.question, it.language) for it in items] if cfg.generate else []
    vllm = bool(questions) and cfg.generation_backend == "vllm"
    if vllm:
        from polyunlearn.evaluation.vllm_backend import check_vllm_usable, vllm_generate

        check_vllm_usable(model, cfg.model_source)  # before the scoring, not after
    budget, why = generation_budget(cfg, enc, items) if questions else (0, "")
    if questions:
        log.info("greedy answers: up to %s new tokens", why)
    scores, answers = score_and_generate(
        model,
        enc,
        pairs,
        [] if vllm else questions,
        budget,
        cfg.eval_batch_tokens,
        cfg.max_batch,
        cfg.prefix_sharing,
        detail,
    )
    if vllm:
        answers = vllm_generate(model, enc, questions, budget, cfg.model_source)
    records = build_records(items, scores, slots, answers if cfg.generate else None)
    for rec in records if cfg.generate else []:
        rec["gen_max_new_tokens"] = budget  # the budget travels with the answers it limited
    return records


def truth_ratio_missing(item: QAItem) -> str | None:
    """Why the item has no truth ratio (None when it has one): the truth ratio is never computed
    against a stand-in for a missing field."""
    if not item.perturbed_answer:
        return "no perturbed_answer"
    if not item.paraphrased_answer and item.split in PARAPHRASE_SPLITS:
        return "no paraphrased_answer"
    return None


def _token_record(s: Score) -> dict:
    """The answer-token metrics of one scored answer, on its tokens without the appended EOS
    (as MUSE and open-unlearning); None where the answer has no such token, or the score
    carries no per-token statistics (a Score built outside scoring.py)."""
    logp = s.content(s.token_logps)
    if not logp:
        return {"min_k": None, "min_k_plus_plus": None, "exact_memorization": None, "extraction_strength": None}
    rec: dict = {"min_k": metrics.min_k_percent(logp)}
    has_stats = len(s.token_mu) == len(s.token_var) == len(s.token_top1) == len(s.token_logps)
    rec["min_k_plus_plus"] = (
        metrics.min_k_plus_plus(logp, s.content(s.token_mu), s.content(s.token_var)) if has_stats else None
    )
    top1 = s.content(s.token_top1) if has_stats else None
    rec["exact_memorization"] = metrics.exact_memorization(top1) if top1 else None
    rec["extraction_strength"] = metrics.extraction_strength(top1) if top1 else None
    return rec


def build_records(
    items: Sequence[QAItem], scores: Sequence[Score], slots: Sequence[Slots], answers: Sequence[str] | None
) -> list[dict]:
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
            **_token_record(s),
            "zlib": metrics.zlib_ratio(s.mean_nll, it.answer),
        }
        wrong = [scores[i].mean_nll for i in range(sl.first_perturbed, sl.first_perturbed + sl.n_perturbed)]
        missing = truth_ratio_missing(it)
        if missing:
            rec["truth_ratio_unavailable"] = missing
        elif wrong:
            correct = scores[sl.paraphrase].mean_nll if sl.paraphrase >= 0 else s.mean_nll
            tr = metrics.truth_ratio(correct, wrong)
            rec["truth_ratio"] = tr
            rec["truth_ratio_score"] = metrics.truth_ratio_score(tr, on_forget=it.split == "forget")
            if it.split in GENERAL_SPLITS:
                rec["normalized_prob"] = metrics.normalized_prob(s.mean_nll, wrong)
        if answers is not None:
            rec["generated"] = answers[k]
            rec["rouge_l"] = metrics.rouge_l_recall(answers[k], it.answer, it.language)
            rec["rouge_l_f1"] = metrics.rouge_l_f1(answers[k], it.answer, it.language)
        records.append(rec)
    return records


def _mean(df: pd.DataFrame, col: str) -> float | None:
    if col not in df or df[col].isna().all():
        return None
    return float(df[col].mean())


def mia_aucs(g: pd.DataFrame) -> dict[str, float]:
    """`mia_<attack>_auc` of one language's records: forget items (members) against holdout
    items (never trained on). 0.5 = the attack cannot tell them apart, which is what a model
    that never saw the forget set should give, up to noise and real differences between the two
    item sets (hence `privleak`, relative to the retain model); empty when a split is missing."""
    out: dict[str, float] = {}
    if "split" not in g:
        return out
    forget, holdout = g[g["split"] == "forget"], g[g["split"] == "holdout"]
    for attack, (col, sign) in MIA_ATTACKS.items():
        if col not in g:
            continue
        pos, neg = forget[col].dropna(), holdout[col].dropna()
        if len(pos) and len(neg):
            out[f"mia_{attack}_auc"] = metrics.auc((sign * pos).tolist(), (sign * neg).tolist())
    return out


def unavailable_notes(g: pd.DataFrame) -> list[str]:
    """One note per split of a language's records where some truth ratios are unavailable, e.g.
    'forget truth ratio: 10 of 10 items have no paraphrased_answer'."""
    if "truth_ratio_unavailable" not in g:
        return []
    notes = []
    for split, s in g.groupby("split", sort=False):
        why = s["truth_ratio_unavailable"].dropna()
        for reason, n in why.value_counts(sort=False).items():
            notes.append(f"{split} truth ratio: {n} of {len(s)} items have {reason}")
    return notes


def utility_components(row: dict) -> list[float] | None:
    """The values Model Utility is the harmonic mean of: retain Prob, ROUGE and Truth Ratio,
    then each general-knowledge split's normalized prob, ROUGE and Truth Ratio (TOFU's
    real_authors and world_facts separately: 9 values, as TOFU and open-unlearning; the
    bundled general set: 6). None without the retain triple; a general split that lacks one
    of its three (no generation, no perturbed answers) is left out, and model_utility_n says
    how many values went in."""
    if not {"retain_prob", "retain_rouge_l", "retain_truth_ratio_score"} <= row.keys():
        return None
    values = [row["retain_prob"], row["retain_rouge_l"], row["retain_truth_ratio_score"]]
    for split in GENERAL_SPLITS:
        triple = [f"{split}_normalized_prob", f"{split}_rouge_l", f"{split}_truth_ratio_score"]
        if set(triple) <= row.keys():
            values += [row[c] for c in triple]
    return values


def summarize(records: Sequence[dict], retain_model_records: Sequence[dict] | None = None) -> pd.DataFrame:
    """Per-language summary: one row per language, columns `<split>_<metric>` (metric_table.py
    names each one and its reference) plus model_utility, the membership-attack AUCs (when
    there is a holdout split) and, given the retain model's records, forget_quality and
    privleak (MUSE's: on the Min-K% AUC, 100 (AUC_M - AUC_M,retain) / AUC_M,retain with
    AUC_M = 1 - AUC; near 0 = as private as never having trained on the forget set, about -100
    = still leaking, positive = over-unlearned)."""
    df = pd.DataFrame(records)
    ref = pd.DataFrame(retain_model_records) if retain_model_records else None
    rows = []
    for lang, g in df.groupby("language", sort=False):
        row: dict = {"language": lang, "resource": get_language(lang).resource}
        for split, s in g.groupby("split"):
            row[f"{split}_n"] = len(s)
            for col in ITEM_MEANS:
                v = _mean(s, col)
                if v is not None:
                    row[f"{split}_{col}"] = v
        notes = unavailable_notes(g)
        if {"retain_prob", "retain_rouge_l"} <= row.keys() and "retain_truth_ratio_score" not in row:
            notes.append("model_utility: unavailable (no retain truth ratio)")
        if notes:
            row["unavailable"] = "; ".join(notes)
        components = utility_components(row)
        if components is not None:
            row["model_utility"] = metrics.harmonic_mean(components)
            row["model_utility_n"] = len(components)
        if ref is not None and "truth_ratio" in g:
            mine = g[(g["split"] == "forget") & g["truth_ratio"].notna()]["truth_ratio"]
            theirs = ref[(ref["language"] == lang) & (ref["split"] == "forget")]["truth_ratio"].dropna()
            if len(mine) and len(theirs):
                row["forget_quality"] = metrics.forget_quality(mine.tolist(), theirs.tolist())
        row.update(mia_aucs(g))
        if ref is not None and "mia_min_k_auc" in row:
            base = mia_aucs(ref[ref["language"] == lang]).get("mia_min_k_auc")
            if base is not None:
                leak = metrics.privleak(row["mia_min_k_auc"], base)
                if leak is not None:  # undefined when the retain model's AUC is exactly 1
                    row["privleak"] = leak
        rows.append(row)
    return pd.DataFrame(rows)
