"""Files written by the Hugging Face `datasets` library, read into raw records: a `save_to_disk`
folder (a DatasetDict with dataset_dict.json + one folder per split, or a Dataset with state.json)
and a single .arrow file. Used by data/loaders.py (and so by every --data spec)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from polyunlearn.data.schema import DataError

Record = tuple[str, int, dict[str, Any]]  # (where, 0-based index, row), as in data/loaders.py


def is_saved_dataset(folder: Path) -> bool:
    """True for a folder written by `datasets` save_to_disk (a DatasetDict or a Dataset)."""
    return (folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file()


def read_saved_dataset(folder: Path, split: str = "train") -> list[Record]:
    """Records of a save_to_disk folder: split `split` of a DatasetDict, or a Dataset's rows."""
    datasets = datasets_module(f"{folder} is a save_to_disk folder")
    try:
        ds = datasets.load_from_disk(str(folder))
    except Exception as e:  # noqa: BLE001 - corrupt or foreign folder: datasets raises several types
        raise DataError(f"{folder}: cannot read save_to_disk folder: {type(e).__name__}: {e}") from None
    label = str(folder)
    if isinstance(ds, datasets.DatasetDict):
        if split not in ds:
            raise DataError(f"{folder}: no split {split!r} in this DatasetDict; it has {', '.join(ds) or 'none'}")
        ds, label = ds[split], f"{folder}[{split}]"
    return [(f"{label}: row {i + 1}", i, dict(row)) for i, row in enumerate(ds)]


def read_arrow(path: Path) -> list[Record]:
    datasets = datasets_module(f"{path} is an Arrow file")
    try:
        ds = datasets.Dataset.from_file(str(path))
    except Exception as e:  # noqa: BLE001 - not an Arrow stream file / corrupt: several types
        raise DataError(f"{path}: cannot read Arrow file: {type(e).__name__}: {e}") from None
    return [(f"{path}: row {i + 1}", i, dict(row)) for i, row in enumerate(ds)]


def datasets_module(why: str) -> Any:
    try:
        import datasets  # lazy: importing it costs seconds and only Arrow/hub sources need it
    except ImportError:
        raise DataError(f"{why}; reading it needs the 'datasets' package") from None
    return datasets
