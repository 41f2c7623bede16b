"""CLI: `polyunlearn report RUN_DIR`: one self-contained HTML page for a demo or grid folder.

    polyunlearn report polyunlearn_runs/demo      # -> polyunlearn_runs/demo/report.html
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from polyunlearn.cli import app, console, friendly_errors


@app.command()
@friendly_errors
def report(
    folder: Path = typer.Argument(..., help="A demo folder or a grid folder."),
    out: Optional[Path] = typer.Option(None, help="HTML file to write; default FOLDER/report.html."),
    analysis: bool = typer.Option(True, help="Compute the distance analysis for the page when FOLDER/analysis is missing."),
):
    """Write one HTML page (figures embedded) with matrices, per-language bars, distance analysis, configs."""
    from polyunlearn.report import build_report

    path = build_report(folder, out, analysis)
    console.print(f"report written to [bold]{path.resolve()}[/bold] ({path.stat().st_size / 1e6:.1f} MB)")
