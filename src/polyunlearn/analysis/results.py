"""The tidy results table of a grid (or demo) folder: one row per run x language x metric, with
columns run_id, method, forget_langs, seed, one per hyperparameter of the spec, language,
resource, metric, value, before (the model before unlearning) and delta (value - before).

    import pandas as pd
    df = pd.read_parquet("polyunlearn_runs/grid_study_b_tiny/results.parquet")
    df[(df.metric == "forget_prob")].pivot_table(index="forget_langs", columns="language", values="delta")

Also the grouping of runs that differ only in forget set and seed, and the change matrices
(CSV + heatmap PNG) written from the table, with paired per-item tests where the grid folder
has the per-item records.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from polyunlearn.analysis.matrices import HEADLINE, ITEM_METRIC, write_matrix
from polyunlearn.core.atomic import read_json
from polyunlearn.core.languages import get_language
from polyunlearn.core.rundir import DONE_FILE, ITEMS_FILE, RUN_FILE, eval_done, load_eval, read_eval_items
from polyunlearn.evaluation.significance import transfer_pvalues

ID_COLUMNS = ["run_id", "method", "forget_langs", "seed"]
ROW_COLUMNS = ["language", "resource", "metric", "value", "before", "delta"]


def metric_columns(summary: pd.DataFrame) -> list[str]:
    """The per-language metrics of a summary (counts like forget_n are not metrics)."""
    return [
        c
        for c in summary.columns
        if c not in ("language", "resource") and not c.endswith("_n") and pd.api.types.is_numeric_dtype(summary[c])
    ]


def tidy(
    runs: list[dict], summaries: dict[str, pd.DataFrame], before: pd.DataFrame, param_names: list[str]
) -> pd.DataFrame:
    """One row per run x language x metric. `runs`: dicts with run_id, method, forget_langs,
    seed, params; `summaries`: run_id -> that run's per-language summary (finished runs only)."""
    b = before.set_index("language")
    rows = []
    for run in runs:
        s = summaries.get(run["run_id"])
        if s is None:
            continue
        ident = {k: run[k] for k in ID_COLUMNS} | {n: run["params"].get(n) for n in param_names}
        for _, r in s.iterrows():
            lang = r["language"]
            for metric in metric_columns(s):
                before_v = float(b.loc[lang, metric]) if lang in b.index and metric in b.columns else float("nan")
                value = float(r[metric])
                rows.append(
                    ident
                    | {
                        "language": lang,
                        "resource": get_language(lang).resource,
                        "metric": metric,
                        "value": value,
                        "before": before_v,
                        "delta": value - before_v,
                    }
                )
    return pd.DataFrame(rows, columns=ID_COLUMNS + param_names + ROW_COLUMNS)


def gather(out: str | Path) -> pd.DataFrame:
    """The tidy table of a grid folder from its finished runs (works on an unfinished grid too)."""
    info = read_json(Path(out) / "grid.json")["config"]
    runs = info["runs"]
    summaries = {
        r["run_id"]: load_eval(Path(out) / "runs" / r["run_id"] / "eval")[1]
        for r in runs
        if (Path(out) / "runs" / r["run_id"] / DONE_FILE).exists()
    }
    return tidy(runs, summaries, pd.read_csv(Path(info["before_eval"]) / "summary.csv"), info["params"])


def collect_results(folder: str | Path) -> tuple[pd.DataFrame, dict[str, dict]]:
    """Tidy results and run records (run_id -> run.json) of a grid folder or a demo folder."""
    folder = Path(folder)
    if (folder / "grid.json").exists():
        info = read_json(folder / "grid.json")["config"]
        configs = {
            r["run_id"]: read_json(p) for r in info["runs"] if (p := folder / "runs" / r["run_id"] / RUN_FILE).exists()
        }
        return gather(folder), configs
    if eval_done(folder / "eval" / "before") and (folder / "unlearn").is_dir():
        runs, summaries, configs = [], {}, {}
        for d in sorted(p for p in (folder / "unlearn").iterdir() if (p / DONE_FILE).exists()):
            run = read_json(d / RUN_FILE)
            configs[d.name] = run
            u = run["identity"]["unlearn"]
            runs.append(
                {
                    "run_id": d.name,
                    "method": u["method"],
                    "forget_langs": u["forget_langs"],
                    "seed": u["train"]["seed"],
                    "params": {},
                }
            )
            summaries[d.name] = load_eval(d / "eval")[1]
        return tidy(runs, summaries, load_eval(folder / "eval" / "before")[1], []), configs
    raise FileNotFoundError(f"{folder} is neither a grid folder (grid.json) nor a demo folder (eval/before + unlearn/)")


