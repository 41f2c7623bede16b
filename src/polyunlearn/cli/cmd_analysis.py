"""CLI analysis: `analyze` (URIEL+ distances vs the cross-lingual effect) and `report` (one
self-contained HTML page for a demo or grid folder).

    polyunlearn analyze polyunlearn_runs/grid_study_b_tiny --minus retain_prob
    polyunlearn report polyunlearn_runs/demo
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from polyunlearn.cli.root import ANALYSIS, app, console, friendly_errors


@app.command(rich_help_panel=ANALYSIS)
@friendly_errors
def analyze(
    folder: Path = typer.Argument(..., help="A grid folder (grid.json) or a demo folder."),
    metric: str = typer.Option("forget_prob", help="Summary metric whose drop (before - after) is the effect."),
    permutations: int = typer.Option(999, help="Permutations of the Mantel-style test (exact when fewer are possible)."),
    out: Optional[Path] = typer.Option(None, help="Output folder; default FOLDER/analysis."),
    minus: Optional[str] = typer.Option(None, help="Subtract this metric's drop (e.g. retain_prob): the effect becomes forgetting beyond general damage."),
):
    """Correlate URIEL+ distances with the cross-lingual effect of unlearning; rank the distances."""
    from polyunlearn.analysis.analyze import analyze_dir

    analyze_dir(folder, out, metric, permutations, console, minus=minus)


@app.command(rich_help_panel=ANALYSIS)
@friendly_errors
def report(
    folder: Path = typer.Argument(..., help="A demo folder or a grid folder."),
    out: Optional[Path] = typer.Option(None, help="HTML file to write; default FOLDER/report.html."),
    analysis: bool = typer.Option(True, help="Compute the distance analysis for the page when FOLDER/analysis is missing."),
):
    """Write one HTML page (figures embedded) with matrices, per-language bars, distance analysis, configs."""
    from polyunlearn.analysis.report import build_report

    path = build_report(folder, out, analysis)
    console.print(f"report written to [bold]{path.resolve()}[/bold] ({path.stat().st_size / 1e6:.1f} MB)")
