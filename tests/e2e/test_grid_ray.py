"""Many runs at once, each run exactly once: a 4-run tiny grid on a local Ray instance (2 CPUs, 2
runs at a time) gives the local executor's table, history and per-item records exactly; a Ray
worker SIGKILLed mid-run is retried and resumes from its checkpoint, one start more and no run
twice; two `polyunlearn grid` processes started together on a fresh folder build the base once
and run each run once; a stale claim is taken over (resuming its checkpoint) and a fresh one
waited for; a run that raises is recorded (failed.json), reported, shown by --status and retried
by a rerun. One base (learned + retain model, evaluation before) is shared by all but the
two-process test, which needs a fresh folder."""

from __future__ import annotations

import copy
import io
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from rich.console import Console

import polyunlearn.core.trainloop as train_mod
import polyunlearn.studies.grid_exec as exec_mod
from helpers.cli import runner
from helpers.items import small_items
from polyunlearn.cli import app
from polyunlearn.core.atomic import read_json, read_jsonl
from polyunlearn.core.claims import CLAIM_FILE, read_attempts, read_claim
from polyunlearn.core.rundir import check_run_folder
from polyunlearn.data.loaders import save_items
from polyunlearn.studies.grid import GridRunsFailed, load_spec, run_grid
from polyunlearn.studies.grid_exec import ExecConfig
from polyunlearn.studies.grid_status import LiveGrid

# Demo, grid and study runs on the tiny model: tens of seconds each on CPU.
pytestmark = pytest.mark.slow

EPOCHS = 3
SPEC = {
    "base": {"data": None, "languages": "en,fr", "model": "tiny", "vocab_size": 600,
             "learn": {"epochs": 30, "lr": 3.0e-3, "batch_size": 16}, "eval": {"generate": False}},
    "grid": {"methods": ["npo", "grad_diff"], "forget_sets": ["each"], "seeds": [0],
             "params": {"lr": 1.0e-3, "epochs": EPOCHS, "batch_size": 8}},
}  # fmt: skip
# Short heartbeats so that a dead worker's claim goes stale in a second, not minutes.
RAY = ExecConfig(executor="ray", heartbeat=0.2, claim_timeout=30)


def write_spec(path: Path, spec: dict, **grid) -> Path:
    spec = copy.deepcopy(spec)
    spec["grid"] |= grid
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def local_grid(tmp_path_factory):
    """The 4 runs with the local executor; its base is reused by the tests below."""
    root = tmp_path_factory.mktemp("grid_ray")
    spec = copy.deepcopy(SPEC)
    spec["base"]["data"] = str(save_items(small_items(("en", "fr")), root / "data.jsonl"))
    path = write_spec(root / "grid.yaml", spec)
    out = root / "out"
    results = run_grid(load_spec(path), out, Console(file=io.StringIO()), progress=False)
    shutil.copytree(out / "runs", root / "runs_local")
    return root, spec, out, results


@pytest.fixture(scope="module")
def ray_local():
    """A local Ray instance for this module (2 CPUs, no dashboard, its logs in a temp folder)."""
    import ray

    temp = tempfile.mkdtemp(prefix="pu-ray-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
        _temp_dir=temp,
    )

    @ray.remote(num_cpus=1)
    def warm() -> int:
        import polyunlearn.studies.grid_ray  # noqa: F401 - torch, transformers: a worker's slow start, paid here

        time.sleep(1.0)  # both at once: two workers
        return os.getpid()

    try:
        # Two warm workers, as a grid of real runs (minutes each) would have after its first
        # seconds: so that these 2-second runs show 2 at a time rather than one worker's start-up.
        assert len(set(ray.get([warm.remote(), warm.remote()]))) == 2
        yield ray
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


def _intervals(out: Path, run_ids) -> dict[str, tuple[float, float, int]]:
    """run_id -> (start of its last attempt, finish, worker pid)."""
    out_ = {}
    for rid in run_ids:
        a = read_attempts(out / "runs" / rid)[-1]
        out_[rid] = (a["started"], read_json(out / "runs" / rid / "done.json")["finished"], a["pid"])
    return out_


