"""How the runs of a grid execute: one after another in this process (`--executor local`), or
one Ray task per run on a Ray cluster (`--executor ray`), as many at once as its resources allow.

    polyunlearn grid SPEC --executor ray --address auto --gpus-per-run 1

Both executors run the same function for a run (`execute_run`): claim the run folder
(core/claims.py), skip it if done, record the attempt, unlearn and evaluate through
pipeline/step.unlearn_step (which resumes from the checkpoint), write failed.json if it raises,
release the claim. What a run reads is a RunContext built once by the driver after the shared
base is ready: paths on the shared filesystem (learned model, tokenizer, the retain model's eval
records) and the identity every run folder records, so a Ray task needs nothing but the shared
filesystem and the same polyunlearn. Same function, same inputs: the same run folders and the
same results table as the local executor.

The driver's loop (`run_all`) starts every run that is neither done nor held by a live claim,
leaves runs claimed by other processes (a second grid on the folder) to them, and waits for
those; a claim whose holder died goes stale and the run is started again here (taking the claim
over, resuming from the checkpoint). A run that raised is not retried in this invocation; a
rerun of the grid retries it.
"""

from __future__ import annotations

import os
import queue
import socket
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from rich.console import Console

from polyunlearn.core import tracking
from polyunlearn.core.atomic import read_json, write_json
from polyunlearn.core.claims import MISSED_BEATS, record_attempt, try_claim
from polyunlearn.core.config import check_choice, check_number, setting
from polyunlearn.core.rundir import CKPT_DIR, DONE_FILE, FAILED_FILE, read_eval_items
from polyunlearn.evaluation.records import EvalConfig
from polyunlearn.pipeline.epoch_eval import CurveEvaluation
from polyunlearn.pipeline.phases import alternate_identity
from polyunlearn.pipeline.step import standard_evaluation, unlearn_step
from polyunlearn.studies.grid_status import run_state

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class ExecConfig:
    """Where and how the runs of a grid execute, and when a run's claim counts as abandoned.
    None of it changes a result, so none of it is part of a run's identity."""

    executor: str = setting(
        "local",
        "where the runs execute: local (one after another in this process) or ray (one Ray task per run)",
        choices=EXECUTORS,
    )
    address: str = setting(
        "local",
        "Ray cluster (--executor ray): 'local' starts one on this machine for this grid; 'auto' joins the cluster `ray start` runs here; or HOST:PORT / ray://HOST:PORT",
    )
    gpus_per_run: float = setting(
        0.0, "GPUs Ray reserves for each run (--executor ray): 0, a fraction (runs share a GPU) or 1"
    )
    cpus_per_run: float = setting(1.0, "CPUs Ray reserves for each run (--executor ray)")
    claim_timeout: float = setting(
        300.0,
        "seconds without a heartbeat after which a run's claim is taken over and the run resumed from its checkpoint (keep it above the filesystem's cache delays and the clock skew between hosts)",
    )
    heartbeat: float = setting(2.0, "seconds between a claim's heartbeats", cli=False)
    max_retries: int = setting(3, "times Ray restarts a run whose worker process died", cli=False)

    def __post_init__(self) -> None:
        check_choice("executor", self.executor, EXECUTORS)
        check_number("gpus_per_run", self.gpus_per_run, minimum=0)
        if self.gpus_per_run > 1:
            # One run is one process; several GPUs for one run are Accelerate's job (FSDP/DDP:
            # `accelerate launch polyunlearn unlearn ...`), not a grid task's.
            raise ValueError(
                f"--gpus-per-run is {self.gpus_per_run:g}: a grid run is one process on at most one GPU (use 1, or a fraction to share a GPU)"
            )
        check_number("cpus_per_run", self.cpus_per_run, minimum=0, strict=True)
        check_number("heartbeat", self.heartbeat, minimum=0, strict=True)
        check_number("claim_timeout", self.claim_timeout, minimum=MISSED_BEATS * self.heartbeat, strict=True)
        check_number("max_retries", self.max_retries, minimum=0, integer=True)
        if self.executor == "local":
            given = [
                f"--{k.replace('_', '-')}"
                for k, d in (("address", "local"), ("gpus_per_run", 0.0), ("cpus_per_run", 1.0))
                if getattr(self, k) != d
            ]
            if given:
                raise ValueError(
                    f"{', '.join(given)}: only for --executor ray (the local executor runs one run at a time, in this process)"
                )


