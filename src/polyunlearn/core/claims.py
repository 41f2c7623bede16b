"""Run claims: which process is working on a run folder, safe across processes and hosts that
share a filesystem (a Ray cluster, two Slurm jobs, two `polyunlearn grid` commands).

    claim = try_claim(folder, timeout=300, interval=2, what="npo (en) seed 0")
    if claim is None:
        ...                     # another live process holds it: leave the run to it
    with claim:                 # heartbeat thread running; claim.json removed on exit
        ... run, resuming from the checkpoint ...

A claim is the file `claim.json` in the folder (host, pid, a random token, a heartbeat time and
the run's live progress). Why a file and not flock: flock on a network filesystem may lock only
on the local host (NFSv3 without lockd) or not at all (Lustre mounted without flock), so two
hosts would both "hold" it. The file is created with os.link of a fully written temporary file:
link either creates the name or fails with EEXIST, atomically, on every POSIX filesystem (NFS
included; the classic lock-file primitive), and readers never see a half-written claim.

A thread refreshes the heartbeat every `interval` seconds (atomic replace). A claim whose
heartbeat is older than `timeout` is stale: its holder died (SIGKILL, node lost) or hangs, and
the next process takes it over under a short take-over mutex (again os.link), so two takers
never both win. On the claim's own host a holder whose process is gone is stale after three
missed heartbeats (a live holder in another PID namespace with the same host name keeps
beating, so it is never mistaken for dead). A holder that finds its claim taken over (it was
paused longer than `timeout`) marks it lost (`Claim.lost`) and stops beating; the grid stops
its training at the next step (core/tracking.stop_when).

Every start of a run under a claim appends one line to attempts.jsonl (host, pid, time, the
checkpoint epoch it resumes from, the claim it took over): the run's history of workers.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from polyunlearn.core.atomic import dumps, read_json, write_text

CLAIM_FILE = "claim.json"
ATTEMPTS_FILE = "attempts.jsonl"
TAKEOVER_FILE = "claim.takeover"
MISSED_BEATS = 3  # a same-host holder whose process is gone is stale after this many missed heartbeats


@dataclass(frozen=True)
class Holder:
    """Who holds a folder's claim, as read from its claim.json."""

    host: str
    pid: int
    token: str
    claimed: float
    heartbeat: float
    what: str
    progress: Mapping[str, Any] | None
    pid_start: int | None = None

    def age(self, now: float | None = None) -> float:
        """Seconds since the last heartbeat (by this host's clock against the holder's: keep the
        timeout well above the clock skew of the cluster)."""
        return max(0.0, (now or time.time()) - self.heartbeat)

    def stale(self, timeout: float, interval: float) -> bool:
        """Its holder died or hangs: no heartbeat for `timeout` seconds, or, on this host, its
        process is gone and it missed MISSED_BEATS heartbeats."""
        age = self.age()
        if age > timeout:
            return True
        return (
            self.host == socket.gethostname()
            and age > MISSED_BEATS * interval
            and not process_alive(self.pid, self.pid_start)
        )

    def where(self) -> str:
        return f"{self.host} pid {self.pid}"


def _proc_start(pid: int) -> int | None:
    """The start time of process `pid` (clock ticks since boot, /proc/PID/stat field 22): with
    the pid it names the process, so a reused pid is not taken for the claim's holder."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat[stat.rindex(")") + 2 :].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def process_alive(pid: int, start: int | None = None) -> bool:
    """Whether process `pid` of this host runs (and, when `start` is known, is the same one)."""
    if pid <= 0:
        return True  # no pid known: never guess that a holder is dead (and kill(-1, ...) means every process)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by another user
    return start is None or _proc_start(pid) in (None, start)


def read_claim(folder: str | Path) -> Holder | None:
    """The holder of `folder`'s claim, None when unclaimed. A claim file that cannot be read
    (being replaced right now, or damaged) counts as held, with its file time as heartbeat,
    so it is taken over only once that is older than the timeout."""
    path = Path(folder) / CLAIM_FILE
    try:
        d = read_json(path)
        return Holder(
            str(d["host"]), int(d["pid"]), str(d["token"]), float(d["claimed"]), float(d["heartbeat"]),
            str(d.get("what", "")), d.get("progress"), d.get("pid_start"),
        )  # fmt: skip
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return None
        return Holder("?", -1, "?", mtime, mtime, "unreadable claim file", None)


def _link_new(src: Path, dst: Path) -> bool:
    """Create `dst` as a hard link to `src`: True when this call created it, False when `dst`
    already existed. An NFS reply lost in transit can report EEXIST for a link that was made
    (the retransmission fails): src's link count tells the truth."""
    try:
        os.link(src, dst)
        return True
    except FileExistsError:
        return os.stat(src).st_nlink == 2
    except OSError:
        if os.stat(src).st_nlink == 2:
            return True
        raise