def param_names(results: pd.DataFrame) -> list[str]:
    return [c for c in results.columns if c not in ID_COLUMNS + ROW_COLUMNS]


def run_groups(results: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Split the table into groups that differ only in forget set (and seed, averaged later by
    callers): method plus the hyperparameters that vary. Label e.g. 'npo' or 'npo alpha=5.0'."""
    keys = ["method"] + param_names(results)
    varying = [k for k in keys[1:] if results[k].astype(str).nunique() > 1]
    groups = {}
    for vals, g in results.groupby(keys, sort=False, dropna=False):
        vals = dict(zip(keys, vals if isinstance(vals, tuple) else (vals,)))
        groups[" ".join([str(vals["method"])] + [f"{k}={vals[k]}" for k in varying])] = g
    return groups


def slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", label).strip("_")


def change_matrix(group: pd.DataFrame, metric: str, order: list[str] | None = None) -> pd.DataFrame:
    """Rows = forget sets (first-seen order), columns = eval languages, cells = mean over seeds of
    the change vs before."""
    g = group[group["metric"] == metric]
    m = g.pivot_table(index="forget_langs", columns="language", values="delta", aggfunc="mean", sort=False)
    cols = [c for c in (order or []) if c in m.columns] + [c for c in m.columns if c not in (order or [])]
    return m.reindex(index=list(dict.fromkeys(g["forget_langs"])), columns=cols).rename_axis(
        index="forget_langs", columns="eval_lang"
    )


def group_pvalues(
    group: pd.DataFrame, metric: str, folder: Path, before_records: list[dict], languages: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Paired per-item tests (significance.py) of one group's change matrix. Each item's value
    after unlearning is first averaged over the seeds of its forget set, so one item is one
    paired observation however many seeds ran (pooling seeds would count an item twice)."""
    item_metric, split = ITEM_METRIC[metric]
    runs = {}
    for fset, g in group.groupby("forget_langs", sort=False):
        recs = pd.DataFrame(
            [r for rid in dict.fromkeys(g["run_id"]) for r in read_eval_items(folder / "runs" / rid / "eval")]
        )
        mean = recs[recs["split"] == split].groupby(["language", "id"], sort=False)[item_metric].mean().reset_index()
        runs[fset] = mean.assign(split=split).to_dict("records")
    return transfer_pvalues(before_records, runs, item_metric, split, languages=languages)


def write_result_matrices(
    results: pd.DataFrame, out_dir: str | Path, order: list[str] | None = None, folder: str | Path | None = None
) -> list[Path]:
    """<group>_<metric> matrices (analysis.matrices.write_matrix, the demo's names) for each
    headline metric, boxes on the cells whose language was unlearned. Given the grid `folder`
    (its grid.json names the evaluation before unlearning), metrics with per-item values also get
    their paired tests (_p.csv / _q.csv) and starred cells, as in the demo."""
    written = []
    all_langs = list(dict.fromkeys(results["language"]))
    before_records = None
    if folder is not None and (Path(folder) / "grid.json").exists():
        before_dir = Path(read_json(Path(folder) / "grid.json")["config"]["before_eval"])
        if (before_dir / ITEMS_FILE).exists():
            before_records = read_eval_items(before_dir)
    for label, g in run_groups(results).items():
        for metric in HEADLINE:
            if metric not in set(g["metric"]):
                continue
            m = change_matrix(g, metric, order)
            highlight = {r: (all_langs if r == "all" else r.split(",")) for r in m.index}
            pq = (
                group_pvalues(g, metric, Path(folder), before_records, list(m.columns))
                if before_records is not None and metric in ITEM_METRIC
                else None
            )
            written += write_matrix(
                out_dir,
                f"{slug(label)}_{metric}",
                m,
                f"{label}: change in {metric} ({HEADLINE[metric]})",
                highlight=highlight,
                pq=pq,
            )
    return written