@dataclass(frozen=True)
class RunContext:
    """What every run of a grid reads, from the shared filesystem (built once by the driver)."""

    out: str  # the grid folder
    items: list  # the benchmark (QAItem)
    tokenizer: str  # folder (or hub id) the tokenizer loads from
    learned: str  # the model every run unlearns
    retain_eval: str | None  # the retain model's evaluation folder (Forget Quality), if any
    ecfg: EvalConfig
    identity: dict  # model and data fingerprints + the base, as every run folder records them
    lora: Any  # core.models.LoraSettings of the adapters every run trains, or None (full weights)
    bf16: bool
    trust_remote_code: bool
    save: bool
    alternates: dict | None = None  # AltPO's {(id, language): answer} (grid base.alternate)


def _load_model(ctx: RunContext):
    from polyunlearn.core.models import add_lora, load_model

    model = load_model(ctx.learned, "bfloat16" if ctx.bf16 else "float32", ctx.trust_remote_code)
    return add_lora(model, ctx.lora) if ctx.lora is not None else model


def fail(folder: Path, error: BaseException) -> None:
    """failed.json: the error in one line, the end of its traceback, where and when."""
    tb = traceback.format_exception(type(error), error, error.__traceback__)
    where = f"{socket.gethostname()} pid {os.getpid()}"
    write_json(
        folder / FAILED_FILE,
        {
            "error": f"{type(error).__name__}: {' '.join(str(error).split())}",
            "traceback": "".join(tb[-3:]),
            "where": where,
            "at": time.time(),
        },
    )


def execute_run(
    ctx: RunContext, run: Any, cfg: ExecConfig, console: Console, log_with: str | None = None, progress: bool = False
) -> str:
    """Run one grid run under its claim. Returns "ran", "done" (finished already), "busy" (a
    live process holds it), "lost" (another process took the claim over mid-run) or "failed"
    (it raised: failed.json). Ctrl-C releases the claim and propagates."""
    from polyunlearn.core.models import load_tokenizer

    folder = Path(ctx.out) / "runs" / run.run_id
    if (folder / DONE_FILE).is_file():
        return "done"
    what = f"{run.method} ({run.forget_label}) seed {run.seed}"
    tracking.reset_progress()
    claim = try_claim(folder, timeout=cfg.claim_timeout, interval=cfg.heartbeat, what=what, progress=tracking.progress)
    if claim is None:
        return "busy"
    with claim:
        if (folder / DONE_FILE).is_file():  # finished by another process between our check and the claim
            return "done"
        resume = _resume_epoch(folder)
        record_attempt(folder, claim, resume)
        (folder / FAILED_FILE).unlink(missing_ok=True)
        label = f"{run.run_id}: {run.method} forget ({run.forget_label}) seed {run.seed} {run.params or ''}"
        console.print(
            ("resuming " if resume is not None else "") + label + (f" (from epoch {resume})" if resume else ""),
            markup=False,
        )
        try:
            retain = read_eval_items(ctx.retain_eval) if ctx.retain_eval else None
            with tracking.use(log_with), tracking.stop_when(claim.lost_reason):
                identity = ctx.identity | alternate_identity(ctx.items, run.unlearn, ctx.alternates)
                unlearn_step(folder, load=lambda: _load_model(ctx), identity=identity, tokenizer=load_tokenizer(ctx.tokenizer, ctx.trust_remote_code),
                             items=ctx.items, cfg=run.unlearn, evaluation=standard_evaluation(ctx.items, ctx.ecfg, retain), console=console, save=ctx.save,
                             info={"run_id": run.run_id, "forget_label": run.forget_label, "params": run.params, "retain_eval": ctx.retain_eval}, progress=progress, what=f"  {run.run_id}",
                             alternates=ctx.alternates, curves=CurveEvaluation(ctx.items, ctx.ecfg, retain))  # fmt: skip
        except tracking.StopRequested as e:
            console.print(f"{run.run_id}: stopped: {e}", markup=False)
            return "lost"
        except KeyboardInterrupt:
            console.print(
                f"interrupted in run {run.run_id}: rerun the same command to resume (finished runs are kept; this one goes on from its last finished epoch)"
            )
            raise
        except Exception as e:  # noqa: BLE001 - recorded in the run folder, reported by the driver
            fail(folder, e)
            console.print(f"{run.run_id}: failed: {type(e).__name__}: {e}", markup=False)
            return "failed"
    return "ran"


