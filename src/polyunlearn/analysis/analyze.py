"""`polyunlearn analyze RUN_OR_GRID_DIR`: does linguistic distance explain how unlearning transfers?

For each group of runs (same method and hyperparameters; seeds averaged), the effect matrix has
rows = the single forget languages of the runs, columns = evaluation languages, and cells = the
drop of forget Prob vs the model before unlearning (before - after: positive = forgotten). A
grid with `forget_sets: [each]` gives the full square matrix. Then, with analysis.py:
correlation with every URIEL+ distance kind (Spearman, Pearson, permutation test) and their
ranking, resource-level grouping, transfer asymmetry, and one scatter PNG per distance kind.

Written under DIR/analysis/ (atomically): effect_<group>.csv, correlations_<group>.csv,
ranking.csv (every group's kinds by rank), resource_<group>.csv, asymmetry_<group>.csv,
scatter_<group>_<kind>.png and analysis.json (what was written, file names relative to that
folder, and why something was skipped).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.markup import escape

from polyunlearn.analysis.correlation import (
    correlate_distances,
    group_by_resource,
    scatter_distance_effect,
    transfer_asymmetry,
)
from polyunlearn.analysis.distances import DISTANCE_KINDS, distance_matrix
from polyunlearn.analysis.matrices import console_table
from polyunlearn.analysis.results import change_matrix, collect_results, run_groups, slug
from polyunlearn.core.atomic import write_json, write_table
from polyunlearn.core.languages import LANGUAGES


def effect_matrix(group: pd.DataFrame, metric: str = "forget_prob", order: list[str] | None = None) -> pd.DataFrame:
    """Rows = single forget languages, columns = eval languages, cells = before - after of
    `metric` (mean over seeds). Multi-language forget sets ('all', 'en,fr') are left out: their
    row has no single source language to measure a distance from."""
    change = change_matrix(group, metric, order)
    singles = [r for r in change.index if r in LANGUAGES]
    return (-change.loc[singles]).rename_axis(index="forget_lang", columns="eval_lang")


def resource_table(effect: pd.DataFrame, retain_change: pd.DataFrame | None) -> pd.DataFrame:
    """High vs low resource: the in-language drop (diagonal), the drop a language receives from
    unlearning in the others (off-diagonal column mean), and the in-language change of retain
    Prob (stability: the spec's finding is that high-resource languages keep more)."""
    diag = pd.Series({lang: effect.loc[lang, lang] for lang in effect.index if lang in effect.columns}, dtype=float)
    received = pd.Series(
        {
            c: effect.loc[[r for r in effect.index if r != c], c].mean()
            for c in effect.columns
            if len([r for r in effect.index if r != c])
        },
        dtype=float,
    )
    parts = {"in_language_drop": diag, "cross_lingual_drop_received": received}
    if retain_change is not None:
        parts["retain_prob_change_in_language"] = pd.Series(
            {
                lang: retain_change.loc[lang, lang]
                for lang in effect.index
                if lang in retain_change.index and lang in retain_change.columns
            },
            dtype=float,
        )
    frames = [
        group_by_resource(s.dropna()).reset_index().assign(quantity=q) for q, s in parts.items() if s.notna().any()
    ]
    cols = ["quantity", "resource", "mean", "std", "n", "languages"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def default_analysis_dir(folder: str | Path, metric: str = "forget_prob", minus: str | None = None) -> Path:
    """Where an analysis goes without --out: FOLDER/analysis for the plain one (forget_prob, the
    folder `report` reads), else a folder of its own, so that another metric or --minus never
    overwrites it: FOLDER/analysis_minus_retain_prob, FOLDER/analysis_rouge, ..."""
    parts = ([] if metric == "forget_prob" else [metric]) + ([f"minus_{minus}"] if minus else [])
    return Path(folder) / "_".join(["analysis", *parts])


def analyze_dir(
    folder: str | Path,
    out: str | Path | None = None,
    metric: str = "forget_prob",
    n_permutations: int = 999,
    console: Console | None = None,
    minus: str | None = None,
) -> dict:
    """Run the distance analysis on a grid or demo folder; returns the manifest (analysis.json).
    `minus` (e.g. "retain_prob"): the effect becomes drop(metric) - drop(minus), forgetting
    beyond the general damage the run also did in that language (on the tiny model every run
    lowers every probability a little, consistently: see the demo's q-value matrices)."""
    results, _ = collect_results(folder)
    out = Path(out) if out else default_analysis_dir(folder, metric, minus)
    if results.empty:
        raise ValueError(f"{folder}: no finished runs to analyze")
    for m in (metric, minus):
        if m is not None and m not in set(results["metric"]):
            raise ValueError(f"metric {m!r} is not in the results; have: {', '.join(sorted(set(results['metric'])))}")
    order = list(dict.fromkeys(results["language"]))
    what = (
        f"(before - after of {metric}) - (before - after of {minus})"
        if minus
        else f"before - after of {metric} (positive = forgotten)"
    )
    name = f"{metric} minus {minus}" if minus else metric
    manifest: dict = {
        "folder": str(Path(folder).resolve()),
        "metric": metric,
        "minus": minus,
        "effect": f"{what}, mean over seeds; rows = forget language, columns = eval language",
        "n_permutations": n_permutations,
        "groups": {},
    }
    rankings = []
    for label, group in run_groups(results).items():
        effect = effect_matrix(group, metric, order)
        if minus is not None:
            effect = effect - effect_matrix(group, minus, order).reindex(index=effect.index, columns=effect.columns)
        entry: dict = {"files": {}}
        manifest["groups"][label] = entry
        if effect.empty:
            entry["skipped"] = "no single-language forget set: add forget_sets: [each] to the grid"
            continue
        s = slug(label)
        entry["forget_langs"], entry["eval_langs"] = list(effect.index), list(effect.columns)
        entry["files"]["effect"] = write_table(out / f"effect_{s}.csv", effect, index=True).name
        retain = change_matrix(group, "retain_prob", order) if "retain_prob" in set(group["metric"]) else None
        entry["files"]["resource"] = write_table(out / f"resource_{s}.csv", resource_table(effect, retain)).name
        entry["files"]["asymmetry"] = write_table(out / f"asymmetry_{s}.csv", transfer_asymmetry(effect)).name
        langs = list(dict.fromkeys([*effect.index, *effect.columns]))
        try:
            dists = {k: distance_matrix(k, langs) for k in DISTANCE_KINDS}
            corr = correlate_distances(effect, dists, n_permutations=n_permutations)
        except ValueError as e:  # e.g. fewer than 3 off-diagonal cells: a correlation means nothing
            entry["correlation_skipped"] = str(e)
            continue
        entry["files"]["correlations"] = write_table(out / f"correlations_{s}.csv", corr).name
        rankings.append(corr.assign(group=label))
        entry["scatter"] = {}
        for kind in DISTANCE_KINDS:
            path = scatter_distance_effect(
                effect, kind, out / f"scatter_{s}_{kind}.png", dists[kind], metric=f"drop of {name}"
            )
            entry["scatter"][kind] = path.name
        entry["top_kind"] = str(corr.iloc[0]["kind"])
    if not any("effect" in e["files"] for e in manifest["groups"].values()):
        raise ValueError(
            f"{folder}: no run unlearned a single language, so there is no forget-language x eval-language matrix; run a grid with forget_sets: [each]"
        )
    if rankings:
        ranking = pd.concat(rankings, ignore_index=True)[
            ["group", "kind", "rank", "spearman_rho", "spearman_p", "pearson_r", "permutation_p", "n_pairs"]
        ]
        manifest["ranking"] = write_table(out / "ranking.csv", ranking).name
        if console:  # one narrow table per group: it must fit an 80-column terminal
            for label, g in ranking.groupby("group", sort=False):
                rows = (
                    g[["kind", "rank", "spearman_rho", "spearman_p", "permutation_p"]].astype(object).to_dict("records")
                )
                console.print(
                    console_table(rows, f"{label}: distances ranked by |Spearman rho| with the drop of {name}")
                )
    write_json(out / "analysis.json", manifest)
    if console:
        for label, e in manifest["groups"].items():
            why = e.get("skipped") or e.get("correlation_skipped")
            if why:
                console.print(f"[yellow]{escape(label)}: {escape(why)}[/yellow]", highlight=False)
        console.print(f"analysis written under [bold]{out.resolve()}[/bold]")
    return manifest
