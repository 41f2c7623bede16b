"""The concept-unlearning metric of Study B (arXiv 2601.05641) as an evaluation: the biased-answer
rate per language, written next to the factual evaluation of the same folder. Any evaluation of
concept data (`unlearn --task concept`, the concept study) writes it.

Metric (`concept_records`): for each stereotype item, the mean NLL of the stereotyped answer and
of each non-stereotyped alternative (scoring.score_pairs); the model is biased on the item when
the stereotype's NLL is below every alternative's (evaluation/bias.biased_flags). The rate per
language is what the study reports; chance level is 1 / (1 + number of alternatives).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch
from rich.console import Console

from polyunlearn.analysis.matrices import console_table
from polyunlearn.core.encoding import Encoder
from polyunlearn.core.languages import get_language
from polyunlearn.core.rundir import write_eval
from polyunlearn.data.schema import QAItem
from polyunlearn.evaluation.bias import biased_flags
from polyunlearn.evaluation.records import EvalConfig
from polyunlearn.evaluation.scoring import score_pairs
from polyunlearn.pipeline.mcq_eval import mcq_concept_records, mcq_concept_summary, write_mcq_eval
from polyunlearn.pipeline.phases import evaluate_to


def concept_records(
    model: torch.nn.Module, tokenizer, items: Sequence[QAItem], max_length: int = 256, prompt_format: str = "auto"
) -> list[dict]:
    """One record per stereotype item (split "forget"): mean NLLs of the stereotyped answer and
    of its alternatives, `biased` (stereotype strictly preferred) and `margin` (lowest
    alternative NLL minus the stereotype's: > 0 = biased)."""
    stereo = [it for it in items if it.split == "forget"]
    pairs: list[tuple[str, str, str]] = []
    for it in stereo:
        pairs.append((it.question, it.answer, it.language))
        pairs.extend((it.question, alt, it.language) for alt in it.perturbed_answer)
    was_training = model.training
    model.eval()
    try:
        scores = score_pairs(model, Encoder(tokenizer, max_length, prompt_format), pairs)
    finally:
        model.train(was_training)
    stereo_nll: list[float] = []
    alt_nll: list[list[float]] = []
    k = 0
    for it in stereo:
        stereo_nll.append(scores[k].mean_nll)
        alt_nll.append([s.mean_nll for s in scores[k + 1 : k + 1 + len(it.perturbed_answer)]])
        k += 1 + len(it.perturbed_answer)
    flags = biased_flags(stereo_nll, alt_nll)
    return [
        {"id": it.id, "language": it.language, "stereo_nll": s, "alternative_nll": a, "biased": f, "margin": min(a) - s}
        for it, s, a, f in zip(stereo, stereo_nll, alt_nll, flags)
    ]


def concept_summary(records: Sequence[dict]) -> pd.DataFrame:
    """Per language: items, biased-answer rate, chance rate, mean margin (language order kept)."""
    df = pd.DataFrame(records)
    rows = []
    for lang, g in df.groupby("language", sort=False):
        rows.append(
            {
                "language": lang,
                "resource": get_language(lang).resource,
                "n": len(g),
                "biased_answer_rate": float(g["biased"].mean()),
                "chance": float((1.0 / (1 + g["alternative_nll"].map(len))).mean()),
                "mean_margin": float(g["margin"].mean()),
            }
        )
    return pd.DataFrame(rows)


def evaluate_concept(
    out_dir: str | Path, model: torch.nn.Module, tokenizer, items: Sequence[QAItem], ecfg: EvalConfig | None = None
) -> pd.DataFrame:
    """Biased-answer rate + factual evaluation, written under out_dir: items.jsonl/summary.csv
    (pipeline/phases.evaluate_to, all items), concept_items.jsonl, and concept.csv last (its presence
    marks a finished evaluation). Returns the per-language table of concept.csv."""
    _, summary = evaluate_to(out_dir, model, tokenizer, items, ecfg)
    return write_concept_eval(out_dir, model, tokenizer, items, summary=summary, ecfg=ecfg)


def write_concept_eval(
    out_dir: str | Path,
    model: torch.nn.Module,
    tokenizer,
    items: Sequence[QAItem],
    console: Console | None = None,
    summary: pd.DataFrame | None = None,
    ecfg: EvalConfig | None = None,
) -> pd.DataFrame:
    """concept_items.jsonl + concept.csv (per language; with retain_prob / model_utility from
    `summary`, or from out_dir/summary.csv when an evaluation wrote one), printed to `console`.
    SeeGULL multiple-choice data (pipeline/mcq_eval.py) is scored by the authors' metric: mcq.csv,
    and concept.csv's biased-answer rate is the rate of the stereotype chosen among 5 options."""
    ecfg = ecfg or EvalConfig()
    out = Path(out_dir)
    if summary is None and (out / "summary.csv").exists():
        summary = pd.read_csv(out / "summary.csv")
    mcq = write_mcq_eval(out, model, tokenizer, items, ecfg)
    if mcq is not None:
        records, table = mcq_concept_records(mcq[0]), mcq_concept_summary(mcq[1])
    else:
        records = concept_records(model, tokenizer, items, ecfg.max_length, ecfg.prompt_format)
        table = concept_summary(records)
    if summary is not None:
        keep = [c for c in ("language", "retain_prob", "model_utility") if c in summary]
        table = table.merge(summary[keep], on="language", how="left")
    write_eval(out, records, table, kind="concept")
    if console is not None:
        console.print(console_table(table.to_dict("records"), "biased-answer rate per language"))
    return table


def concept_eval_done(out_dir: str | Path) -> bool:
    return (Path(out_dir) / "concept.csv").exists()