def _resume_epoch(folder: Path) -> int | None:
    try:
        return int(read_json(folder / CKPT_DIR / "state" / "trainer_state.json")["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def run_all(runs: Sequence[Any], out: Path, cfg: ExecConfig, start: Callable[[Any], None], collect: Callable[[float], list[tuple[str, str]]],
            console: Console) -> dict[str, str]:  # fmt: skip
    """The driver's loop, the same for both executors: start(run) every run that is free (not
    done, no live claim); collect(timeout) -> [(run_id, outcome)] of the started ones that ended;
    wait for runs held by other processes. Returns run_id -> "done" / "ran" / "failed"."""
    since = time.time()
    outcomes: dict[str, str] = {}
    in_flight: set[str] = set()
    waiting_for: dict[str, str] = {}
    said: set[str] = set()  # the runs held elsewhere that the console was last told about
    while True:
        for run in runs:
            if run.run_id in outcomes or run.run_id in in_flight:
                continue
            st = run_state(out / "runs" / run.run_id, cfg.claim_timeout, cfg.heartbeat)
            if st["status"] == "done":
                outcomes[run.run_id] = "done"
            elif st["status"] == "running":
                waiting_for[run.run_id] = st["where"]
            elif st["status"] == "failed" and (st.get("failed_at") or 0) >= since:
                outcomes[run.run_id] = "failed"  # failed in another process during this grid: settled
            else:
                waiting_for.pop(run.run_id, None)
                in_flight.add(run.run_id)
                start(run)
        for run_id, outcome in collect(min(1.0, cfg.heartbeat)):
            in_flight.discard(run_id)
            if outcome in ("ran", "done", "failed"):
                outcomes[run_id] = outcome
        if len(outcomes) == len(runs):
            return outcomes
        if not in_flight:
            held = {k: v for k, v in waiting_for.items() if k not in outcomes}
            if held and set(held) != said:
                console.print(
                    f"waiting for {len(held)} run(s) held by other processes ({', '.join(sorted(set(held.values())))})",
                    markup=False,
                )
            said = set(held)
            time.sleep(min(1.0, cfg.heartbeat))


class LocalExecutor:
    """The runs one after another in this process (the base too); the runs that other
    processes hold are waited for."""

    def __init__(self, cfg: ExecConfig, console: Console):
        self.cfg, self.console = cfg, console

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def prepare(self, prepare: Callable[..., RunContext], spec: Any, out: Path) -> RunContext:
        return prepare(spec, out, self.cfg, self.console)

    def run(self, ctx: RunContext, runs: Sequence[Any], log_with: str | None) -> dict[str, str]:
        ended: queue.SimpleQueue = queue.SimpleQueue()

        def start(run: Any) -> None:
            ended.put((run.run_id, execute_run(ctx, run, self.cfg, self.console, log_with)))

        def collect(timeout: float) -> list[tuple[str, str]]:
            out = []
            while not ended.empty():
                out.append(ended.get())
            return out

        return run_all(runs, Path(ctx.out), self.cfg, start, collect, self.console)


def failures(out: Path, outcomes: Mapping[str, str]) -> dict[str, str]:
    """run_id -> its error, for the runs that failed."""
    errors = {}
    for run_id, outcome in outcomes.items():
        if outcome == "failed":
            try:
                errors[run_id] = str(read_json(Path(out) / "runs" / run_id / FAILED_FILE).get("error"))
            except (OSError, ValueError):
                errors[run_id] = "failed (no readable failed.json)"
    return errors
