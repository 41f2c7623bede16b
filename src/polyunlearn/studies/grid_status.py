"""Where a grid stands, read from its run folders alone (so it works from any host of the shared
filesystem, while the grid runs or after it stopped): `polyunlearn grid SPEC --status`, and the
live lines a running grid shows (one per running run, and a total).

A run is done (done.json), running (a claim with a fresh heartbeat: which host and pid, how long
ago it beat, its step), stale (a claim whose holder stopped beating: the next grid takes it over
and resumes it), failed (failed.json: its error), partial (a checkpoint, nobody on it: resumes),
or pending.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

from rich.console import Console

from polyunlearn.core.atomic import read_json
from polyunlearn.core.claims import read_attempts, read_claim
from polyunlearn.core.rundir import CKPT_DIR, DONE_FILE, FAILED_FILE

STATES = ("done", "running", "stale", "failed", "partial", "pending")


def _checkpoint_epoch(folder: Path) -> int | None:
    try:
        return int(read_json(folder / CKPT_DIR / "state" / "trainer_state.json")["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def run_state(folder: Path, timeout: float, interval: float) -> dict[str, Any]:
    """The state of one run folder: {"status": one of STATES, and what goes with it}."""
    if (folder / DONE_FILE).is_file():
        return {"status": "done"}
    holder = read_claim(folder)
    if holder is not None:
        progress = holder.progress or {}
        state = {"status": "stale" if holder.stale(timeout, interval) else "running", "where": holder.where(),
                 "heartbeat_s": round(holder.age(), 1), "step": progress.get("step"), "total": progress.get("total"),
                 "loss": progress.get("loss"), "what": holder.what}  # fmt: skip
        return state
    if (folder / FAILED_FILE).is_file():
        try:
            failure = read_json(folder / FAILED_FILE)
        except (OSError, ValueError):
            failure = {"error": f"{folder / FAILED_FILE} is unreadable"}
        return {
            "status": "failed",
            "error": failure.get("error"),
            "failed_at": failure.get("at"),
            "where": failure.get("where"),
        }
    epoch = _checkpoint_epoch(folder)
    return {"status": "partial", "epoch": epoch} if epoch is not None else {"status": "pending"}


def status_rows(out: Path, runs: Sequence[Any], timeout: float, interval: float) -> list[dict[str, Any]]:
    """One row per run of the spec (GridRun), in spec order."""
    rows = []
    for run in runs:
        folder = Path(out) / "runs" / run.run_id
        st = run_state(folder, timeout, interval)
        detail = ""
        if st["status"] in ("running", "stale"):
            step = f", step {st['step']}/{st['total']}" if st.get("step") else ""
            detail = f"{st['where']}, heartbeat {st['heartbeat_s']:.0f}s ago{step}"
            if st["status"] == "stale":
                detail += ": the next grid on this folder takes it over"
        elif st["status"] == "failed":
            detail = str(st.get("error"))
        elif st["status"] == "partial":
            detail = f"resumes from epoch {st['epoch']}"
        attempts = read_attempts(folder)
        rows.append({"run_id": run.run_id, "method": run.method, "forget_langs": run.forget_label, "seed": run.seed,
                     "status": st["status"], "attempts": len(attempts), "detail": detail})  # fmt: skip
    return rows


def base_status(out: Path, timeout: float, interval: float) -> str:
    holder = read_claim(Path(out) / "base")
    if holder is not None and not holder.stale(timeout, interval):
        return f"being prepared by {holder.where()} (heartbeat {holder.age():.0f}s ago)"
    if (Path(out) / "grid.json").is_file():
        return "ready"
    return "not prepared yet" + (f" (stale claim of {holder.where()}: the next grid takes it over)" if holder else "")


def counts(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    return {s: sum(r["status"] == s for r in rows) for s in STATES}


def count_line(rows: Sequence[Mapping[str, Any]]) -> str:
    c = counts(rows)
    return f"{len(rows)} runs: " + ", ".join(
        f"{n} {s}" for s, n in c.items() if n or s in ("done", "running", "pending")
    )


class LiveGrid:
    """While a grid runs: a total line and one live line per running run (from the claims'
    heartbeats, so runs on other hosts show too), refreshed by a thread."""

    def __init__(
        self, console: Console, out: Path, runs: Sequence[Any], timeout: float, interval: float, refresh: float = 0.5
    ):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.out, self.runs, self.timeout, self.interval, self.refresh = (
            Path(out),
            list(runs),
            timeout,
            interval,
            refresh,
        )
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
        )
        self.total = self.progress.add_task("grid", total=len(self.runs))
        self.lines: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="grid-progress", daemon=True)

    def update(self) -> list[dict[str, Any]]:
        rows = status_rows(self.out, self.runs, self.timeout, self.interval)
        c = counts(rows)
        self.progress.update(
            self.total,
            completed=c["done"],
            description=f"grid: {c['done']} done, {c['running']} running, {c['failed']} failed",
        )
        running = {r["run_id"]: r for r in rows if r["status"] == "running"}
        for run_id in [k for k in self.lines if k not in running]:
            self.progress.remove_task(self.lines.pop(run_id))
        for run in self.runs:
            if run.run_id not in running:
                continue
            st = run_state(self.out / "runs" / run.run_id, self.timeout, self.interval)
            loss = f" loss {st['loss']:.3f}" if isinstance(st.get("loss"), (int, float)) else ""
            text = f"  {run.run_id} {run.method} ({run.forget_label}) seed {run.seed} on {st['where']}{loss}"
            if run.run_id not in self.lines:
                self.lines[run.run_id] = self.progress.add_task(text, total=st.get("total") or None)
            self.progress.update(
                self.lines[run.run_id], description=text, completed=st.get("step") or 0, total=st.get("total") or None
            )
        return rows

    def _loop(self) -> None:
        while not self._stop.wait(self.refresh):
            # A folder read mid-write fails now and reads fine at the next refresh.
            with contextlib.suppress(Exception):
                self.update()

    def __enter__(self) -> Self:
        self.update()
        self.progress.start()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        try:
            self.update()
        finally:
            self.progress.stop()


def print_status(
    console: Console, out: Path, runs: Sequence[Any], timeout: float, interval: float
) -> list[dict[str, Any]]:
    """`polyunlearn grid SPEC --status`: the base, one row per run, the counts."""
    from polyunlearn.analysis.matrices import console_table

    rows = status_rows(out, runs, timeout, interval)
    console.print(f"{out}: base {base_status(out, timeout, interval)}", markup=False)
    console.print(console_table(rows, count_line(rows)))
    for r in rows:
        if r["status"] == "failed":
            console.print(
                f"failed {r['run_id']}: {r['detail']} (full traceback: {Path(out) / 'runs' / r['run_id'] / 'failed.json'})",
                markup=False,
            )
    return rows
