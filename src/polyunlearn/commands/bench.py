"""`polyunlearn bench`: evaluation and unlearning throughput against a simple baseline, printed
as ratios (ours / baseline) and written to OUT/results.json and OUT/results.csv.

    polyunlearn bench                                      # tiny + small (~30M), 10 languages, ~2 min of CPU time
    polyunlearn bench --sizes tiny --languages en,zh --items-per-lang 5
"""
from __future__ import annotations

from pathlib import Path

import typer

from polyunlearn.cli import app, console, friendly_errors


@app.command()
@friendly_errors
def bench(
    out: Path = typer.Option(Path("polyunlearn_runs/bench"), help="Results folder: results.json, results.csv."),
    sizes: str = typer.Option("tiny,small", help="Model sizes (models.TINY_SIZES), comma list."),
    languages: str = typer.Option("study-b", help="Evaluation languages: comma list, 'study-b' (10) or 'all'."),
    items_per_lang: int = typer.Option(11, help="Evaluation items per language (the baseline scores the same items)."),
    max_new_tokens: int = typer.Option(16, help="Greedy answer length in the generation-on measurement."),
    unlearn_steps: int = typer.Option(2, help="NPO optimizer steps per epoch (2 epochs)."),
    batch_size: int = typer.Option(8, help="NPO forget/retain batch size."),
    arch: str = typer.Option("llama", help="llama or cohere."),
    threads: int = typer.Option(1, help="torch CPU threads."),
    device: str = typer.Option("cpu", help="cpu or cuda."),
):
    """Benchmark evaluation (items/s, generation off and on) and NPO unlearning (tokens/s, peak
    memory) of polyunlearn against a one-pair-per-forward baseline."""
    from polyunlearn.bench import BenchConfig, run_bench
    from polyunlearn.matrices import console_table

    cfg = BenchConfig(out=str(out), sizes=tuple(s.strip() for s in sizes.split(",") if s.strip()), languages=languages, items_per_lang=items_per_lang, max_new_tokens=max_new_tokens, unlearn_steps=unlearn_steps, batch_size=batch_size, arch=arch, threads=threads, device=device)
    result = run_bench(cfg, log=console.print)
    console.print(console_table(result["ratios"], "ours vs baseline (ratio = ours / baseline)"))
    for row in result["sizes"]:
        console.print(
            f"size {row['size']}: scores agree: max |dNLL| {row['eval_max_abs_nll_diff']:.2e}, generated answers identical: {row['eval_generated_identical']}; "
            f"NPO step {row['unlearn_ours_step_s']:.3f} s, {row['unlearn_ours_gflops']:.1f} GFLOP/s = "
            f"{100 * row['unlearn_ours_fraction_of_matmul']:.0f}% of matmul ({result['matmul_gflops']:.1f} GFLOP/s; "
            f"{100 * row['unlearn_ours_matmul_params_fraction_of_matmul']:.0f}% counting matmul parameters only)"
        )
    console.print(f"times: {result['clock']}")
    console.print(f"results written under [bold]{out.resolve()}[/bold] ({result['seconds']:.0f} s)")
