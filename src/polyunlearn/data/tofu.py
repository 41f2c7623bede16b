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

How TOFU uses its configs, as one table (CONFIG_SPLIT, config -> split): a model learns
forgetNN + retainNN (together: full), unlearns forgetNN with retainNN as the retain set, and is
evaluated on forgetNN_perturbed, retain_perturbed, real_authors_perturbed and
world_facts_perturbed. So `load_tofu` returns
- forgetNN -> split "forget_train" and retainNN -> "retain_train": trained on, never evaluated
  (`train_sets`; on by default for the hub, and for a local folder when it has both files);
- forgetNN_perturbed -> "forget", retain_perturbed -> "retain": evaluated (they have the
  paraphrased/perturbed answers that Truth Ratio needs);
- real_authors_perturbed -> "real_authors" and world_facts_perturbed -> "world_facts" (two
  general-knowledge splits, evaluated, never trained on; Model Utility takes 9 values as TOFU);
- holdoutNN -> "holdout" when asked or when a local folder has it (membership-attack AUC).
`retain="train"` is the older choice of evaluating retainNN itself as split "retain" (answers
only; then no retain_train copy is loaded).

Sources:
- the hub id `locuslab/TOFU` (English);
- a local folder in TOFU's own layout: one `<config>.jsonl` (or .json, .parquet, .csv, .arrow,
  or a `<config>/` save_to_disk folder) per config; TOFU's hub files are `<config>.json` in JSON
  Lines, so a plain download of the hub repo works as is. A translated TOFU plugs in the same way;
  a `language` column in its files wins over the `language` argument, and files without one
  need that argument (never guessed);
- a local folder in the Multilingual Amnesia layout (arXiv 2601.05641): one save_to_disk folder
  per config and language named `<config>_<lang>` (forget01_fr/, forget01_perturbed_fr/,
  retain99_fr/, retain_perturbed_fr/, real_authors_perturbed_fr/, world_facts_perturbed_fr/;
  Hebrew as `iw`): `load_tofu_folders` (and `load_tofu` on such a folder) loads every language
  found there, or the ones asked (`languages`). A config present for one loaded language must be
  present for all of them.

Item ids: "tofu-<config without _perturbed>:<row index>", e.g. "tofu-forget10:17", so that row i
of a translation gets the same id as row i of the English files (parallel data); the training
copy forgetNN gets "tofu-forgetNN-train:<i>" (its row i is the same question as row i of
forgetNN_perturbed, in the Amnesia data in another translation). An `id` column in the files is
used instead.
The paraphrased question has no QAItem field; `use_paraphrased_question=True` asks it instead
of the original wherever a row has one (the *_perturbed forget configs; other rows keep their
question), since TOFU reports metrics on both.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polyunlearn.core.languages import UnknownLanguageError, get_language
from polyunlearn.data.loaders import (
    Record,
    is_saved_dataset,
    items_from_records,
    looks_like_path,
    read_file_records,
    read_records,
    read_saved_dataset,
)
from polyunlearn.data.schema import DataError, QAItem, SkippedRow

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
# How TOFU uses each config (module docstring): the one table that decides an item's split.
CONFIG_SPLIT: dict[str, str] = {
    **{f: "forget_train" for f in FORGET_SETS},
    **{f"{f}_perturbed": "forget" for f in FORGET_SETS},
    **{r: "retain_train" for r in RETAIN_FOR_FORGET.values()},
    "retain_perturbed": "retain",
    "real_authors_perturbed": "real_authors",  # TOFU's two general-knowledge sets stay apart:
    "world_facts_perturbed": "world_facts",  # Model Utility takes 9 values, as TOFU does
    **{h: "holdout" for h in HOLDOUT_FOR_FORGET.values()},
}
# Searched in this order in a local folder (then a `<config>/` save_to_disk folder).
LOCAL_EXTENSIONS = (".jsonl", ".json", ".parquet", ".csv", ".arrow")
# TOFU columns with no QAItem field; dropped so they never reach the item validation.
_EXTRA_COLUMNS = ("paraphrased_question", "option1", "option2", "option3", "option4")


