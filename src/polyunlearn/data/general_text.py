"""A general text set: the texts an unlearning method keeps the model close to the frozen one on
(KL), apart from the retain set. The Multilingual Amnesia authors (arXiv 2601.05641) take their
GradDiff-KL term on the best answers of TruthfulQA; `--kl-text` names such a set.

    from polyunlearn.data.general_text import load_general_text
    texts = load_general_text("truthfulqa/truthful_qa")     # hub: config generation, split validation, best_answer
    texts = load_general_text("general.jsonl")              # a local file (below)

Sources:
- the hub id `truthfulqa/truthful_qa` (or `truthful_qa`): config "generation", split "validation",
  the `best_answer` column (817 English sentences); any other hub id: its "train" split;
- a local `.txt` file: one text per non-empty line;
- a local .jsonl/.json/.csv/.parquet/.arrow file or save_to_disk folder: the `text` column, else
  `best_answer` (a TruthfulQA file as it is), else an error listing the columns.
Empty texts are skipped and reported (`skipped`, else a warning; `strict=True`: an error); no
text at all is an error.
"""

from __future__ import annotations

import os
from pathlib import Path

from polyunlearn.data.schema import DataError, SkippedRow, report_skipped, skip_row

TRUTHFULQA = ("truthfulqa/truthful_qa", "truthful_qa")
TEXT_COLUMNS = ("text", "best_answer")


def load_general_text(
    source: str | os.PathLike[str], *, strict: bool = False, skipped: list[SkippedRow] | None = None
) -> list[str]:
    """The texts of `source` (module docstring), in file order."""
    from polyunlearn.data.loaders import read_records

    s = os.fspath(source)
    path = Path(s).expanduser()
    mine: list[SkippedRow] = []
    if path.suffix.lower() == ".txt" and path.is_file():
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as e:
            raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
        texts = [line.strip() for line in lines if line.strip()]
    else:
        records = read_records(s, hf_config="generation", hf_split="validation") if s in TRUTHFULQA else read_records(s)
        have = sorted({k for _, _, row in records for k in row})
        column = next((c for c in TEXT_COLUMNS if c in have), None)
        if column is None:
            raise DataError(f"{s}: no text column ({' or '.join(TEXT_COLUMNS)}); columns: {', '.join(have) or 'none'}")
        texts = []
        for where, _, row in records:
            text = str(row.get(column) or "").strip()
            if text:
                texts.append(text)
            else:
                skip_row(where, f"missing or empty field {column!r}", strict, mine)
    report_skipped(mine, skipped)
    if not texts:
        raise DataError(f"{s}: no text in this general text set")
    return texts
