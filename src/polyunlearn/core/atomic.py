"""Atomic result writing: every file is written to a temporary name and renamed into place, so
an interrupted run never leaves a half-written result that a rerun would trust."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def _replace_from(tmp: Path, path: Path, write: Callable[[Path], object]) -> Path:
    """write(tmp), then rename onto path; an interrupted write (Ctrl-C) removes its temp file."""
    try:
        write(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path


def write_text(path: str | Path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return _replace_from(_tmp(path), path, lambda t: t.write_text(text, encoding="utf-8"))


def write_json(path: str | Path, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_jsonl(path: str | Path, records: Iterable[dict]) -> Path:
    return write_text(path, "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in records))


def read_jsonl(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_table(path: str | Path, df: pd.DataFrame, index: bool = False) -> Path:
    """CSV, or Parquet when the suffix says so."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        return _replace_from(_tmp(path), path, lambda t: df.to_parquet(t, index=index))
    return _replace_from(_tmp(path), path, lambda t: df.to_csv(t, index=index))


def save_figure(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path).with_suffix(path.suffix)
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    os.replace(tmp, path)
    return path
