"""Summaries in the reference projects' own naming and shape, written beside summary.csv so a
polyunlearn number can be put next to a published one without a lookup:

- summary_open_unlearning.json: {language: {open-unlearning metric key: value}} (the keys of
  its evaluation summary: forget_Q_A_Prob, forget_truth_ratio, model_utility, privleak, ...);
- tofu_aggregate.csv (only for data with TOFU's splits, i.e. real_authors and world_facts):
  one row per language with the columns of TOFU's aggregate_eval_stat.py ("ROUGE Real
  Authors", ..., "Model Utility", "Forget Quality").

The mapping is the metrics table (metric_table.py); values are the summary's, never recomputed.

    from polyunlearn.evaluation.export import tofu_aggregate
    tofu_aggregate(summary)   # DataFrame, TOFU's column names
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from polyunlearn.core.atomic import write_json, write_table
from polyunlearn.evaluation.metric_table import TOFU_SPLIT, reference_names

# TOFU's aggregate_eval_stat.py output order: per eval file, per metric; then the two scores.
TOFU_COLUMNS = [
    f"{metric} {TOFU_SPLIT[split]}"
    for split in ("real_authors", "world_facts", "retain", "forget")
    for metric in ("ROUGE", "Prob.", "Truth Ratio")
] + ["Model Utility", "Forget Quality"]


def _value(v) -> float | None:
    # Strict JSON: a missing or non-finite value is null, never NaN.
    return float(v) if v is not None and math.isfinite(float(v)) else None


def open_unlearning_summary(summary: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    """{language: {open-unlearning key: value}} for every summary column that has one."""
    names = reference_names("open_unlearning")
    out: dict[str, dict[str, float | None]] = {}
    for row in summary.to_dict("records"):
        out[row["language"]] = {names[c]: _value(row[c]) for c in summary.columns if c in names}
    return out


def tofu_aggregate(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per language in TOFU's aggregate_eval_stat.py columns (a column the summary
    lacks, e.g. Forget Quality without a retain model, stays empty)."""
    names = reference_names("tofu")
    rows = []
    for row in summary.to_dict("records"):
        tofu = {names[c]: _value(row[c]) for c in summary.columns if c in names}
        rows.append({"language": row["language"], **{k: tofu.get(k) for k in TOFU_COLUMNS}})
    return pd.DataFrame(rows, columns=["language", *TOFU_COLUMNS])


def has_tofu_splits(summary: pd.DataFrame) -> bool:
    return {"real_authors_n", "world_facts_n"} <= set(summary.columns)


def write_reference_exports(out_dir: str | Path, summary: pd.DataFrame) -> list[Path]:
    """Write the exports above under out_dir; returns the paths written."""
    out = Path(out_dir)
    written = [write_json(out / "summary_open_unlearning.json", open_unlearning_summary(summary))]
    if has_tofu_splits(summary):
        written.append(write_table(out / "tofu_aggregate.csv", tofu_aggregate(summary)))
    return written
