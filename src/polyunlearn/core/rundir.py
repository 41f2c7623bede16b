"""The run folder: the one place that knows the files of a run folder, when a run counts as done,
when a rerun may reuse it, and who may write to it.

Every command writes its results into run folders laid out the same way:

    run.json       the run's identity (everything that determines its result), what it is, the
                   software environment; written when the run starts
    .lock          held (flock) by the one process working in the folder
    claim.json     a grid run's claim (host, pid, heartbeat): which process works on it, on any
                   host of a shared filesystem (core/claims.py); attempts.jsonl: every start
    failed.json    a grid run that raised: its error (removed when the run starts again)
    tracking/      the --log-with tracker's own files (core/tracking.py), when one is chosen
    ckpt/          the training checkpoint while training (removed once the run is done)
    model/         the saved model, when the command saves one (a loadable HF / peft folder)
    history.json   per-step training losses
    eval/          items.jsonl (per item) and summary.csv (per language)
    diverged/      after a diverging loss: model/ (the last good epoch, loadable) + diverged.json
    curves/        unlearning with --eval-every: epoch_<k>/ (items.jsonl, summary.csv) per evaluated
                   epoch; curves.csv (tidy) and curves.png beside it (pipeline/epoch_eval.py)
    selected/      while training with --select other than last: the candidate epoch's model/ +
                   selected.json (removed once the run is done; done.json names the epoch)
    done.json      written LAST: its presence, and nothing else, marks the run as finished

Rules (`RunFolder`): a folder is reused only when the saved identity equals the new one field by
field; then finished runs are skipped and unfinished ones resume from their checkpoint. Any
difference is refused with one line that names each differing field with its old and new value
(`IdentityMismatch`), unless the caller asks to overwrite. A second process on a locked folder
gets one line too (`FolderLocked`). Identities are plain JSON: data by a content hash
(`data_fingerprint`), a model by its id or path plus a hash of its config and weight files
(`model_fingerprint`), and every setting as the typed configs record them.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from polyunlearn.core.atomic import read_json, read_jsonl, strict_json, write_json, write_jsonl, write_table
from polyunlearn.core.claims import ATTEMPTS_FILE, CLAIM_FILE, TAKEOVER_FILE
from polyunlearn.core.tracking import TRACKING_DIR

RUN_FILE = "run.json"
DONE_FILE = "done.json"
LOCK_FILE = ".lock"
CKPT_DIR = "ckpt"
MODEL_DIR = "model"
EVAL_DIR = "eval"
HISTORY_FILE = "history.json"
DIVERGED_DIR = "diverged"
CURVES_DIR = "curves"
SELECTED_DIR = "selected"
ITEMS_FILE = "items.jsonl"  # an evaluation's per-item records
SUMMARY_FILE = "summary.csv"  # its per-language summary, written last: the done-marker
EVAL_FILES = (ITEMS_FILE, SUMMARY_FILE)
FAILED_FILE = "failed.json"
# Who works on the folder, not what it holds: never a reason to call a folder "not a run folder",
# and kept when the folder is cleared (an --overwrite by the claim holder keeps its claim).
BOOKKEEPING = (LOCK_FILE, CLAIM_FILE, ATTEMPTS_FILE, TAKEOVER_FILE)


def _bookkeeping(name: str) -> bool:
    # also the write probe of a process that checks the folder right now, and claim temp files
    return name in BOOKKEEPING or name == FAILED_FILE or name.startswith((".write_test.", f".{CLAIM_FILE}."))


class RunFolderError(ValueError):
    """A run folder cannot be used as asked; the message names the folder (CLI: exit 2)."""


class IdentityMismatch(RunFolderError):
    """The folder holds a run made with other settings."""


class FolderLocked(RunFolderError):
    """Another process is working in the folder."""


# ----------------------------------------------------------------------------- identities


def _plain(o: Any) -> Any:
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"{type(o).__name__} is not part of a run identity")


def canonical(obj: Any) -> Any:
    """`obj` as plain JSON values (dataclasses, paths and tuples included, at any depth), as it
    reads back from disk. Anything else that is not JSON is an error, not a silent str()."""
    return json.loads(json.dumps(obj, default=_plain, sort_keys=True, allow_nan=False))


def fingerprint(obj: Any) -> str:
    """sha256 of the canonical JSON of `obj`."""
    blob = json.dumps(canonical(obj), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def data_fingerprint(items: Iterable[Any]) -> str:
    """Content hash of a benchmark: every field of every item, in order (an edited data file,
    wherever it lives, is other data)."""
    return fingerprint([it.to_dict() if hasattr(it, "to_dict") else it for it in items])


_MODEL_FILES = (".json", ".safetensors", ".model", ".txt", ".jinja")
_HASH_CACHE = Path(os.environ.get("POLYUNLEARN_CACHE", Path.home() / ".cache" / "polyunlearn")) / "file_hashes.json"


def _file_sha256(path: Path) -> str:
    """sha256 of a file, cached by (path, size, mtime): an 8B model's weights are hashed once,
    not at every rerun."""
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    try:
        cache = json.loads(_HASH_CACHE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    if key in cache:
        return cache[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    cache[key] = h.hexdigest()
    try:
        write_json(_HASH_CACHE, cache)
    except OSError:
        pass  # a read-only home only costs the cache
    return cache[key]


def model_fingerprint(name_or_path: str) -> dict[str, Any]:
    """What identifies a model: for a local folder, its path and the sha256 of each config,
    tokenizer and weight file; for a hub id, the id and the commit of the cached snapshot
    (None until it was downloaded); for a tiny in-process model, its name."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in _MODEL_FILES)
        return {"path": str(path.resolve()), "files": {p.name: _file_sha256(p) for p in files}}
    # core.models loads torch and transformers; the run-folder layer stays light without them.
    from polyunlearn.core.models import TINY_BUILDERS

    if name_or_path in TINY_BUILDERS:
        return {"builder": name_or_path}
    commit = None
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(name_or_path, "config.json")
        if isinstance(cached, str):
            commit = Path(cached).parent.name  # .../snapshots/<commit>/config.json
    except Exception:  # noqa: BLE001 - no cache entry is not an error here
        commit = None
    return {"hub_id": name_or_path, "commit": commit}


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted leaf fields of `obj`; an empty mapping has none, so it reads the same as an absent
    one (no `params: "<absent>" -> {}` noise in a stale-result message)."""
    if isinstance(obj, Mapping):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out |= _flatten(v, f"{prefix}{k}.")
        return out
    return {prefix[:-1]: obj}


def identity_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """'field: old -> new' for every dotted field whose value differs (missing = absent)."""
    a, b = _flatten(canonical(old)), _flatten(canonical(new))
    out = []
    for key in sorted(set(a) | set(b)):
        if a.get(key, "<absent>") != b.get(key, "<absent>"):
            out.append(f"{key}: {_short(a.get(key, '<absent>'))} -> {_short(b.get(key, '<absent>'))}")
    return out


def _short(v: Any) -> str:
    text = json.dumps(v, ensure_ascii=False) if not isinstance(v, str) or v == "<absent>" else repr(v)
    return text if len(text) <= 60 else text[:28] + "..." + text[-28:]


def environment() -> dict[str, str]:
    import platform

    import torch
    import transformers

    from polyunlearn import __version__

    return {
        "polyunlearn": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "platform": platform.platform(),
    }


# ----------------------------------------------------------------------------- the folder


class RunFolder:
    """One run folder, used as a context manager around the run:

        with RunFolder(out, identity, kind="unlearn", overwrite=False) as rf:
            if rf.done:
                return ...                      # identical identity, finished: reuse
            ... train with checkpoint_dir=rf.ckpt, evaluate into rf.eval ...
            rf.finish({"steps": n})            # done.json last; the checkpoint goes

    `identity` must hold everything that determines the result (and the polyunlearn version is
    added); `info` is recorded but never compared (e.g. the --data spec string, the time)."""

    def __init__(
        self,
        path: str | Path,
        identity: Mapping[str, Any],
        kind: str,
        info: Mapping[str, Any] | None = None,
        overwrite: bool = False,
        lock: bool = True,
    ):
        from polyunlearn import __version__

        self.path = Path(path)
        self.kind = kind
        self.identity = canonical({**identity, "polyunlearn": __version__, "kind": kind})
        self.info = canonical(info or {})
        self.overwrite = overwrite
        self._lock = lock
        self._fd: int | None = None

    # paths
    ckpt = property(lambda self: self.path / CKPT_DIR)
    model = property(lambda self: self.path / MODEL_DIR)
    eval = property(lambda self: self.path / EVAL_DIR)
    history = property(lambda self: self.path / HISTORY_FILE)
    diverged = property(lambda self: self.path / DIVERGED_DIR)

    @property
    def done(self) -> bool:
        return (self.path / DONE_FILE).is_file()

    def __enter__(self) -> RunFolder:
        prepare_folder(self.path)
        if self._lock:
            self._fd = lock_folder(self.path)
        try:
            self._check_identity()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def _check_identity(self) -> None:
        run_file = self.path / RUN_FILE
        if run_file.exists():
            saved = read_run_json(run_file).get("identity", {})
            diff = identity_diff(saved, self.identity)
            if diff and not self.overwrite:
                raise IdentityMismatch(
                    f"{self.path} holds {run_kind_phrase(saved.get('kind'))} made with other settings ({'; '.join(diff)}): "
                    "refusing to reuse or mix its results; rerun with --overwrite to redo it, or use another --out"
                )
            if diff or self.overwrite:
                clear_folder(self.path)
        elif any(not _bookkeeping(p.name) for p in self.path.iterdir()):
            if not self.overwrite:
                raise RunFolderError(
                    f"{self.path} is not empty and holds no {RUN_FILE}: not a polyunlearn run folder; use another --out (or --overwrite)"
                )
            clear_folder(self.path)
        if not run_file.exists():
            write_json(
                run_file,
                {"identity": self.identity, "info": self.info, "environment": environment(), "started": time.time()},
            )

    def finish(self, summary: Mapping[str, Any] | None = None) -> None:
        """Mark the run done (done.json, written last), then drop the checkpoint: it is ~3x the
        model and nothing reads it once the run is done."""
        write_json(self.path / DONE_FILE, {"finished": time.time(), **canonical(summary or {})})
        shutil.rmtree(self.ckpt, ignore_errors=True)

    def done_summary(self) -> dict[str, Any]:
        return read_run_json(self.path / DONE_FILE)


def run_kind_phrase(kind: str | None) -> str:
    """'a learn run', 'an unlearn run', 'an eval run', 'a run' (no kind): the article follows the kind."""
    if not kind or kind == "run":
        return "a run"
    return f"{'an' if kind[0].lower() in 'aeiou' else 'a'} {kind} run"


def folder_status(path: str | Path, identity: Mapping[str, Any], kind: str) -> str:
    """What a run with `identity` would do in `path` (for --dry-run): new, done (reused),
    partial (resumed), or refused with the differing fields."""
    from polyunlearn import __version__

    path = Path(path)
    if not (path / RUN_FILE).is_file():
        return (
            "new: would run"
            if not path.exists() or not any(path.iterdir())
            else "refused: not empty and not a run folder"
        )
    saved = read_run_json(path / RUN_FILE).get("identity", {})
    diff = identity_diff(saved, canonical({**identity, "polyunlearn": __version__, "kind": kind}))
    if diff:
        return f"refused (made with other settings: {'; '.join(diff)}); --overwrite would redo it"
    if (path / DONE_FILE).is_file():
        return "done: would be reused"
    return "partial: would resume" + (" from its checkpoint" if (path / CKPT_DIR).exists() else "")


def read_run_json(path: Path) -> dict[str, Any]:
    """A run file, or one line naming it when it is not valid JSON."""
    try:
        obj = read_json(path)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise RunFolderError(
            f"{path}: unreadable ({e.__class__.__name__}: {e}); remove the folder or rerun with --overwrite"
        ) from None
    if not isinstance(obj, dict):
        raise RunFolderError(f"{path}: expected a JSON object; remove the folder or rerun with --overwrite")
    return obj


def prepare_folder(path: Path) -> None:
    """Create `path` and check that it is a writable folder, with one line naming it otherwise."""
    if path.exists() and not path.is_dir():
        raise RunFolderError(f"output path {path} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write_test.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise RunFolderError(f"output folder {path} is not writable ({e.strerror or e})") from None


def lock_folder(path: Path) -> int:
    """Hold an exclusive flock on path/.lock (released when the process ends, even on SIGKILL)."""
    fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
        os.close(fd)
        raise FolderLocked(f"{path} is in use by {holder}; wait for it to finish or use another --out") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}".encode(), 0)
    return fd


def clear_folder(path: Path) -> None:
    """Remove everything in `path` but the lock and the claim (an --overwrite, or a changed identity)."""
    for p in path.iterdir():
        if p.name in BOOKKEEPING or p.name.startswith(f".{CLAIM_FILE}."):
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()


def eval_files(kind: str = "") -> tuple[str, str]:
    """(records file, table file) of an evaluation of `kind`: "" = the standard evaluation
    (items.jsonl, summary.csv); "mcq" / "concept" = the metrics written beside it
    (mcq_items.jsonl, mcq.csv)."""
    return (f"{kind}_{ITEMS_FILE}", f"{kind}.csv") if kind else EVAL_FILES


def write_eval(
    folder: str | Path,
    records: Iterable[dict],
    table: Any,
    kind: str = "",
    between: Callable[[], Any] | None = None,
) -> None:
    """The one writer of an evaluation folder: the per-item records first, then (`between`: files
    that belong to the evaluation, e.g. the reference exports) and the table last, so its presence
    says the evaluation is complete (eval_done)."""
    items_name, table_name = eval_files(kind)
    write_jsonl(Path(folder) / items_name, records)
    if between is not None:
        between()
    write_table(Path(folder) / table_name, table)


def read_eval_items(folder: str | Path, kind: str = "") -> list[dict]:
    """The per-item records of an evaluation folder (of `kind`, see eval_files)."""
    return read_jsonl(Path(folder) / eval_files(kind)[0])


def eval_done(folder: str | Path) -> bool:
    """An evaluation folder is complete when summary.csv (written last) and items.jsonl exist."""
    return all((Path(folder) / name).is_file() for name in EVAL_FILES)


def load_eval(folder: str | Path):
    """(per-item records, per-language summary) of an evaluation folder, one line naming a
    missing or unreadable file otherwise."""
    folder = Path(folder)
    if not eval_done(folder):
        missing = [n for n in EVAL_FILES if not (folder / n).is_file()]
        raise RunFolderError(f"{folder} is not an evaluation folder (missing {', '.join(missing)})")
    try:
        return read_eval_items(folder), pd.read_csv(folder / SUMMARY_FILE)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise RunFolderError(f"{folder}: unreadable evaluation ({e.__class__.__name__}: {e})") from None


# ----------------------------------------------------------------------------- layout check


def check_run_folder(path: str | Path) -> list[str]:
    """Problems with a run folder's layout (empty = it follows the rules above): run.json valid
    strict JSON with an identity; when done: done.json valid, no checkpoint or temporary file
    left, eval/ complete when present, model/ loadable (config + safetensors) when present."""
    path = Path(path)
    problems: list[str] = []
    run_file = path / RUN_FILE
    if not run_file.is_file():
        return [f"{path}: no {RUN_FILE}"]
    kind = None
    try:
        strict_json(run_file.read_text(encoding="utf-8"))
        identity = read_json(run_file).get("identity")
        if not isinstance(identity, dict):
            problems.append(f"{run_file}: no identity")
        else:
            kind = identity.get("kind")
    except ValueError as e:
        problems.append(f"{run_file}: not strict JSON ({e})")
    if not (path / DONE_FILE).is_file():
        return problems
    # The tracker's files (tracking/) are the tracker's format, not ours: not checked.
    own = [p for p in path.rglob("*") if TRACKING_DIR not in p.relative_to(path).parts[:1]]
    for json_file in [path / DONE_FILE, *sorted(p for p in own if p.suffix == ".json")]:
        try:
            strict_json(json_file.read_text(encoding="utf-8"))
        except ValueError as e:
            problems.append(f"{json_file}: not strict JSON ({e})")
    if (path / CKPT_DIR).exists():
        problems.append(f"{path}: done but {CKPT_DIR}/ was left behind")
    leftovers = [p for p in own if ".tmp" in p.name]
    problems += [f"{p}: temporary file left behind" for p in leftovers]
    # A learn/unlearn run's own evaluation is eval/; an eval run is an evaluation folder itself;
    # a study's eval/ holds evaluation runs of its own (checked as such).
    if kind in ("learn", "unlearn") and (path / EVAL_DIR).exists() and not eval_done(path / EVAL_DIR):
        problems.append(f"{path / EVAL_DIR}: incomplete evaluation")
    if kind == "eval" and not eval_done(path):
        problems.append(f"{path}: incomplete evaluation")
    model = path / MODEL_DIR
    if model.exists() and not ((model / "config.json").is_file() or (model / "adapter_config.json").is_file()):
        problems.append(f"{model}: no config.json / adapter_config.json")
    if model.exists() and not list(model.glob("*.safetensors")):
        problems.append(f"{model}: no safetensors weights")
    return problems


def run_folders(root: str | Path) -> Sequence[Path]:
    """Every run folder (a folder with run.json) under `root`, `root` included."""
    return sorted(p.parent for p in Path(root).rglob(RUN_FILE))