def test_ray_grid_equals_local(local_grid, ray_local):
    """Same run folders, same tidy table, exactly; 2 runs at a time on 2 Ray workers; each run
    started once; with --log-with tensorboard each run folder holds the losses per step and the
    evaluation per language, and still passes the layout check."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    root, _, out, local = local_grid
    shutil.rmtree(out / "runs")  # same folder: the base is reused, every run is redone on Ray
    (out / "base" / "ready.json").unlink()  # so the base goes through a Ray task too (which finds it done)
    log = io.StringIO()
    results = run_grid(
        load_spec(root / "grid.yaml"),
        out,
        Console(file=log, width=200),
        progress=False,
        execution=RAY,
        log_with="tensorboard",
    )
    assert "base: prepared by a Ray task" in log.getvalue() and (out / "base" / "ready.json").exists()
    pd.testing.assert_frame_equal(results, local)
    run_ids = list(local["run_id"].unique())
    assert len(run_ids) == 4
    for rid in run_ids:
        ray_dir, local_dir = out / "runs" / rid, root / "runs_local" / rid
        assert read_json(ray_dir / "history.json") == read_json(local_dir / "history.json")
        assert read_jsonl(ray_dir / "eval" / "items.jsonl") == read_jsonl(local_dir / "eval" / "items.jsonl")
        assert read_json(ray_dir / "run.json")["identity"] == read_json(local_dir / "run.json")["identity"]
        assert len(read_attempts(ray_dir)) == 1 and not (ray_dir / CLAIM_FILE).exists()
        assert check_run_folder(ray_dir) == []
        # The tracker: every step's loss terms, the evaluation per language at the last step.
        events = EventAccumulator(str(ray_dir / "tracking" / "tensorboard"))
        events.Reload()
        history = read_json(ray_dir / "history.json")
        logged = events.Scalars("train/loss")
        assert [e.step for e in logged] == [h["step"] for h in history]
        assert [e.value for e in logged] == pytest.approx([h["loss"] for h in history], rel=1e-6)
        assert {f"train/{k}" for k in history[0] if k != "step"} <= set(events.Tags()["scalars"])
        summary = pd.read_csv(ray_dir / "eval" / "summary.csv").set_index("language")
        fp = events.Scalars("eval/forget_prob/fr")
        assert fp[0].step == len(history) and fp[0].value == pytest.approx(summary.loc["fr", "forget_prob"], rel=1e-6)
    spans = _intervals(out, run_ids)
    assert os.getpid() not in {pid for *_, pid in spans.values()} and len({pid for *_, pid in spans.values()}) == 2
    overlap = [
        (a, b) for a in spans for b in spans if a < b and spans[a][0] < spans[b][1] and spans[b][0] < spans[a][1]
    ]
    assert overlap, f"no two runs ran at the same time: {spans}"


def test_killed_worker_resumes_and_each_run_runs_once(local_grid, ray_local, tmp_path):
    """SIGKILL a Ray worker after its run saved epoch >= 1: Ray retries the task, the retry takes
    the dead worker's claim over and resumes from the checkpoint; every run ends done, with
    every epoch once in its history, and only the killed one started twice."""
    _, spec, out, _ = local_grid
    epochs = 8  # long enough to be caught mid-run
    path = write_spec(tmp_path / "kill.yaml", spec, seeds=[1], params={**spec["grid"]["params"], "epochs": epochs})
    runs = load_spec(path).runs
    killed: dict = {}
    stop = threading.Event()

    def kill_one() -> None:
        while not stop.is_set() and not killed:
            for r in runs:
                folder = out / "runs" / r.run_id
                try:
                    epoch = read_json(folder / "ckpt" / "state" / "trainer_state.json")["epoch"]
                except (OSError, ValueError):
                    continue
                holder = read_claim(folder)
                if epoch >= 1 and holder is not None and holder.pid > 0 and not (folder / "done.json").exists():
                    os.kill(holder.pid, signal.SIGKILL)
                    killed.update(run_id=r.run_id, pid=holder.pid, epoch=epoch)
                    return
            time.sleep(0.01)

    watcher = threading.Thread(target=kill_one, daemon=True)
    watcher.start()
    try:
        results = run_grid(load_spec(path), out, Console(file=io.StringIO()), progress=False, execution=RAY)
    finally:
        stop.set()
        watcher.join()
    assert killed, "no worker was caught mid-run"
    assert set(results["run_id"]) == {r.run_id for r in runs}
    for r in runs:
        folder = out / "runs" / r.run_id
        attempts = read_attempts(folder)
        history = read_json(folder / "history.json")
        assert [h["step"] for h in history] == list(
            range(1, epochs * 2 + 1)
        )  # 10 forget items / batch 8 = 2 steps per epoch
        assert [h["epoch"] for h in history] == [e for e in range(1, epochs + 1) for _ in range(2)]
        assert check_run_folder(folder) == []
        if r.run_id != killed["run_id"]:
            assert len(attempts) == 1
            continue
        assert len(attempts) == 2 and attempts[0]["pid"] == killed["pid"]
        assert attempts[1]["took_over"]["pid"] == killed["pid"] and attempts[1]["pid"] != killed["pid"]
        assert attempts[1]["resume_epoch"] >= killed["epoch"]  # lost at most the epoch under way


def test_stale_claim_is_taken_over_and_fresh_one_waited_for(local_grid, monkeypatch, tmp_path):
    """A run left after epoch 1 with the claim of a host that stopped beating long ago is taken
    over at once and resumed from epoch 2; a claim that just beat is waited for, then taken
    over once it is older than the timeout."""
    _, spec, out, _ = local_grid
    path = write_spec(tmp_path / "stale.yaml", spec, seeds=[3])
    runs = load_spec(path).runs
    original = train_mod._save_checkpoint

    def interrupt(acc, ckpt, epoch, history, cfg):
        original(acc, ckpt, epoch, history, cfg)
        raise KeyboardInterrupt

    monkeypatch.setattr(train_mod, "_save_checkpoint", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_grid(load_spec(path), out, Console(file=io.StringIO()), progress=False)
    monkeypatch.setattr(train_mod, "_save_checkpoint", original)
    first, second = (out / "runs" / r.run_id for r in runs[:2])
    assert read_json(first / "ckpt" / "state" / "trainer_state.json")["epoch"] == 1 and read_claim(first) is None
    for folder, pid, age in ((first, 4242, 3600.0), (second, 4243, 0.0)):
        beat = time.time() - age
        (folder / CLAIM_FILE).parent.mkdir(parents=True, exist_ok=True)
        (folder / CLAIM_FILE).write_text(
            json.dumps(
                {"host": "otherhost", "pid": pid, "token": f"t{pid}", "claimed": beat, "heartbeat": beat, "what": "x"}
            )
        )
    log = io.StringIO()
    t = time.time()
    run_grid(
        load_spec(path),
        out,
        Console(file=log, width=200),
        progress=False,
        execution=ExecConfig(heartbeat=0.2, claim_timeout=2.0),
    )
    text = log.getvalue()
    assert "waiting for 1 run(s) held by other processes (otherhost pid 4243)" in text and time.time() - t > 1.5
    a1, a2 = read_attempts(first), read_attempts(second)
    assert len(a1) == 2 and a1[1]["took_over"]["pid"] == 4242 and a1[1]["resume_epoch"] == 1
    assert len(a2) == 1 and a2[0]["took_over"]["pid"] == 4243
    history = read_json(first / "history.json")
    assert [h["step"] for h in history] == list(range(1, 2 * EPOCHS + 1))
    assert all((out / "runs" / r.run_id / "done.json").exists() for r in runs)


def test_failed_run_is_recorded_shown_and_retried(local_grid, monkeypatch, tmp_path):
    """A run that raises: failed.json with its error, the other runs finish, the grid ends with
    one error naming it; --status shows done / running (where, heartbeat, step) / stale /
    failed (why) / pending and the live lines show the running run; a rerun retries it."""
    _, spec, out, _ = local_grid
    path = write_spec(tmp_path / "fail.yaml", spec, seeds=[4])
    runs = load_spec(path).runs
    bad = runs[1].run_id
    real = exec_mod.unlearn_step

    def sometimes_fails(folder, **kw):
        if Path(folder).name == bad:
            raise RuntimeError("boom in the loss")
        return real(folder, **kw)

    monkeypatch.setattr(exec_mod, "unlearn_step", sometimes_fails)
    with pytest.raises(GridRunsFailed, match=f"1 of 4 runs failed.*{bad}: RuntimeError: boom in the loss"):
        run_grid(load_spec(path), out, Console(file=io.StringIO()), progress=False)
    failure = read_json(out / "runs" / bad / "failed.json")
    assert failure["error"] == "RuntimeError: boom in the loss" and "sometimes_fails" in failure["traceback"]
    # --status over this spec's runs and 4 more that never ran: one held, one abandoned.
    both = write_spec(tmp_path / "both.yaml", spec, seeds=[4, 9])
    later = [r for r in load_spec(both).runs if r.seed == 9]
    now = time.time()
    for r, beat in ((later[0], now), (later[1], now - 3600)):
        folder = out / "runs" / r.run_id
        folder.mkdir(parents=True)
        progress = {"step": 3, "total": 6, "epoch": 2, "loss": 1.234}
        (folder / CLAIM_FILE).write_text(
            json.dumps(
                {
                    "host": "otherhost",
                    "pid": 7,
                    "token": "t",
                    "claimed": beat,
                    "heartbeat": beat,
                    "what": "x",
                    "progress": progress,
                }
            )
        )
    from polyunlearn.cli.root import console

    monkeypatch.setattr(console, "_width", 250)  # the table's detail column unwrapped
    res = runner.invoke(app, ["grid", str(both), "--out", str(out), "--status"], catch_exceptions=False)
    text = " ".join(res.output.split())
    assert res.exit_code == 0, res.output
    assert "8 runs: 3 done, 1 running, 1 stale, 1 failed, 2 pending" in text
    assert "otherhost pid 7, heartbeat 0s ago, step 3/6" in text and "base ready" in text
    assert f"failed {bad}: RuntimeError: boom in the loss" in text
    live = LiveGrid(Console(file=io.StringIO()), out, load_spec(both).runs, 300, 2)
    live.update()
    lines = [t for t in live.progress.tasks if t.id != live.total]
    assert (
        len(lines) == 1
        and "otherhost pid 7 loss 1.234" in lines[0].description
        and (lines[0].completed, lines[0].total) == (3, 6)
    )
    assert live.progress.tasks[0].completed == 3 and "3 done, 1 running, 1 failed" in live.progress.tasks[0].description
    monkeypatch.setattr(exec_mod, "unlearn_step", real)
    run_grid(load_spec(path), out, Console(file=io.StringIO()), progress=False)
    assert not (out / "runs" / bad / "failed.json").exists() and len(read_attempts(out / "runs" / bad)) == 2


def test_two_grid_processes_share_one_folder(tmp_path):
    """Two `polyunlearn grid` commands started together on a fresh folder: the base is learned
    once (the other process waits and reuses it), every run runs exactly once, both end with
    the whole table."""
    spec = copy.deepcopy(SPEC)
    spec["base"]["data"] = str(save_items(small_items(("en", "fr")), tmp_path / "data.jsonl"))
    spec["base"]["learn"]["epochs"] = 4  # what is learned does not matter here, only who learns it
    path = write_spec(tmp_path / "two.yaml", spec, params={**spec["grid"]["params"], "epochs": 2})
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-c",
        "from polyunlearn.cli import app; app()",
        "grid",
        str(path),
        "--out",
        str(out),
        "--no-progress",
    ]
    env = os.environ | {"COLUMNS": "200"}
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) for _ in range(2)
    ]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    trained = [o for o in outputs if "learn (all facts): 16 steps" in o]
    assert len(trained) == 1 and "learn (all facts): done in" in outputs[1 - outputs.index(trained[0])]
    runs = load_spec(path).runs
    starts = {r.run_id: read_attempts(out / "runs" / r.run_id) for r in runs}
    assert all(len(a) == 1 for a in starts.values()), starts
    assert {a[0]["pid"] for a in starts.values()} <= {p.pid for p in procs}
    assert all(f"results: {len(pd.read_csv(out / 'results.csv'))} rows" in o for o in outputs)
    assert pd.read_csv(out / "results.csv")["run_id"].nunique() == 4


@pytest.mark.parametrize(
    "args, message",
    [
        (["--gpus-per-run", "1"], "--gpus-per-run: only for --executor ray"),
        (["--executor", "ray", "--gpus-per-run", "2"], "a grid run is one process on at most one GPU"),
        (
            ["--executor", "ray", "--gpus-per-run", "1"],
            "--gpus-per-run is 1 but the Ray cluster (local) has 0 GPUs in all",
        ),
        (
            ["--executor", "ray", "--cpus-per-run", "3"],
            "--cpus-per-run is 3 but the Ray cluster (local) has 2 CPUs in all",
        ),
        (["--claim-timeout", "5"], "claim_timeout must be > 6"),
        (["--executor", "spark"], "executor is 'spark'; choose from local, ray"),
    ],
)
def test_execution_options_are_checked_before_anything_is_written(local_grid, ray_local, tmp_path, args, message):
    """One line, exit 2, and OUT untouched (the Ray checks: against the running instance)."""
    root = local_grid[0]
    out = tmp_path / "o"
    res = runner.invoke(app, ["grid", str(root / "grid.yaml"), "--out", str(out), *args])
    assert res.exit_code == 2 and message in " ".join(res.output.split()), res.output
    assert not out.exists()
