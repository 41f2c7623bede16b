"""CLI analysis: `analyze` (URIEL+ distances vs the cross-lingual effect), `report` (one
self-contained HTML page for a demo or grid folder) and `tofu-aggregate` (re-aggregate TOFU's
published per-sample eval logs with polyunlearn's metric code).

    polyunlearn analyze polyunlearn_runs/grid_study_b_tiny --minus retain_prob
    polyunlearn report polyunlearn_runs/demo
    polyunlearn tofu-aggregate MODEL/eval_results/ds_size300 --retain RETAIN/eval_results/ds_size300
"""

from __future__ import annotations

from pathlib import Path

import typer

from polyunlearn.cli.root import ANALYSIS, app, console, friendly_errors


@app.command(rich_help_panel=ANALYSIS)
@friendly_errors
def analyze(
    folder: Path = typer.Argument(..., help="A grid folder (grid.json) or a demo folder."),
    metric: str = typer.Option("forget_prob", help="Summary metric whose drop (before - after) is the effect."),
    permutations: int = typer.Option(
        999, help="Permutations of the Mantel-style test (exact when fewer are possible)."
    ),
    out: Path | None = typer.Option(
        None,
        help="Output folder; default FOLDER/analysis, or a folder of its own for another --metric or --minus "
        "(FOLDER/analysis_minus_retain_prob, FOLDER/analysis_<metric>[_minus_<m>]), so the plain analysis stays.",
    ),
    minus: str | None = typer.Option(
        None,
        help="Subtract this metric's drop (e.g. retain_prob): the effect becomes forgetting beyond general damage.",
    ),
):
    """Correlate URIEL+ distances with the cross-lingual effect of unlearning; rank the distances."""
    from polyunlearn.analysis.analyze import analyze_dir

    analyze_dir(folder, out, metric, permutations, console, minus=minus)


@app.command(rich_help_panel=ANALYSIS)
@friendly_errors
def report(
    folder: Path = typer.Argument(..., help="A demo folder or a grid folder."),
    out: Path | None = typer.Option(None, help="HTML file to write; default FOLDER/report.html."),
    analysis: bool = typer.Option(
        True, help="Compute the distance analysis for the page when FOLDER/analysis is missing."
    ),
):
    """Write one HTML page (figures embedded) with matrices, per-language bars, distance analysis, configs."""
    from polyunlearn.analysis.report import build_report

    path = build_report(folder, out, analysis)
    console.print(f"report written to [bold]{path.resolve()}[/bold] ({path.stat().st_size / 1e6:.1f} MB)")


@app.command("tofu-aggregate", rich_help_panel=ANALYSIS)
@friendly_errors
def tofu_aggregate(
    logs: Path = typer.Argument(
        ...,
        help="A model's TOFU eval logs: a folder with eval_log.json, eval_log_forget.json, eval_real_author_wo_options.json, eval_real_world_wo_options.json, or TOFU's eval_log_aggregated.json.",
    ),
    retain: Path | None = typer.Option(
        None, help="The retain model's TOFU eval logs (same layout), for Forget Quality."
    ),
    out: Path | None = typer.Option(
        None, help="CSV to write (TOFU's aggregate_eval_stat.py columns); default: print only."
    ),
):
    """Recompute TOFU's aggregate numbers (Model Utility, Truth Ratio, Forget Quality...) from its per-sample logs."""
    from polyunlearn.analysis.matrices import console_table
    from polyunlearn.core.atomic import write_table
    from polyunlearn.evaluation.tofu_logs import reaggregate

    _, table = reaggregate(logs, retain)
    row = table.iloc[0].to_dict()
    console.print(
        console_table(
            [{"metric": k, "value": v} for k, v in row.items() if k != "language"], f"TOFU aggregate of {logs}"
        )
    )
    if out is not None:
        console.print(f"written to [bold]{write_table(out, table.drop(columns=['language'])).resolve()}[/bold]")
