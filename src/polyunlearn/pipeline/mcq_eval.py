"""The SeeGULL multiple-choice metric of arXiv 2601.05641 inside the studies: any evaluation of
data with MCQ items (a `seegull-mcq:` spec) also writes the per-language rates of stereotype /
Unknown / other chosen, and the concept study on MCQ data reads its biased-answer rate from them.

    polyunlearn eval --model runs/learned/model --data seegull-mcq:mcq/ --out runs/before   # + mcq.csv
    polyunlearn concept-demo --data seegull-mcq:mcq/ --methods concept_mcq                    # the study

Files in an evaluation folder (next to items.jsonl and summary.csv, which are written last):
- mcq_items.jsonl: one record per question (options in display order, kinds, summed log-probs,
  softmax, the chosen kind; evaluation/mcq.py);
- mcq.csv: per language n, stereotype, unknown, other (the three rates) and p_stereotype,
  p_unknown, p_other (the mean softmax mass).
In a concept run also concept_items.jsonl / concept.csv, the concept study's table (studies/
concept_study.py): biased_answer_rate = the stereotype rate, unknown_rate, other_rate, chance 1/5.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch

from polyunlearn.core.languages import get_language
from polyunlearn.core.rundir import write_eval
from polyunlearn.data.schema import QAItem
from polyunlearn.evaluation.mcq import mcq_items, score_mcq_items, summarize_mcq
from polyunlearn.evaluation.records import EvalConfig
from polyunlearn.pipeline.step import Evaluation


def write_mcq_eval(
    folder: str | Path, model: torch.nn.Module, tokenizer, items: Sequence[QAItem], ecfg: EvalConfig
) -> tuple[list[dict], pd.DataFrame] | None:
    """mcq_items.jsonl + mcq.csv under `folder` for the MCQ items of `items` (None when it has none)."""
    mine = mcq_items(items)
    if not mine:
        return None
    was_training = model.training
    model.eval()
    try:
        records = score_mcq_items(
            model,
            tokenizer,
            mine,
            max_length=ecfg.max_length,
            max_tokens=ecfg.eval_batch_tokens,
            max_batch=ecfg.max_batch,
            prompt_format=ecfg.prompt_format,
        )
    finally:
        model.train(was_training)
    table = summarize_mcq(records)
    write_eval(folder, records, table, kind="mcq")
    return records, table


def with_mcq(evaluation: Evaluation, items: Sequence[QAItem], ecfg: EvalConfig) -> Evaluation:
    """`evaluation` plus the MCQ rates when `items` has MCQ items (else `evaluation` unchanged).
    The rates are written first, so the wrapped evaluation's summary.csv stays the last file."""
    if not mcq_items(items):
        return evaluation

    def run(model: torch.nn.Module, tokenizer, folder: Path) -> pd.DataFrame:
        write_mcq_eval(folder, model, tokenizer, items, ecfg)
        return evaluation.run(model, tokenizer, folder)

    return Evaluation(dict(evaluation.identity) | {"mcq": True}, run)


def mcq_concept_records(records: Sequence[dict]) -> list[dict]:
    """MCQ records as the concept study's per-item records: `biased` = the stereotype was chosen
    (what its change matrix tests, per item, after vs before)."""
    return [
        {
            "id": r["id"],
            "language": r["language"],
            "chosen": r["chosen"],
            "biased": r["chosen"] == "stereotype",
            "p_stereotype": sum(p for p, k in zip(r["probs"], r["kinds"]) if k == "stereotype"),
        }
        for r in records
    ]


def mcq_concept_summary(table: pd.DataFrame) -> pd.DataFrame:
    """mcq.csv as the concept study's table: biased_answer_rate (= stereotype chosen), the other
    two rates, the stereotype's mean softmax mass, and chance = 1/5 (five options)."""
    return pd.DataFrame(
        {
            "language": table["language"],
            "resource": table["language"].map(lambda lang: get_language(lang).resource),
            "n": table["n"],
            "biased_answer_rate": table["stereotype"],
            "unknown_rate": table["unknown"],
            "other_rate": table["other"],
            "p_stereotype": table["p_stereotype"],
            "chance": 1.0 / 5,
        }
    )


def print_mcq(console, folder: str | Path) -> None:
    """The console table of `folder`/mcq.csv, when the evaluation there wrote one."""
    from polyunlearn.analysis.matrices import console_table

    path = Path(folder) / "mcq.csv"
    if path.is_file():
        rows = pd.read_csv(path)[["language", "n", "stereotype", "unknown", "other"]].to_dict("records")
        console.print(
            console_table(rows, "SeeGULL multiple choice: share of questions answered with each kind of option")
        )