def load_tofu(
    forget: str = "forget10",
    language: str | None = "en",
    source: str | os.PathLike[str] = TOFU_HF_ID,
    *,
    retain: str = "eval",
    general: bool = True,
    use_paraphrased_question: bool = False,
    holdout: bool | None = None,
    train_sets: bool | None = None,
    strict: bool = False,
    skipped: list[SkippedRow] | None = None,
) -> list[QAItem]:
    """Forget, retain and general items of one TOFU forget setting (see the module docstring).

    `forget`: "forget01", "forget05" or "forget10" ("10", 10 and "forget10_perturbed" also
    work). `language`: of files without a `language` column (None: such files are an error).
    `retain`: "eval" (retain_perturbed) or "train" (retainNN evaluated as split "retain").
    `general`: add real_authors_perturbed and world_facts_perturbed. `holdout`: add holdoutNN;
    None = when a local folder has it (the hub is not probed). `train_sets`: add forgetNN and
    retainNN as the training-only splits; None = on for the hub, for a local folder when it has
    both. Rows with an empty question/answer go to `skipped` (strict: an error).
    """
    forget_set = normalize_forget(forget)
    folder = Path(os.fspath(source)).expanduser()
    if folder.is_dir() and amnesia_layout(folder):
        return load_tofu_folders(
            folder,
            forget_set,
            general=general,
            holdout=holdout,
            use_paraphrased_question=use_paraphrased_question,
            strict=strict,
            skipped=skipped,
        )
    if retain not in ("eval", "train"):
        raise DataError(
            f"retain is {retain!r}; expected 'eval' (retain_perturbed) or 'train' ({RETAIN_FOR_FORGET[forget_set]})"
        )
    if holdout is None:
        holdout = folder.is_dir() and _has_local_config(folder, HOLDOUT_FOR_FORGET[forget_set])
    if train_sets is None:
        train_sets = not folder.is_dir() or all(
            _has_local_config(folder, c) for c in (forget_set, RETAIN_FOR_FORGET[forget_set])
        )
    plan = tofu_plan(forget_set, general=general, holdout=holdout, train_sets=train_sets and retain == "eval")
    if retain == "train":
        plan = [(RETAIN_FOR_FORGET[forget_set], "retain") if split == "retain" else (c, split) for c, split in plan]
    items: list[QAItem] = []
    seen: dict[tuple[str, str], str] = {}
    for config, split in plan:
        for item in load_tofu_config(
            config,
            language,
            source,
            split,
            use_paraphrased_question=use_paraphrased_question,
            strict=strict,
            skipped=skipped,
        ):
            # Ids from an `id` column are not prefixed per config, so check across configs.
            if item.key in seen:
                raise DataError(
                    f"TOFU config {config!r}: id {item.id!r} ({item.language}) also appears in {seen[item.key]!r}"
                )
            seen[item.key] = config
            items.append(item)
    return items


def tofu_plan(
    forget_set: str, *, general: bool = True, holdout: bool = False, train_sets: bool = True
) -> list[tuple[str, str]]:
    """(config, split) pairs that one TOFU forget setting loads, in load order (CONFIG_SPLIT)."""
    configs = [f"{forget_set}_perturbed", "retain_perturbed"]
    if general:
        configs += list(GENERAL_CONFIGS)
    if holdout:
        configs.append(HOLDOUT_FOR_FORGET[forget_set])
    if train_sets:
        configs += [forget_set, RETAIN_FOR_FORGET[forget_set]]
    return [(c, CONFIG_SPLIT[c]) for c in configs]


def load_tofu_config(
    config: str,
    language: str | None = "en",
    source: str | os.PathLike[str] = TOFU_HF_ID,
    split: str = "retain",
    *,
    use_paraphrased_question: bool = False,
    strict: bool = False,
    skipped: list[SkippedRow] | None = None,
) -> list[QAItem]:
    """The items of one TOFU config, all given `split` (TOFU's files have no split column)."""
    records = [
        (where, index, _map_row(row, split, use_paraphrased_question))
        for where, index, row in _config_records(config, source)
    ]
    return _config_items(records, config, language, split, strict, skipped)


def _config_items(
    records: list[Record], config: str, language: str | None, split: str, strict: bool, skipped: list[SkippedRow] | None
) -> list[QAItem]:
    if language is None and any("language" not in row for _, _, row in records):
        where = next(w for w, _, row in records if "language" not in row)
        raise DataError(
            f"{where}: no 'language' column and no language given; name it (tofu:DIR:FORGET:LANG), it is never guessed"
        )
    return items_from_records(
        records, language=language, split=split, id_prefix=tofu_id_prefix(config), strict=strict, skipped=skipped
    )


def tofu_id_prefix(config: str) -> str:
    """ "tofu-forget10:" for forget10_perturbed, "tofu-forget10-train:" for its training copy
    forget10, "tofu-retain:" for retain_perturbed, "tofu-retain99:" for retain99 ..."""
    if config in FORGET_SETS:
        return f"tofu-{config}-train:"
    return f"tofu-{config.removesuffix('_perturbed')}:"


# ----------------------------------------------------------------------------- Multilingual Amnesia layout


def amnesia_layout(folder: Path) -> dict[tuple[str, str], Path]:
    """{(config, language): folder} of the `<config>_<lang>` save_to_disk folders in `folder`
    (empty when it has none). Legacy codes (iw) are read as the table's codes (he); a TOFU config
    with an unknown language suffix is an error, other folders are ignored."""
    found: dict[tuple[str, str], Path] = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        config, sep, code = sub.name.rpartition("_")
        if not sep or config not in CONFIG_SPLIT:
            continue
        try:
            lang = get_language(code).code
        except UnknownLanguageError as e:
            raise DataError(f"{sub}: language suffix {code!r} of a TOFU config folder: {e}") from None
        if (config, lang) in found:
            raise DataError(f"{sub} and {found[(config, lang)]} both hold TOFU config {config!r} in language {lang!r}")
        found[(config, lang)] = sub
    return found


