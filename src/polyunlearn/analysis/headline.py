"""The headline table of a report: one row per unlearning run of a demo or grid folder, with the
numbers a reader looks at first (analysis/report.py renders it at the top of the page).

    rows = headline_rows(results, folder / "matrices", done=lambda run_id: read_json(run_dir / "done.json"))

Per run, means over the languages it unlearned: forget and retain Prob before -> after, Forget
Quality after, Model Utility before -> after; the number of cells of its row in each transfer
matrix of its group whose paired per-item test is significant (BH q < 0.05); the epoch that is
its result when it has per-epoch curves (pipeline/epoch_eval.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from polyunlearn.analysis.matrices import HEADLINE
from polyunlearn.analysis.results import run_groups, slug


def unlearned_langs(forget_langs: str, langs: list[str]) -> list[str]:
    """The languages a run unlearned, from its forget_langs label ('all' = every language)."""
    return list(langs) if forget_langs == "all" else [x for x in forget_langs.split(",") if x]


def significant_cells(matrices: Path, group: str, metric: str, row: str) -> tuple[int, int] | None:
    """(cells with BH q < ALPHA, cells tested) in the row of a run's forget set of the group's
    matrix of `metric`; None when that matrix has no paired tests."""
    from polyunlearn.evaluation.significance import ALPHA

    path = matrices / f"{slug(group)}_{metric}_q.csv"
    if not path.is_file():
        return None
    q = pd.read_csv(path, index_col=0)
    if row not in q.index:
        return None
    cells = q.loc[row].dropna().astype(float)
    return int((cells < ALPHA).sum()), int(len(cells))


def headline_rows(results: pd.DataFrame, matrices: Path, done: Callable[[str], dict]) -> list[dict]:
    """One row per run of the tidy `results` (analysis/results.py), grouped as the matrices are:
    the means over the languages it unlearned of forget / retain Prob and Model Utility before and
    after and of Forget Quality; its significant cells in the group's matrices under `matrices`;
    the epoch that is its result, from `done(run_id)` (its done.json) when it has curves."""
    langs = list(dict.fromkeys(results["language"]))
    rows = []
    groups = (
        {label: list(dict.fromkeys(g["run_id"])) for label, g in run_groups(results).items()} if len(results) else {}
    )
    for group, run_ids in groups.items():
        for rid in run_ids:
            g = results[results["run_id"] == rid]
            fl = str(g["forget_langs"].iloc[0])
            mine = g[g["language"].isin(unlearned_langs(fl, langs))]
            row: dict = {"run": rid, "method": str(g["method"].iloc[0]), "group": group, "forget_langs": fl}
            for metric in ("forget_prob", "retain_prob", "forget_quality", "model_utility"):
                m = mine[mine["metric"] == metric]
                row[metric] = (float(m["before"].mean()), float(m["value"].mean())) if len(m) else None
            row["significant"] = {
                m: sig for m in HEADLINE if (sig := significant_cells(matrices, group, m, fl)) is not None
            }
            record = done(rid)
            row["epoch"] = (record["selected_epoch"], record["select"]) if "selected_epoch" in record else None
            rows.append(row)
    return rows
