"""Grid wall time: the Ray executor with N workers vs the local executor, on the same tiny grid.

    nice -n 10 .venv/bin/python benchmarks/grid_ray.py                          # 6 runs, 3 repeats, 2 Ray workers
    nice -n 10 .venv/bin/python benchmarks/grid_ray.py --spec src/polyunlearn/configs/grids/study_b_tiny.yaml --repeats 1

The base (learned + retain tiny models, their evaluations) is built once, before any timing, and
shared by every repeat. Each repeat then runs the grid's runs twice on the same folder, side by
side: with the local executor and with Ray (the order alternates between repeats), deleting
runs/ before each. The Ray time includes starting and stopping the local Ray instance
(ray.init(num_cpus=N) .. ray.shutdown), as `polyunlearn grid --executor ray` pays it. Every
pair of results tables must be equal (the run is refused otherwise). Prints and writes
OUT/bench_grid_ray.json: per executor min / median / max seconds, and the ratio local / Ray.

The default grid: bundled facts in en, fr, ja; NPO and GradDiff-KL; each single forget language;
10 unlearning epochs and the evaluation with greedy answers: 6 runs of about 7 s each on a
shared CPU core, the evaluation the larger part, as at real scale. Measured figures:
docs/ray.md.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import time
from pathlib import Path

DEFAULT_SPEC = {
    "name": "bench_grid_ray",
    "base": {"data": "bundled", "languages": "en,fr,ja", "model": "tiny", "vocab_size": 2048,
             "learn": {"epochs": 15, "lr": 3.0e-3, "batch_size": 32}, "eval": {"generate": True}},
    "grid": {"methods": ["npo", "grad_diff_kl"], "forget_sets": ["each"], "seeds": [0],
             "params": {"lr": 3.0e-4, "epochs": 10, "batch_size": 8, "alpha": 5.0}},
}  # fmt: skip


def timed(spec, out: Path, executor: str, workers: int, threads: int):
    """(seconds, results) of one whole grid with `executor`, from an empty runs/."""
    from rich.console import Console

    from polyunlearn.studies.grid import run_grid
    from polyunlearn.studies.grid_exec import ExecConfig

    shutil.rmtree(out / "runs", ignore_errors=True)
    quiet = Console(file=io.StringIO())
    t = time.perf_counter()
    if executor == "ray":
        import logging

        import ray

        ray.init(
            address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR
        )
        try:
            results = run_grid(spec, out, quiet, progress=False, execution=ExecConfig(executor="ray"), threads=threads)
        finally:
            ray.shutdown()
    else:
        results = run_grid(spec, out, quiet, progress=False, threads=threads)
    return time.perf_counter() - t, results


def stats(xs: list[float]) -> dict[str, float]:
    return {"min": round(min(xs), 2), "median": round(statistics.median(xs), 2), "max": round(max(xs), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", type=Path, default=None, help="grid spec (YAML); default the 6-run grid above")
    ap.add_argument("--out", type=Path, default=Path("polyunlearn_runs/bench_grid_ray"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray instance (1 per run)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per run (here and in each Ray task)")
    args = ap.parse_args()

    import pandas as pd
    import torch
    import yaml
    from rich.console import Console
    from transformers.utils import logging as hf_logging

    from polyunlearn.studies.grid import load_spec, run_grid

    torch.set_num_threads(args.threads)
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    path = args.spec or args.out.with_name(args.out.name + ".yaml")  # beside OUT: OUT holds run folders only
    if args.spec is None:
        path.write_text(yaml.safe_dump(DEFAULT_SPEC, sort_keys=False), encoding="utf-8")
    spec = load_spec(path)
    t = time.perf_counter()
    empty = load_spec(path)
    empty.runs = []
    run_grid(empty, args.out, Console(file=io.StringIO()), progress=False)  # the base alone, untimed
    print(
        f"base ready in {time.perf_counter() - t:.0f}s; {len(spec.runs)} runs per grid, {args.repeats} repeats",
        flush=True,
    )
    seconds: dict[str, list[float]] = {"local": [], "ray": []}
    ratios = []
    for k in range(args.repeats):
        pair = {}
        for executor in ("local", "ray") if k % 2 == 0 else ("ray", "local"):
            s, results = timed(spec, args.out, executor, args.workers, args.threads)
            seconds[executor].append(s)
            pair[executor] = results
            print(f"repeat {k + 1}: {executor:5s} {s:7.1f}s", flush=True)
        pd.testing.assert_frame_equal(pair["local"], pair["ray"])  # same results, or no timing
        ratios.append(seconds["local"][-1] / seconds["ray"][-1])
    report = {
        "spec": str(path), "runs": len(spec.runs), "repeats": args.repeats, "ray_workers": args.workers, "threads": args.threads,
        "seconds": {e: stats(v) for e, v in seconds.items()}, "ratio_local_over_ray": stats(ratios),
        "tables_equal": True, "all_seconds": seconds,
    }  # fmt: skip
    (args.out / "bench_grid_ray.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: report[k] for k in ("runs", "ray_workers", "seconds", "ratio_local_over_ray")}, indent=2))


if __name__ == "__main__":
    main()
