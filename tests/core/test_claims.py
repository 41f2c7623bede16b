"""Run claims (core/claims.py): one holder at a time across processes, a heartbeat that keeps a
live claim fresh, stale claims taken over (by age; on this host when the holder's process is
gone), a holder that was taken over notices it, the base claim makes a second process wait."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import socket
import time

import pytest

from polyunlearn.core.claims import (
    ATTEMPTS_FILE,
    CLAIM_FILE,
    read_attempts,
    read_claim,
    record_attempt,
    try_claim,
    wait_claim,
)
from polyunlearn.core.rundir import RunFolder, check_run_folder


def _write_claim(folder, host="otherhost", pid=4242, age=0.0, token="t0"):
    folder.mkdir(parents=True, exist_ok=True)
    beat = time.time() - age
    rec = {"host": host, "pid": pid, "token": token, "claimed": beat, "heartbeat": beat, "what": "x", "progress": None}
    tmp = folder / "claim.json.new"
    tmp.write_text(json.dumps(rec))
    os.replace(tmp, folder / CLAIM_FILE)  # atomic, as a take-over writes it


def test_claim_is_exclusive_and_released(tmp_path):
    a = try_claim(tmp_path / "run", timeout=60, interval=0.1, what="npo (en)")
    assert a is not None
    holder = read_claim(tmp_path / "run")
    assert (holder.host, holder.pid, holder.what) == (socket.gethostname(), os.getpid(), "npo (en)")
    assert try_claim(tmp_path / "run", timeout=60, interval=0.1) is None  # held by a live process
    a.release()
    assert read_claim(tmp_path / "run") is None
    b = try_claim(tmp_path / "run", timeout=60, interval=0.1)
    assert b is not None
    b.release()
    assert not list((tmp_path / "run").glob("*.tmp"))


def test_heartbeat_refreshes_and_carries_progress(tmp_path):
    steps = iter(range(1, 1000))
    with try_claim(tmp_path, timeout=60, interval=0.05, progress=lambda: {"step": next(steps), "total": 9}) as claim:
        first = read_claim(tmp_path).heartbeat
        time.sleep(0.4)
        now = read_claim(tmp_path)
        assert now.heartbeat > first and now.token == claim.token
        assert now.progress["step"] >= 2 and now.progress["total"] == 9
        assert not claim.lost.is_set()


def test_stale_claim_of_another_host_is_taken_over(tmp_path):
    """Another host's claim: live while its heartbeat is younger than the timeout, stale after."""
    _write_claim(tmp_path, age=5.0)
    assert try_claim(tmp_path, timeout=30, interval=0.1) is None
    _write_claim(tmp_path, age=31.0)
    claim = try_claim(tmp_path, timeout=30, interval=0.1)
    assert claim is not None
    assert claim.record["took_over"]["host"] == "otherhost" and claim.record["took_over"]["pid"] == 4242
    claim.release()


def test_dead_process_on_this_host_is_stale_after_missed_beats(tmp_path):
    proc = mp.get_context("fork").Process(target=time.sleep, args=(0,))
    proc.start()
    proc.join()  # a pid that no longer runs
    _write_claim(tmp_path, host=socket.gethostname(), pid=proc.pid, age=0.0)
    assert try_claim(tmp_path, timeout=60, interval=0.1) is None  # just beat: not yet
    time.sleep(0.35)  # > 3 missed beats
    claim = try_claim(tmp_path, timeout=60, interval=0.1)
    assert claim is not None and claim.record["took_over"]["pid"] == proc.pid
    claim.release()
    # The same on this host but a live process (this one): never taken over before the timeout.
    _write_claim(tmp_path, host=socket.gethostname(), pid=os.getpid(), age=1.0)
    assert try_claim(tmp_path, timeout=60, interval=0.1) is None


def test_holder_notices_a_take_over(tmp_path):
    """A holder paused past the timeout finds its claim taken over and never writes over it."""
    claim = try_claim(tmp_path, timeout=60, interval=0.05)
    _write_claim(tmp_path, token="someone-else")  # what a take-over leaves
    time.sleep(0.3)
    assert claim.lost.is_set() and "taken over" in claim.lost_reason()
    assert read_claim(tmp_path).token == "someone-else"
    claim.release()
    assert read_claim(tmp_path).token == "someone-else"  # release leaves the new holder's claim


def _race(folder, barrier, results, stale):
    barrier.wait()
    claim = try_claim(folder, timeout=30, interval=0.05)
    results.put(os.getpid() if claim is not None else None)
    if claim is not None:
        time.sleep(0.5)  # hold it while the others try
        claim.release()


@pytest.mark.parametrize("stale", [False, True], ids=["free", "stale"])
def test_only_one_of_many_processes_wins(tmp_path, stale):
    """8 processes claim one folder at once (a free one, and one whose stale claim they all
    take over at once): exactly one wins."""
    if stale:
        _write_claim(tmp_path, age=999.0)
    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(8), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(tmp_path, barrier, results, stale)) for _ in range(8)]
    for p in procs:
        p.start()
    winners = [w for w in (results.get(timeout=30) for _ in procs) if w is not None]
    for p in procs:
        p.join()
    assert len(winners) == 1
    assert not list(tmp_path.glob(".claim*")) and not (tmp_path / "claim.takeover").exists()


def _hold_base(folder, ready):
    with try_claim(folder, timeout=30, interval=0.05):
        ready.set()
        time.sleep(1.0)
        (folder / "built").write_text("1")


def test_wait_claim_waits_for_the_builder(tmp_path):
    """The base claim: a second process waits until the first has built and released."""
    ctx = mp.get_context("fork")
    ready = ctx.Event()
    builder = ctx.Process(target=_hold_base, args=(tmp_path, ready))
    builder.start()
    ready.wait(10)
    seen = []
    t = time.time()
    with wait_claim(tmp_path, timeout=30, interval=0.05, on_wait=seen.append):
        assert (tmp_path / "built").exists() and time.time() - t > 0.5
    builder.join()
    assert len(seen) == 1 and seen[0].pid == builder.pid


def test_claim_files_fit_the_run_folder_rules(tmp_path):
    """A claim (and its attempts log) made before run.json exists does not make the folder 'not
    a run folder', survives an identity change's clearing, and a done folder passes the check."""
    folder = tmp_path / "run"
    with try_claim(folder, timeout=60, interval=0.05) as claim:
        record_attempt(folder, claim, resume_epoch=None)
        with RunFolder(folder, {"x": 1}, kind="unlearn") as rf:
            rf.finish()
        with RunFolder(folder, {"x": 2}, kind="unlearn", overwrite=True) as rf:  # clears the results only
            assert (folder / CLAIM_FILE).exists() and (folder / ATTEMPTS_FILE).exists()
            rf.finish()
    assert check_run_folder(folder) == []
    assert [a["pid"] for a in read_attempts(folder)] == [os.getpid()]
