"""Atomic result writing: every file is written to a temporary name and renamed into place, so
an interrupted run never leaves a half-written result that a rerun would trust.

JSON is always strict: a NaN or infinite number (an undefined metric) is written as null, never
as the bare NaN / Infinity that strict JSON parsers reject. A write that fails (read-only
folder, full disk) raises `WriteError` with one line naming the file."""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd


def _tmp(path: Path) -> Path:
    """A temporary name beside `path`, unique per process and call (two grid processes may write
    the same figure at once), keeping the suffix so writers that pick a format from it still do."""
    return path.with_name(f".{path.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp{path.suffix}")


class WriteError(OSError):
    """A result could not be written; the message names the file (CLI: exit 2)."""


def _replace_from(tmp: Path, path: Path, write: Callable[[Path], object]) -> Path:
    """write(tmp), then rename onto path; an interrupted write (Ctrl-C) removes its temp file."""
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise WriteError(f"could not write {path}: {e.strerror or e}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _mkdir(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise WriteError(f"could not create folder {path.parent}: {e.strerror or e}") from None


def finite_or_none(obj: Any) -> Any:
    """`obj` with every NaN / infinite float (numpy included) replaced by None, recursively."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_none(v) for v in obj]
    if hasattr(obj, "item") and hasattr(obj, "dtype") and getattr(obj, "ndim", 1) == 0:
        return finite_or_none(obj.item())  # numpy / torch scalars
    return obj


def dumps(obj: Any, indent: int | None = None) -> str:
    """Strict JSON text of `obj` (non-finite numbers as null; unknown objects as str)."""
    return json.dumps(finite_or_none(obj), indent=indent, ensure_ascii=False, default=str, allow_nan=False)


def strict_json(text: str) -> Any:
    """Parse JSON, refusing NaN / Infinity as strict parsers do (ValueError)."""

    def refuse(name: str) -> Any:
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def write_text(path: str | Path, text: str) -> Path:
    path = Path(path)
    _mkdir(path)
    return _replace_from(_tmp(path), path, lambda t: t.write_text(text, encoding="utf-8"))


def write_json(path: str | Path, obj: Any) -> Path:
    return write_text(path, dumps(obj, indent=2) + "\n")


class ReadError(ValueError):
    """A result file is missing, not UTF-8 or not JSON; the message names it (CLI: exit 2)."""


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ReadError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise ReadError(f"could not read {path}: {e.strerror or e}") from None


def read_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        return json.loads(_read_text(path))
    except json.JSONDecodeError as e:
        raise ReadError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None


def write_jsonl(path: str | Path, records: Iterable[dict]) -> Path:
    return write_text(path, "".join(dumps(r) + "\n" for r in records))


def read_jsonl(path: str | Path) -> list[dict]:
    path = Path(path)
    out = []
    for n, line in enumerate(_read_text(path).splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ReadError(f"{path}: line {n}: not valid JSON ({e.msg})") from None
    return out


def write_table(path: str | Path, df: pd.DataFrame, index: bool = False) -> Path:
    """CSV, or Parquet when the suffix says so."""
    path = Path(path)
    _mkdir(path)
    if path.suffix == ".parquet":
        return _replace_from(_tmp(path), path, lambda t: df.to_parquet(t, index=index))
    return _replace_from(_tmp(path), path, lambda t: df.to_csv(t, index=index))


def write_with(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Atomically write `path` with a writer of our own choosing: write(temp) gets a temporary
    path beside `path` with the same suffix (writers that pick a format from it still do)."""
    path = Path(path)
    _mkdir(path)
    return _replace_from(_tmp(path), path, write)


def save_figure(fig, path: str | Path) -> Path:
    path = Path(path)
    _mkdir(path)
    return _replace_from(_tmp(path), path, lambda t: fig.savefig(t, dpi=120, bbox_inches="tight"))
