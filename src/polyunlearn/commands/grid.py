"""CLI: `polyunlearn grid SPEC.yaml` (a resumable grid of unlearning runs -> results.parquet/csv)
and `polyunlearn analyze DIR` (URIEL+ distances vs the forget-language x eval-language effect).

    polyunlearn grid src/polyunlearn/configs/grids/study_b_tiny.yaml
    polyunlearn analyze polyunlearn_runs/grid_study_b_tiny
    polyunlearn report polyunlearn_runs/grid_study_b_tiny
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from polyunlearn.cli import app, console, friendly_errors


@app.command()
@friendly_errors
def grid(
    spec: Path = typer.Argument(..., help="Grid spec (YAML): base + methods x forget sets x seeds x params."),
    out: Optional[Path] = typer.Option(None, help="Results folder; default polyunlearn_runs/grid_<spec name>."),
    dry_run: bool = typer.Option(False, help="Validate the spec and list the runs with their status; train nothing."),
    threads: int = typer.Option(1, help="torch CPU threads (tiny models gain nothing from more)."),
    progress: bool = typer.Option(True, help="Show training progress bars."),
):
    """Run a grid of unlearning runs as a resumable queue; finished runs are skipped on rerun."""
    import torch

    from polyunlearn.grid import load_spec, run_grid, run_status
    from polyunlearn.matrices import console_table

    torch.set_num_threads(threads)
    loaded = load_spec(spec)
    out = out or Path("polyunlearn_runs") / f"grid_{spec.stem}"
    if dry_run:
        rows = [{"run_id": r.run_id, "method": r.method, "forget_langs": r.forget_label, "seed": r.seed, **{k: str(v) for k, v in r.params.items()}, "status": run_status(out, r)} for r in loaded.runs]
        console.print(console_table(rows, f"{len(rows)} runs of {spec} -> {out}"))
        return
    try:
        results = run_grid(loaded, out, console, progress=progress)
    except KeyboardInterrupt:
        raise typer.Exit(130)
    if len(results):
        forget = results[results["metric"] == "forget_prob"]
        table = forget.pivot_table(index=["method", "forget_langs"], columns="language", values="delta", aggfunc="mean", sort=False).reset_index()
        console.print(console_table(table.to_dict("records"), "change in forget Prob vs before (mean over seeds)"))
    console.print(f"results written under [bold]{out.resolve()}[/bold]: results.parquet, results.csv, matrices/, runs/<id>/")


@app.command()
@friendly_errors
def analyze(
    folder: Path = typer.Argument(..., help="A grid folder (grid.json) or a demo folder."),
    metric: str = typer.Option("forget_prob", help="Summary metric whose drop (before - after) is the effect."),
    permutations: int = typer.Option(999, help="Permutations of the Mantel-style test (exact when fewer are possible)."),
    out: Optional[Path] = typer.Option(None, help="Output folder; default FOLDER/analysis."),
    minus: Optional[str] = typer.Option(None, help="Subtract this metric's drop (e.g. retain_prob): the effect becomes forgetting beyond general damage."),
):
    """Correlate URIEL+ distances with the cross-lingual effect of unlearning; rank the distances."""
    from polyunlearn.analyze import analyze_dir

    analyze_dir(folder, out, metric, permutations, console, minus=minus)
