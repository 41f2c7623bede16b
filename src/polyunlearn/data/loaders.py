"""Generic loaders for QA benchmarks in the TOFU schema (question, answer, paraphrased_answer,
perturbed_answer list), from local files or the Hugging Face hub, and an atomic writer.

    from polyunlearn.data.loaders import load_items, save_items
    items = load_items("data/forget_fr.jsonl", language="fr", split="forget")
    items = load_items("locuslab/TOFU", language="en", split="forget", hf_config="forget10_perturbed")
    save_items(items, "runs/items.jsonl")

Sources, chosen by what the string is:
- an existing file: .jsonl/.ndjson, .json, .csv, .parquet/.pq, .arrow (by extension; .arrow is
  one Arrow file as `datasets` writes it, read with `datasets.Dataset.from_file`);
- an existing folder written by `datasets` `save_to_disk`: a DatasetDict folder
  (dataset_dict.json + one folder per split, e.g. train/) gives its `hf_split` split ("train"),
  a Dataset folder (state.json + Arrow files) its rows; read with `datasets.load_from_disk`;
- a string that *looks like* a local path (starts with /, ./, ../ or ~, contains a backslash or
  more than one /, or ends with a known extension) but does not exist: DataError
  "file not found: ..." -- never a hub call, so a typo does not turn into a network request;
- anything else ("name" or "owner/name"): a Hugging Face dataset id, loaded with
  `datasets.load_dataset(id, hf_config, split=hf_split)`.

Column rules (the same for every source):
- `language`: a `language` column wins per row (so a translated TOFU with that column plugs
  in); otherwise the `language` argument. Same for `split` vs the `split` argument.
- `id`: an `id` column when the source has one (then every row needs one); otherwise the
  0-based row index *within the row's language* as a string (TOFU has no ids; translations keep
  row order, so the index is a parallel id across languages, also in one file holding several
  languages). A skipped row keeps its index, so the rows after it still line up.
- `perturbed_answer` (or `perturbed_answers`): a list; in CSV a JSON list string
  (`["a", "b"]`), a Python-repr list (`['a', 'b']`, what pandas writes for list cells), or
  '|'-separated text (`a|b`); a single string is a one-element list.
- `.json` may be a list of objects, an object holding such a list under data/items/rows/
  examples, or JSON Lines in disguise (TOFU's hub files are named .json but are JSON Lines).

Rows with an empty required field (question, answer) are skipped and reported, never fatal
for the file: handed to the caller's `skipped` list, or warned about (SkippedRowsWarning) when
the caller gave none. `strict=True` makes the first such row an error instead. A required
column that no row has at all is always an error (the file is not in this schema).

Error messages name the source, the record and the field: "x.csv: line 3: missing or empty
field 'answer'". Record numbers are `line N` (physical line, header = line 1) for CSV and JSON
Lines, and `row N` (1-based) for JSON lists, Parquet, Arrow and hub datasets.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from polyunlearn.core.languages import get_language
from polyunlearn.data.hf_files import datasets_module, is_saved_dataset, read_arrow, read_saved_dataset
from polyunlearn.data.schema import (
    REQUIRED,
    SPLITS,
    DataError,
    QAItem,
    SkippedRow,
    item_from_dict,
    report_skipped,
    skip_row,
)

# Extension -> reader name. Upper/lower case both accepted.
FILE_FORMATS: dict[str, str] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arrow": "arrow",
}
# Keys under which a .json object may hold the list of records.
_JSON_LIST_KEYS = ("data", "items", "rows", "examples")
# Column order of written CSV/Parquet files (QAItem's fields, id first).
_COLUMNS = ("id", "language", "split", "question", "answer", "paraphrased_answer", "perturbed_answer")

# One raw record: (where it came from for error messages, 0-based index, the mapping).
Record = tuple[str, int, dict[str, Any]]
__all__ = ["Record", "is_saved_dataset", "read_saved_dataset"]  # re-exported: data/tofu.py reads them from here


# ----------------------------------------------------------------------------- public API


def load_items(
    path_or_id: str | os.PathLike[str],
    language: str | None = None,
    split: str | None = None,
    hf_config: str | None = None,
    hf_split: str = "train",
    *,
    strict: bool = False,
    skipped: list[SkippedRow] | None = None,
) -> list[QAItem]:
    """Load QA items from a local file or a Hugging Face dataset id (see the module docstring).

    `language` and `split` are defaults for rows without those columns; `hf_config` is only
    used for hub ids, `hf_split` for hub ids and save_to_disk DatasetDict folders. Rows with an
    empty required field go to `skipped` (strict: an error).
    """
    _check_defaults(language, split)
    records = read_records(path_or_id, hf_config=hf_config, hf_split=hf_split)
    return items_from_records(records, language=language, split=split, strict=strict, skipped=skipped)


def save_items(items: Iterable[QAItem], path: str | os.PathLike[str]) -> Path:
    """Write items atomically and return the path.

    The format follows the extension: .csv (perturbed_answer as a JSON list string), .parquet
    /.pq, .json (one list), anything else JSON Lines. We write to a temporary file next to the
    target and `os.replace` it, so a crash never leaves a half-written file that a later run
    would read as complete.
    """
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [_item_row(it) for it in items]
    fmt = FILE_FORMATS.get(path.suffix.lower(), "jsonl")
    # A unique hidden name in the same folder: os.replace is only atomic within one filesystem.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        if fmt == "parquet":
            _write_parquet(rows, tmp)
        else:
            with open(tmp, "w", encoding="utf-8", newline="") as f:
                if fmt == "csv":
                    writer = csv.DictWriter(f, fieldnames=list(_COLUMNS))
                    writer.writeheader()
                    for row in rows:
                        writer.writerow(
                            {**row, "perturbed_answer": json.dumps(row["perturbed_answer"], ensure_ascii=False)}
                        )
                elif fmt == "json":
                    json.dump(rows, f, ensure_ascii=False, indent=1)
                    f.write("\n")
                else:
                    for row in rows:
                        f.write(json.dumps(row, ensure_ascii=False) + "\n")
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def looks_like_path(s: str) -> bool:
    """True when `s` is meant as a local path rather than a hub id ("name" or "owner/name")."""
    if s.startswith(("/", "./", "../", "~", ".\\")) or "\\" in s or s in (".", ".."):
        return True
    if Path(s).suffix.lower() in FILE_FORMATS:
        return True
    return s.count("/") > 1


def read_records(
    path_or_id: str | os.PathLike[str], hf_config: str | None = None, hf_split: str = "train"
) -> list[Record]:
    """Raw records (where, index, mapping) from a file or a hub id, before any validation."""
    s = os.fspath(path_or_id)
    path = Path(s).expanduser()
    if path.is_file():
        return read_file_records(path)
    if path.is_dir():
        if is_saved_dataset(path):
            return read_saved_dataset(path, hf_split)
        raise DataError(
            f"{s}: is a directory but not a `save_to_disk` folder (no dataset_dict.json or state.json); "
            f"pass one file ({', '.join(sorted(FILE_FORMATS))}) or such a folder"
        )
    if looks_like_path(s):
        raise DataError(f"file not found: {s}")
    return _read_hub(s, hf_config, hf_split)


def read_file_records(path: Path) -> list[Record]:
    """Records of one local file, the reader chosen by its extension."""
    fmt = FILE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(f"{path}: unsupported file type {path.suffix!r}; use one of {', '.join(sorted(FILE_FORMATS))}")
    reader = {
        "jsonl": _read_jsonl,
        "json": _read_json,
        "csv": _read_csv,
        "parquet": _read_parquet,
        "arrow": read_arrow,
    }[fmt]
    return reader(path)


def items_from_records(
    records: Sequence[Record],
    language: str | None = None,
    split: str | None = None,
    id_prefix: str = "",
    *,
    strict: bool = False,
    skipped: list[SkippedRow] | None = None,
) -> list[QAItem]:
    """Validate records into QAItems (column rules in the module docstring).

    `id_prefix` is put before index-based ids only (TOFU uses "tofu-forget10:" so that ids
    from different configs do not collide); ids from an `id` column are kept as they are.
    """
    _check_defaults(language, split)
    _check_required_columns(records)
    # Decided per source, not per row: mixing given ids with index ids could silently collide.
    has_ids = any("id" in row for _, _, row in records)
    items: list[QAItem] = []
    seen: dict[tuple[str, str], str] = {}
    per_language: dict[str, int] = {}  # rows seen so far per language: the index-based id
    mine: list[SkippedRow] = []
    for where, _, raw in records:
        row = dict(raw)
        if not has_ids:
            lang_key = _language_key(row.get("language") or language)
            row["id"] = f"{id_prefix}{per_language.get(lang_key, 0)}"
            per_language[lang_key] = per_language.get(lang_key, 0) + 1
        empty = next((name for name in REQUIRED if not isinstance(row.get(name), str) or not row[name].strip()), None)
        if empty is not None:
            skip_row(where, f"missing or empty field {empty!r}", strict, mine)
            continue
        if "perturbed_answer" in row or "perturbed_answers" in row:
            value = row.pop("perturbed_answer", None)
            if value is None:
                value = row.pop("perturbed_answers", None)
            row["perturbed_answer"] = parse_perturbed(value, where)
        item = item_from_dict(row, where=where, language=language, split=split)
        if item.key in seen:
            raise DataError(
                f"{where}: field 'id': duplicate id {item.id!r} for language {item.language!r} (first at {seen[item.key]})"
            )
        seen[item.key] = where
        items.append(item)
    if records and not items:
        raise DataError(f"no usable row: all {len(mine)} rows skipped, the first at {mine[0].where} ({mine[0].reason})")
    report_skipped(mine, skipped)
    return items


def _language_key(value: Any) -> str:
    """The language a row is numbered under: the table's code where it is one ("iw" and "he"
    count together), else the raw value (item validation reports it)."""
    try:
        return get_language(str(value)).code
    except ValueError:
        return str(value)


def _check_required_columns(records: Sequence[Record]) -> None:
    # A column that no row has is a file in another schema, not a few bad rows: always an error.
    for name in REQUIRED:
        if records and not any(name in row for _, _, row in records):
            columns = sorted({k for _, _, row in records for k in row})
            raise DataError(f"{records[0][0]}: no column {name!r} in this source (columns: {', '.join(columns)})")


def parse_perturbed(value: Any, where: str = "row") -> list[str]:
    """Normalize a perturbed_answer cell to a list of strings (formats in the module docstring)."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                try:  # pandas writes list cells as Python reprs: ['a', "b's"]
                    parsed = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    raise DataError(
                        f"{where}: field 'perturbed_answer': starts with '[' but is not a JSON list"
                    ) from None
            return parse_perturbed(parsed, where) if isinstance(parsed, list) else _bad_perturbed(where)
        if "|" in text:
            return [p.strip() for p in text.split("|") if p.strip()]
        return [text]
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ndarray":
        out = list(value)
        if not all(isinstance(p, str) for p in out):
            raise DataError(f"{where}: field 'perturbed_answer': every element must be a string")
        return [p.strip() for p in out]
    return _bad_perturbed(where)