class Claim:
    """A held claim; a context manager that releases it (removes claim.json if still ours)."""

    def __init__(self, folder: Path, token: str, record: dict[str, Any], interval: float,
                 progress: Callable[[], Mapping[str, Any] | None] | None = None):  # fmt: skip
        self.folder = folder
        self.token = token
        self.record = record
        self.interval = interval
        self.progress = progress
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"claim-heartbeat {folder.name}", daemon=True)
        self._thread.start()

    @property
    def path(self) -> Path:
        return self.folder / CLAIM_FILE

    def lost_reason(self) -> str | None:
        """Why this process must stop working on the folder (None while the claim is ours)."""
        if not self.lost.is_set():
            return None
        return f"the claim on {self.folder} was taken over by another process (this one missed its heartbeats)"

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            holder = read_claim(self.folder)
            if holder is None or holder.token not in (self.token, "?"):
                self.lost.set()  # taken over (or removed by hand): never write over the new holder
                return
            # A full disk or a filesystem hiccup: the next beat tries again. The thread must not
            # die of it: a silent heartbeat would let another process take the run over.
            with contextlib.suppress(Exception):
                self._write()

    def _write(self) -> None:
        self.record["heartbeat"] = time.time()
        self.record["progress"] = self.progress() if self.progress else None
        tmp = self.folder / f".{CLAIM_FILE}.{self.token}.tmp"
        tmp.write_text(dumps(self.record), encoding="utf-8")  # strict JSON: a NaN loss is null
        os.replace(tmp, self.path)

    def release(self) -> None:
        """Stop the heartbeat and remove claim.json, unless another process holds it by now."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
        holder = read_claim(self.folder)
        if holder is not None and holder.token == self.token:
            self.path.unlink(missing_ok=True)
        (self.folder / f".{CLAIM_FILE}.{self.token}.tmp").unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _record(what: str, took_over: Holder | None) -> dict[str, Any]:
    now = time.time()
    return {
        "host": socket.gethostname(), "pid": os.getpid(), "pid_start": _proc_start(os.getpid()), "token": uuid.uuid4().hex,
        "claimed": now, "heartbeat": now, "what": what, "progress": None,
        "took_over": {"host": took_over.host, "pid": took_over.pid, "heartbeat": took_over.heartbeat} if took_over else None,
    }  # fmt: skip


def try_claim(folder: str | Path, *, timeout: float, interval: float, what: str = "",
              progress: Callable[[], Mapping[str, Any] | None] | None = None) -> Claim | None:  # fmt: skip
    """Claim `folder` (created if needed) for this process: a held Claim, or None when a live
    process holds it. A stale claim is taken over (the caller resumes the run from its checkpoint)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    record = _record(what, None)
    tmp = folder / f".{CLAIM_FILE}.{record['token']}.tmp"
    write_text(tmp, json.dumps(record))
    try:
        if _link_new(tmp, folder / CLAIM_FILE):
            return Claim(folder, record["token"], record, interval, progress)
    finally:
        tmp.unlink(missing_ok=True)
    holder = read_claim(folder)
    if holder is None:  # released between our link and our read: try once more
        return try_claim(folder, timeout=timeout, interval=interval, what=what, progress=progress)
    if not holder.stale(timeout, interval):
        return None
    return _take_over(folder, holder, timeout, interval, what, progress)


def _take_over(folder: Path, stale: Holder, timeout: float, interval: float, what: str, progress) -> Claim | None:
    """Replace the stale claim with ours, under the take-over mutex, if it is still the same one."""
    mutex = folder / TAKEOVER_FILE
    record = _record(what, stale)
    tmp = folder / f".{CLAIM_FILE}.{record['token']}.tmp"
    write_text(tmp, json.dumps(record))
    try:
        if not _link_new(tmp, mutex):
            # Another process is taking over right now (a few milliseconds), or died doing it.
            if time.time() - _mtime(mutex) > timeout:
                mutex.unlink(missing_ok=True)
            return None
        try:
            current = read_claim(folder)
            if current is not None and (current.token != stale.token or not current.stale(timeout, interval)):
                return None  # someone else took it over first, or the holder came back
            _clean_leftovers(folder, keep=record["token"])
            os.replace(tmp, folder / CLAIM_FILE)
            return Claim(folder, record["token"], record, interval, progress)
        finally:
            mutex.unlink(missing_ok=True)
    finally:
        tmp.unlink(missing_ok=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return time.time()


def _clean_leftovers(folder: Path, keep: str) -> None:
    """Temporary claim files of holders that died while writing one."""
    for p in folder.glob(f".{CLAIM_FILE}.*.tmp"):
        if keep not in p.name:
            p.unlink(missing_ok=True)


def wait_claim(folder: str | Path, *, timeout: float, interval: float, what: str = "",
               on_wait: Callable[[Holder], None] | None = None) -> Claim:  # fmt: skip
    """Claim `folder`, waiting while a live process holds it (`on_wait(holder)` is called once
    per holder seen); a holder that dies is taken over once its claim is stale."""
    seen: set[str] = set()
    while True:
        claim = try_claim(folder, timeout=timeout, interval=interval, what=what)
        if claim is not None:
            return claim
        holder = read_claim(Path(folder))
        if holder is not None and holder.token not in seen:
            seen.add(holder.token)
            if on_wait:
                on_wait(holder)
        time.sleep(min(interval, 1.0))


def record_attempt(folder: str | Path, claim: Claim, resume_epoch: int | None) -> None:
    """Append this start of the run to attempts.jsonl (only the claim holder writes it)."""
    r = claim.record
    line = {
        "host": r["host"],
        "pid": r["pid"],
        "started": time.time(),
        "resume_epoch": resume_epoch,
        "took_over": r["took_over"],
    }
    with open(Path(folder) / ATTEMPTS_FILE, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_attempts(folder: str | Path) -> list[dict[str, Any]]:
    path = Path(folder) / ATTEMPTS_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def live_claims(root: str | Path, timeout: float, interval: float) -> Iterator[tuple[Path, Holder]]:
    """(folder, holder) of every claim under `root` that is not stale."""
    for path in Path(root).rglob(CLAIM_FILE):
        holder = read_claim(path.parent)
        if holder is not None and not holder.stale(timeout, interval):
            yield path.parent, holder
