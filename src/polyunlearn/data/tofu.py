"""TOFU (Maini et al. 2024, "Task of Fictitious Unlearning") as polyunlearn QA items, from the
hub id `locuslab/TOFU` or a local folder holding one file per config.

    from polyunlearn.data.tofu import load_tofu
    items = load_tofu("forget10")                                # hub, English
    items = load_tofu("forget05", language="fr", source="data/tofu_fr")   # translated copy

TOFU configs (each has one split, "train"):
- forget01 / forget05 / forget10: the forget sets (1/5/10% of the 200 fictitious authors),
  question + answer only; forgetNN_perturbed: the same rows plus paraphrased_answer,
  perturbed_answer (list) and paraphrased_question -- what Truth Ratio needs.
- retain99 / retain95 / retain90: everything not in forget01/05/10 (training retain sets, no
  perturbed answers); retain_perturbed: TOFU's evaluation sample of retain questions.
- real_authors(_perturbed), world_facts(_perturbed): general knowledge about real people and
  the world, for Model Utility; the plain configs are multiple choice (option1..option4).
- full: all 4000 questions; holdout01/05/10: questions about authors outside the 200 that
  are never trained on, sized like forget01/05/10 (the non-members of a membership attack).

`load_tofu` returns forget items (split "forget", from forgetNN_perturbed), retain items (split
"retain"), real_authors_perturbed (split "real_authors"), world_facts_perturbed (split
"world_facts"; two splits, so Model Utility takes 9 values as TOFU does) and, when asked
or when a local folder has it, holdoutNN (split "holdout", for the membership-attack AUC). Retain comes
from retain_perturbed by default (`retain="eval"`: has the paraphrased/perturbed answers that
the metrics need); `retain="train"` takes retainNN instead, the full complement of the forget
set that the retain term of GradDiff/NPO trains on (answers only).

A local `source` is a folder with `<config>.jsonl` (or .json, .parquet, .csv); TOFU's own hub
files are `<config>.json` in JSON Lines, so a plain download of the hub repo works as is. A
translated TOFU plugs in the same way; a `language` column in its files wins over the
`language` argument.

Item ids: "tofu-<config without _perturbed>:<row index>", e.g. "tofu-forget10:17", so that
forget10 and forget10_perturbed rows share ids, and row i of a translation gets the same id
as row i of the English files (parallel data). An `id` column in the files is used instead.
The paraphrased question has no QAItem field; `use_paraphrased_question=True` asks it instead
of the original wherever a row has one (the *_perturbed forget configs; other rows keep their
question), since TOFU reports metrics on both.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from polyunlearn.data.loaders import Record, items_from_records, looks_like_path, read_file_records, read_records
from polyunlearn.data.schema import DataError, QAItem

TOFU_HF_ID = "locuslab/TOFU"
FORGET_SETS = ("forget01", "forget05", "forget10")
HOLDOUT_FOR_FORGET = {f: f.replace("forget", "holdout") for f in FORGET_SETS}
# The training retain set of each forget set is its complement in `full`.
RETAIN_FOR_FORGET = {"forget01": "retain99", "forget05": "retain95", "forget10": "retain90"}
GENERAL_CONFIGS = ("real_authors_perturbed", "world_facts_perturbed")
# Each general-knowledge config is its own split (TOFU's aggregate_eval_stat.py and
# open-unlearning's model_utility.yaml take each one's Prob, ROUGE and Truth Ratio separately).
GENERAL_SPLIT = {"real_authors_perturbed": "real_authors", "world_facts_perturbed": "world_facts"}
TOFU_CONFIGS = (
    "full",
    *FORGET_SETS,
    *RETAIN_FOR_FORGET.values(),
    *(f"{f}_perturbed" for f in FORGET_SETS),
    "retain_perturbed",
    "real_authors",
    "world_facts",
    *GENERAL_CONFIGS,
    "holdout01",
    "holdout05",
    "holdout10",
)
# Searched in this order in a local folder.
LOCAL_EXTENSIONS = (".jsonl", ".json", ".parquet", ".csv")
# TOFU columns with no QAItem field; dropped so they never reach the item validation.
_EXTRA_COLUMNS = ("paraphrased_question", "option1", "option2", "option3", "option4")


def load_tofu(
    forget: str = "forget10",
    language: str = "en",
    source: str | os.PathLike[str] = TOFU_HF_ID,
    *,
    retain: str = "eval",
    general: bool = True,
    use_paraphrased_question: bool = False,
    holdout: bool | None = None,
) -> list[QAItem]:
    """Forget, retain and general items of one TOFU forget setting (see the module docstring).

    `forget`: "forget01", "forget05" or "forget10" ("10", 10 and "forget10_perturbed" also
    work). `retain`: "eval" (retain_perturbed) or "train" (retain99/95/90). `general`: add
    real_authors_perturbed and world_facts_perturbed as splits "real_authors" and
    "world_facts". `holdout`: add
    holdoutNN as split "holdout"; None = when a local `source` folder has that file (the hub
    is not probed: say True to fetch it).
    """
    forget_set = normalize_forget(forget)
    if retain not in ("eval", "train"):
        raise DataError(f"retain is {retain!r}; expected 'eval' (retain_perturbed) or 'train' ({RETAIN_FOR_FORGET[forget_set]})")
    plan = [(f"{forget_set}_perturbed", "forget")]
    plan.append(("retain_perturbed" if retain == "eval" else RETAIN_FOR_FORGET[forget_set], "retain"))
    if general:
        plan += [(cfg, GENERAL_SPLIT[cfg]) for cfg in GENERAL_CONFIGS]
    if holdout is None:
        folder = Path(os.fspath(source)).expanduser()
        holdout = folder.is_dir() and any((folder / f"{HOLDOUT_FOR_FORGET[forget_set]}{ext}").is_file() for ext in LOCAL_EXTENSIONS)
    if holdout:
        plan.append((HOLDOUT_FOR_FORGET[forget_set], "holdout"))
    items: list[QAItem] = []
    seen: dict[tuple[str, str], str] = {}
    for config, split in plan:
        for item in load_tofu_config(config, language, source, split, use_paraphrased_question=use_paraphrased_question):
            # Ids from an `id` column are not prefixed per config, so check across configs.
            if item.key in seen:
                raise DataError(f"TOFU config {config!r}: id {item.id!r} ({item.language}) also appears in {seen[item.key]!r}")
            seen[item.key] = config
            items.append(item)
    return items


def load_tofu_config(
    config: str,
    language: str = "en",
    source: str | os.PathLike[str] = TOFU_HF_ID,
    split: str = "retain",
    *,
    use_paraphrased_question: bool = False,
) -> list[QAItem]:
    """The items of one TOFU config, all given `split` (TOFU's files have no split column)."""
    records = [
        (where, index, _map_row(row, split, use_paraphrased_question))
        for where, index, row in _config_records(config, source)
    ]
    prefix = f"tofu-{config.removesuffix('_perturbed')}:"
    return items_from_records(records, language=language, split=split, id_prefix=prefix)


def normalize_forget(forget: str | int) -> str:
    """"forget10", "forget10_perturbed", "10" or 10 -> "forget10"; anything else is an error."""
    key = str(forget).strip().lower().removesuffix("_perturbed")
    if key.isdigit():
        key = f"forget{int(key):02d}"
    if key not in FORGET_SETS:
        raise DataError(f"unknown TOFU forget set {forget!r}; expected one of {', '.join(FORGET_SETS)}")
    return key


def find_local_config(folder: Path, config: str) -> Path:
    """The file holding `config` in a local TOFU folder, or a DataError listing what was tried."""
    tried = [folder / f"{config}{ext}" for ext in LOCAL_EXTENSIONS]
    for path in tried:
        if path.is_file():
            return path
    names = ", ".join(p.name for p in tried)
    raise DataError(f"TOFU config {config!r} not found in {folder} (looked for {names})")


def _config_records(config: str, source: str | os.PathLike[str]) -> list[Record]:
    s = os.fspath(source)
    folder = Path(s).expanduser()
    if folder.is_dir():
        return read_file_records(find_local_config(folder, config))
    if folder.is_file():
        raise DataError(f"TOFU source {s} is a file; pass a folder with one file per config, or a hub id")
    if looks_like_path(s):
        raise DataError(f"TOFU source folder not found: {s}")
    return read_records(s, hf_config=config, hf_split="train")


def _map_row(row: dict[str, Any], split: str, use_paraphrased_question: bool) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k not in _EXTRA_COLUMNS}
    pq = row.get("paraphrased_question")
    if use_paraphrased_question and isinstance(pq, str) and pq.strip():
        out["question"] = pq
    # The role in this benchmark is decided by the config, whatever the file says.
    out["split"] = split
    return out