# ----------------------------------------------------------------------------- readers


def _read_jsonl(path: Path, text: str | None = None) -> list[Record]:
    if text is None:
        text = _read_text(path)
    records: list[Record] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}: line {lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{where}: invalid JSON: {e.msg} (column {e.colno})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        records.append((where, len(records), obj))
    return records


def _read_json(path: Path) -> list[Record]:
    text = _read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        if e.msg == "Extra data":  # several top-level values: JSON Lines named .json (TOFU)
            return _read_jsonl(path, text)
        raise DataError(f"{path}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
    if isinstance(data, dict):
        if "question" in data:
            data = [data]
        else:
            key = next((k for k in _JSON_LIST_KEYS if isinstance(data.get(k), list)), None)
            if key is None:
                raise DataError(f"{path}: expected a list of objects (or one under {', '.join(_JSON_LIST_KEYS)})")
            data = data[key]
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a list of objects, got {type(data).__name__}")
    records: list[Record] = []
    for i, obj in enumerate(data):
        where = f"{path}: row {i + 1}"
        if not isinstance(obj, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        records.append((where, i, obj))
    return records


def _read_csv(path: Path) -> list[Record]:
    records: list[Record] = []
    # utf-8-sig: spreadsheet exports often start with a byte-order mark that would otherwise
    # become part of the first column's name.
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        try:
            fieldnames = reader.fieldnames
        except UnicodeDecodeError as e:
            raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); save it as UTF-8") from None
        if not fieldnames:
            raise DataError(f"{path}: empty CSV (no header row)")
        try:
            for row in reader:
                where = f"{path}: line {reader.line_num}"
                if None in row:  # more cells than header names
                    raise DataError(
                        f"{where}: {len(reader.fieldnames) + len(row[None])} cells but the header has {len(reader.fieldnames)}"
                    )
                if not any((v or "").strip() for v in row.values()):
                    continue  # blank line inside the file
                # Missing trailing cells come back as None; treat them as empty.
                records.append((where, len(records), {k.strip(): (v if v is not None else "") for k, v in row.items()}))
        except csv.Error as e:
            raise DataError(f"{path}: line {reader.line_num}: bad CSV: {e}") from None
        except UnicodeDecodeError as e:
            raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); save it as UTF-8") from None
    return records


def _read_parquet(path: Path) -> list[Record]:
    import pyarrow.parquet as pq  # imported lazily: only Parquet users pay for it

    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as e:  # pyarrow raises several types for corrupt files
        raise DataError(f"{path}: cannot read Parquet: {e}") from None
    return [(f"{path}: row {i + 1}", i, row) for i, row in enumerate(rows)]


class NotCached(DataError):
    """A hub data set asked for while the hub is offline (a dry run, core/hubcache.offline) that
    is not in the local cache: it would be downloaded at run time."""

    def __init__(self, dataset_id: str, hf_config: str | None):
        self.dataset_id, self.hf_config = dataset_id, hf_config
        from polyunlearn.core.hubcache import NOT_CACHED

        super().__init__(f"{dataset_id} ({hf_config or 'default'}): {NOT_CACHED}")


def _read_hub(dataset_id: str, hf_config: str | None, hf_split: str) -> list[Record]:
    datasets = datasets_module(f"{dataset_id!r} is not a local file, and loading it from the hub")
    label = f"{dataset_id}[{hf_config or 'default'}/{hf_split}]"
    from polyunlearn.core import hubcache

    if hubcache.active() and hubcache.dataset_commit(dataset_id, hf_config) is None:
        raise NotCached(dataset_id, hf_config)  # a dry run never downloads
    try:
        ds = datasets.load_dataset(dataset_id, hf_config, split=hf_split)
    except Exception as e:  # network, missing config, auth...: one clear error for the user
        raise DataError(
            f"{dataset_id!r} is not a local file, and loading it as a Hugging Face dataset "
            f"(config {hf_config!r}, split {hf_split!r}) failed: {type(e).__name__}: {e}"
        ) from e
    return [(f"{label}: row {i + 1}", i, dict(row)) for i, row in enumerate(ds)]


# ----------------------------------------------------------------------------- helpers


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None


def _check_defaults(language: str | None, split: str | None) -> None:
    # Checked once up front: a bad argument is the caller's error, not row 1's.
    if language is not None:
        try:
            get_language(language)
        except ValueError as e:
            raise DataError(f"language argument: {e}") from None
    if split is not None and split not in SPLITS:
        raise DataError(f"split argument is {split!r}; expected one of {', '.join(SPLITS)}")


def _bad_perturbed(where: str) -> NoReturn:
    raise DataError(f"{where}: field 'perturbed_answer': expected a list of strings")


def _item_row(item: QAItem) -> dict[str, Any]:
    d = item.to_dict()
    return {k: d[k] for k in _COLUMNS}


def _write_parquet(rows: list[dict[str, Any]], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # An explicit schema keeps perturbed_answer typed list<string> even when every list is empty.
    schema = pa.schema([(c, pa.list_(pa.string()) if c == "perturbed_answer" else pa.string()) for c in _COLUMNS])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
