"""The Ray executor of a grid: the base is prepared by one Ray task, then every run is one Ray
task with --cpus-per-run / --gpus-per-run, so Ray places runs on free CPUs or GPUs across the
nodes of the cluster; the driver (the `polyunlearn grid` process) only schedules and watches.

    ray start --head                                   # on the head node; `ray start --address HEAD:6379` on the others
    polyunlearn grid SPEC --executor ray --address auto --gpus-per-run 1

Requirements (docs/ray.md): every node runs the same Python environment with polyunlearn
installed, and the grid folder is on a filesystem every node mounts at the same path (the
tasks read the base and write their run folders there; nothing travels through Ray but the run
list and the RunContext of paths). Ray's own logs, the tasks' console output included, stay in
Ray's session folder (/tmp/ray/session_latest/logs), out of the grid's console.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Self

from rich.console import Console

from polyunlearn.studies.grid_exec import (
    ExecConfig,
    RunContext,
    execute_run,
    fail,
    run_all,
)


def _quiet_worker(threads: int) -> None:
    import torch
    from transformers.utils import logging as hf_logging

    torch.set_num_threads(threads)
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _run_task(ctx: RunContext, run: Any, cfg: ExecConfig, log_with: str | None, threads: int) -> str:
    """One grid run in a Ray worker (its output goes to the worker's log)."""
    _quiet_worker(threads)
    return execute_run(ctx, run, cfg, Console(), log_with, progress=False)


def _prepare_task(prepare: Callable[..., RunContext], spec: Any, out: str, cfg: ExecConfig, threads: int) -> RunContext:
    """The grid's base in a Ray worker (it gets a run's resources: a GPU for an 8B evaluation)."""
    _quiet_worker(threads)
    return prepare(spec, Path(out), cfg, Console())


def _warm_up() -> None:
    """Import what a run needs, leaving a warm worker in Ray's pool."""
    import polyunlearn.pipeline.step  # noqa: F401 - torch, transformers, accelerate, the metrics


def _absolute(spec: Any) -> Any:
    """The spec with its local paths absolute: a Ray worker's working folder is not ours."""
    base = dict(spec.base)
    for key in ("retain_eval", "baseline_eval") if spec.tiny else ("model", "retain_eval", "baseline_eval"):
        if base.get(key) and Path(base[key]).exists():
            base[key] = str(Path(base[key]).resolve())
    return dataclasses.replace(spec, base=base)


class RayExecutor:
    """A connection to the Ray cluster of `cfg` for one grid (started here for address
    'local', shut down at the end if this process made it); `prepare` builds the base in a
    task, `run` fans the runs out."""

    def __init__(self, cfg: ExecConfig, console: Console, threads: int = 1):
        self.cfg, self.console, self.threads = cfg, console, threads
        self.own = False
        self.at_once = 1
        self._warm: list[Any] = []

    def __enter__(self) -> Self:
        import ray

        if not ray.is_initialized():  # a caller's ray.init (tests, notebooks) is used as it is
            quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
            if self.cfg.address == "local":
                ray.init(address="local", include_dashboard=False, **quiet)
            else:
                ray.init(address=self.cfg.address, **quiet)
            self.own = True
        have = ray.cluster_resources()
        for name, need in (("CPU", self.cfg.cpus_per_run), ("GPU", self.cfg.gpus_per_run)):
            if need > have.get(name, 0):  # else every task would wait forever
                raise ValueError(
                    f"--{name.lower()}s-per-run is {need:g} but the Ray cluster ({self.cfg.address}) has {have.get(name, 0):g} {name}s in all"
                )
        cpu, gpu = have.get("CPU", 0), have.get("GPU", 0)
        gpu_bound = int(gpu // self.cfg.gpus_per_run) if self.cfg.gpus_per_run else None
        self.at_once = min(int(cpu // self.cfg.cpus_per_run), gpu_bound if gpu_bound is not None else 1 << 30)
        self.console.print(
            f"ray: {cpu:g} CPUs, {gpu:g} GPUs; {self.cfg.cpus_per_run:g} CPU + {self.cfg.gpus_per_run:g} GPU per run: up to {self.at_once} runs at once"
        )
        return self

    def __exit__(self, *exc: object) -> None:
        import ray

        if self.own:
            ray.shutdown()

    def _remote(self, fn: Callable[..., Any]) -> Any:
        import ray

        return ray.remote(fn).options(
            num_cpus=self.cfg.cpus_per_run,
            num_gpus=self.cfg.gpus_per_run,
            max_retries=self.cfg.max_retries,
            retry_exceptions=False,
        )

    def prepare(self, prepare: Callable[..., RunContext], spec: Any, out: Path) -> RunContext:
        """prepare(spec, out, cfg, console) in one task (here when the base is complete already);
        the task's error re-raised here as itself."""
        import ray

        from polyunlearn.studies.grid_base import base_ready

        if base_ready(spec, out):  # complete: preparing it only reads files, no task needed
            return prepare(spec, out, self.cfg, self.console)
        self.console.print("base: prepared by a Ray task (its log: Ray's session folder)", markup=False)
        # Meanwhile the other workers import torch & co. (a cold worker takes seconds to tens
        # of seconds), so the runs start at once when the base is ready. Nobody waits for these.
        self._warm = [self._remote(_warm_up).remote() for _ in range(max(0, self.at_once - 1))]
        try:
            return ray.get(
                self._remote(_prepare_task).remote(
                    prepare, _absolute(spec), str(Path(out).resolve()), self.cfg, self.threads
                )
            )
        except ray.exceptions.RayTaskError as e:
            raise e.cause from None  # the task's own one-line error (a bad spec, a missing file), not Ray's wrapper

    def run(self, ctx: RunContext, runs: Sequence[Any], log_with: str | None) -> dict[str, str]:
        """Every run as a task; the driver waits for them, and for runs other processes hold.
        Ctrl-C cancels the tasks (their claims go stale; a rerun resumes them)."""
        import ray

        task = self._remote(_run_task)
        ctx_ref = ray.put(ctx)
        refs: dict[Any, Any] = {}

        def start(run: Any) -> None:
            refs[task.remote(ctx_ref, run, self.cfg, log_with, self.threads)] = run

        def collect(timeout: float) -> list[tuple[str, str]]:
            if not refs:
                return []
            ready, _ = ray.wait(list(refs), num_returns=len(refs), timeout=timeout)
            return [self._outcome(ctx, refs.pop(ref), ref) for ref in ready]

        try:
            return run_all(runs, Path(ctx.out), self.cfg, start, collect, self.console)
        except KeyboardInterrupt:
            for ref in refs:
                ray.cancel(ref, force=True)
            raise

    def _outcome(self, ctx: RunContext, run: Any, ref: Any) -> tuple[str, str]:
        """A finished task's outcome; a task that died (its worker killed more often than Ray
        retries, or an error outside the run) is recorded as the run's failure."""
        import ray

        try:
            outcome = ray.get(ref)
        except ray.exceptions.RayError as e:
            fail(Path(ctx.out) / "runs" / run.run_id, e)
            outcome = "failed"
        if outcome in ("ran", "failed"):
            self.console.print(
                f"{run.run_id}: {run.method} ({run.forget_label}) seed {run.seed}: {'done' if outcome == 'ran' else 'FAILED'}",
                markup=False,
            )
        return run.run_id, outcome