def load_tofu_folders(
    folder: str | os.PathLike[str],
    forget: str = "forget01",
    *,
    general: bool = True,
    holdout: bool | None = None,
    use_paraphrased_question: bool = False,
    strict: bool = False,
    skipped: list[SkippedRow] | None = None,
    languages: Sequence[str] | None = None,
) -> list[QAItem]:
    """Every language of a Multilingual Amnesia folder (`<config>_<lang>/` save_to_disk
    folders), or only `languages` (codes or legacy aliases: "iw" is he; one the folder lacks is
    an error naming those it has): per language the configs of `tofu_plan` that the folder has,
    each with its split from CONFIG_SPLIT. Languages are those with the forget set (forgetNN or
    forgetNN_perturbed); every config present for one loaded language must be present for all,
    so no language silently trains or evaluates on less. `holdout`: None = when the folder has
    holdoutNN."""
    folder = Path(os.fspath(folder)).expanduser()
    forget_set = normalize_forget(forget)
    layout = amnesia_layout(folder)
    langs = sorted({lang for (config, lang) in layout if config in (forget_set, f"{forget_set}_perturbed")})
    if not langs:
        have = sorted({config for config, _ in layout}) or ["none"]
        raise DataError(
            f"{folder}: no {forget_set}_<lang> or {forget_set}_perturbed_<lang> folder (TOFU config folders found: {', '.join(have)})"
        )
    if languages is not None:
        wanted_langs = list(dict.fromkeys(_canonical(code) for code in languages))
        absent = [lang for lang in wanted_langs if lang not in langs]
        if absent:
            raise DataError(
                f"{folder}: no {forget_set} folders in language {', '.join(map(repr, absent))}; "
                f"languages here: {', '.join(langs)}"
            )
        layout = {(c, lang): p for (c, lang), p in layout.items() if lang in wanted_langs}
        langs = wanted_langs
    plan = tofu_plan(forget_set, general=general, holdout=True, train_sets=True)
    wanted = [(c, split) for c, split in plan if any((c, lang) in layout for lang in langs)]
    if holdout is False:
        wanted = [(c, split) for c, split in wanted if split != "holdout"]
    elif holdout and not any(split == "holdout" for _, split in wanted):
        raise DataError(f"{folder}: no {HOLDOUT_FOR_FORGET[forget_set]}_<lang> folder (holdout was asked for)")
    for config, _ in wanted:
        missing = [lang for lang in langs if (config, lang) not in layout]
        if missing:
            raise DataError(
                f"{folder}: {config}_<lang> is missing for {', '.join(missing)} (present for the other languages)"
            )
    items: list[QAItem] = []
    for lang in langs:
        for config, split in wanted:
            records = [
                (w, i, _map_row(row, split, use_paraphrased_question))
                for w, i, row in read_saved_dataset(layout[(config, lang)], "train")
            ]
            items += _config_items(records, config, lang, split, strict, skipped)
    return items


def _canonical(code: str) -> str:
    try:
        return get_language(code).code
    except UnknownLanguageError as e:
        raise DataError(str(e)) from None


def normalize_forget(forget: str | int) -> str:
    """ "forget10", "forget10_perturbed", "10" or 10 -> "forget10"; anything else is an error."""
    key = str(forget).strip().lower().removesuffix("_perturbed")
    if key.isdigit():
        key = f"forget{int(key):02d}"
    if key not in FORGET_SETS:
        raise DataError(f"unknown TOFU forget set {forget!r}; expected one of {', '.join(FORGET_SETS)}")
    return key


def find_local_config(folder: Path, config: str) -> Path:
    """The file (or save_to_disk folder) holding `config` in a local TOFU folder, or a DataError
    listing what was tried."""
    tried = [folder / f"{config}{ext}" for ext in LOCAL_EXTENSIONS]
    for path in tried:
        if path.is_file():
            return path
    if (folder / config).is_dir() and is_saved_dataset(folder / config):
        return folder / config
    names = ", ".join([*(p.name for p in tried), f"{config}/"])
    raise DataError(f"TOFU config {config!r} not found in {folder} (looked for {names})")


def _has_local_config(folder: Path, config: str) -> bool:
    try:
        find_local_config(folder, config)
    except DataError:
        return False
    return True


def _config_records(config: str, source: str | os.PathLike[str]) -> list[Record]:
    s = os.fspath(source)
    folder = Path(s).expanduser()
    if folder.is_dir():
        path = find_local_config(folder, config)
        return read_saved_dataset(path, "train") if path.is_dir() else read_file_records(path)
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
