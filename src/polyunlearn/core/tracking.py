"""What a training run reports while it runs: the experiment tracker chosen with --log-with
(Hugging Face Accelerate's trackers: tensorboard, wandb, trackio, mlflow), the live progress a
grid shows (step, total, loss), and the stop requests checked at every step (a lost run claim).

    with tracking.use("tensorboard"):                   # the CLI: --log-with tensorboard
        with tracking.run(folder, identity, "npo (en)"): # a step (pipeline/step.py), per run folder
            train(...)                                   # calls on_step() after every optimizer step
            tracking.log_summary(summary, step=n)        # the evaluation, per language

core/trainloop.train calls `on_step(history entry, total steps)` on the main process after each
step: the entry's numbers (loss, lr, every loss term a method logs) go to the tracker as
train/<name> at that step. `log_summary` writes each metric of an evaluation as
eval/<metric>/<language> (at the step it was made: after the last step, or at an epoch end when a
per-epoch evaluation runs). The run's identity, flattened to dotted keys, is the tracker's config.

Default off. Chosen, it stays offline: tensorboard writes under the run folder
(<run>/tracking/tensorboard); wandb runs in offline mode under <run>/tracking unless WANDB_MODE
says otherwise; mlflow logs to a file store under <run>/tracking/mlflow unless
MLFLOW_TRACKING_URI is set; trackio keeps its local database (its default). Logging never
changes a result, so it is not part of a run's identity.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import numbers
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

LOG_WITH = ("tensorboard", "wandb", "trackio", "mlflow")
TRACKING_DIR = "tracking"  # in a run folder; the tracker's own files (core/rundir.check_run_folder skips them)
PROJECT = "polyunlearn"


class StopRequested(RuntimeError):
    """Training must stop now (e.g. this process lost its claim on the run): the epoch under way
    is dropped, the last epoch checkpoint stays for whoever holds the run now."""


_kind: ContextVar[str | None] = ContextVar("polyunlearn_log_with", default=None)
_active: ContextVar[Any] = ContextVar("polyunlearn_tracker", default=None)
_stops: ContextVar[tuple[Callable[[], str | None], ...]] = ContextVar("polyunlearn_stops", default=())
# Read by a claim's heartbeat thread (core/claims.py), hence a plain locked dict, not a ContextVar.
_progress: dict[str, Any] = {}
_progress_lock = threading.Lock()


def check_log_with(name: str | None) -> str | None:
    """`name` when it is a known tracker whose package is installed; one line otherwise."""
    if name is None:
        return None
    if name not in LOG_WITH:
        raise ValueError(f"--log-with is {name!r}; choose from {', '.join(LOG_WITH)}")
    if importlib.util.find_spec(name) is None:
        raise ValueError(f"--log-with {name} needs the {name} package, which is not installed (pip install {name})")
    return name


@contextlib.contextmanager
def use(log_with: str | None) -> Iterator[None]:
    """Every run trained inside logs to `log_with` (None: no tracker)."""
    token = _kind.set(check_log_with(log_with))
    try:
        yield
    finally:
        _kind.reset(token)


def flat_config(identity: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A run identity as tracker hyperparameters: dotted keys, scalars kept, lists as JSON."""
    out: dict[str, Any] = {}
    for k, v in identity.items():
        if isinstance(v, Mapping):
            out |= flat_config(v, f"{prefix}{k}.")
        elif v is None or isinstance(v, (bool, int, float, str)):
            out[f"{prefix}{k}"] = v
        else:
            out[f"{prefix}{k}"] = json.dumps(v, ensure_ascii=False, default=str)
    return out


def _tracker(kind: str, logdir: Path, name: str) -> Any:
    """An Accelerate tracker of `kind` writing under `logdir`, offline unless told otherwise."""
    from accelerate import tracking as acc_tracking

    if kind == "tensorboard":
        return acc_tracking.TensorBoardTracker("tensorboard", logdir)
    if kind == "wandb":
        kwargs: dict[str, Any] = {"name": name, "dir": str(logdir)}
        if "WANDB_MODE" not in os.environ:
            kwargs["mode"] = "offline"
        return acc_tracking.WandBTracker(PROJECT, **kwargs)
    if kind == "mlflow":
        if "MLFLOW_TRACKING_URI" not in os.environ:
            import mlflow

            mlflow.set_tracking_uri((logdir / "mlflow").resolve().as_uri())
        return acc_tracking.MLflowTracker(experiment_name=PROJECT, run_name=name)
    return acc_tracking.TrackioTracker(PROJECT, name=name)


@contextlib.contextmanager
def run(folder: str | Path, identity: Mapping[str, Any], name: str) -> Iterator[Any]:
    """The tracker of one run folder while it trains and evaluates (None when none is chosen)."""
    kind = _kind.get()
    if kind is None:
        yield None
        return
    logdir = Path(folder) / TRACKING_DIR
    logdir.mkdir(parents=True, exist_ok=True)
    tracker = _tracker(kind, logdir, name)
    tracker.start()
    tracker.store_init_configuration(flat_config(identity))
    token = _active.set(tracker)
    try:
        yield tracker
    finally:
        _active.reset(token)
        tracker.finish()


def log(values: Mapping[str, float], step: int) -> None:
    tracker = _active.get()
    if tracker is not None and values:
        tracker.log(dict(values), step=step)


def on_step(entry: Mapping[str, Any], total: int) -> None:
    """After an optimizer step (train(), main process): progress, tracker, stop requests."""
    with _progress_lock:
        _progress.update(step=entry["step"], total=total, epoch=entry["epoch"], loss=entry["loss"])
    numbers = {
        f"train/{k}": v
        for k, v in entry.items()
        if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    log(numbers, step=int(entry["step"]))
    for check in _stops.get():
        reason = check()
        if reason:
            raise StopRequested(reason)


def log_summary(summary: Any, step: int, prefix: str = "eval") -> None:
    """Every numeric metric of a per-language summary (DataFrame) as <prefix>/<metric>/<language>."""
    if _active.get() is None or summary is None:
        return
    values: dict[str, float] = {}
    for _, row in summary.iterrows():
        for metric, v in row.items():
            # Item counts (*_n) are not metrics (as in analysis/results.metric_columns); NaN = undefined.
            if (
                metric in ("language", "resource")
                or str(metric).endswith("_n")
                or isinstance(v, bool)
                or not isinstance(v, numbers.Real)
            ):
                continue
            if not math.isnan(v):
                values[f"{prefix}/{metric}/{row['language']}"] = float(v)
    log(values, step)


def progress() -> dict[str, Any] | None:
    """The latest step of the training running in this process (None before the first)."""
    with _progress_lock:
        return dict(_progress) or None


def reset_progress() -> None:
    with _progress_lock:
        _progress.clear()


@contextlib.contextmanager
def stop_when(check: Callable[[], str | None]) -> Iterator[None]:
    """Training inside stops (StopRequested) at the first step where `check()` gives a reason."""
    token = _stops.set((*_stops.get(), check))
    try:
        yield
    finally:
        _stops.reset(token)
