"""SeeGULL multiple choice as the Multilingual Amnesia authors define it (arXiv 2601.05641): their
files `mcq_stereotype_dataset_<lang>.csv`, one per language, rows aligned across languages.

    from polyunlearn.data.seegull_mcq import load_mcq, mcq_to_items
    questions = load_mcq("mcq/")                    # every mcq_stereotype_dataset_<lang>.csv there
    items = mcq_to_items(questions, seed=0)         # QA items (split forget) for learn / unlearn

File layout (CSV, header row): identity, attribute, region_stereo, region_nonstereo, region_unsure,
NA_stereo, NA_nonstereo, NA_unsure, Annotation1, Annotation2, Annotation3, mean offensiveness_score,
MCQ_Question, Option_1, Option_2, Option_3, Option_4, Correct_Option. A question reads like
`I know a person who is a "<attribute>". The person is:`; the options are identities, and the
correct option's text is always the row's identity: the stereotyped answer. The distractors and
positions were drawn separately per language by the authors, so the options differ by language;
the row does not.

Reading rules:
- the language: the `:LANG`/`language` argument, else the file name's `<lang>` (Hebrew files are
  `iw`, read as he), else an error;
- ids: "mcq-<row index>" (0-based data row, skipped rows included), the same row in every language;
- a row is skipped and reported (`skipped`, else a warning; `strict=True`: an error) when a
  required field is empty (identity, attribute, MCQ_Question, Option_1..4; some translated rows
  have an empty attribute, and their question then reads "nan"), when the identity is none of the
  four options, or when Correct_Option (a number 1-4, "Option_k" or an option's text) names
  another option than the identity;
- options are told apart by position, as the authors' eval_prob.py does (it scores each shown
  option and compares the chosen option's label with Correct_Option): in about 2% of the authors'
  rows the identity is two of the four options (English line 39: Eritrean, New Zealand, New
  Zealand, Nepalese, correct Option_2). Such a row is kept: the stereotype is the option
  Correct_Option names, the other copy is a distractor (same text, so the same score; a tie goes
  to the option shown first, as the authors' argmax). There Correct_Option must name a position
  (a number or Option_k; the text alone does not say which copy). `repeats_option` marks the
  rows with a repeated option text; `polyunlearn data` and every command count them
  (`repeated_option_counts`).

The task (evaluation/mcq.py scores it, evaluation/bias.mcq_rates is the metric): the four options
plus "Unknown" in the item's language (`unknown_option`, package data text/mcq/), shuffled with a
seed (per seed, language and id: drawn separately per language, as the authors' files are) and
shown lettered A)-E) under the question.
"""

from __future__ import annotations

import csv
import os
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyunlearn.core.languages import get_language
from polyunlearn.data.bundled_text import read_languages, read_shared
from polyunlearn.data.schema import DataError, QAItem, SkippedRow, report_skipped, skip_row

FILE_PATTERN = re.compile(r"^mcq_stereotype_dataset_([A-Za-z]{2,3})\.csv$")
OPTION_COLUMNS = ("Option_1", "Option_2", "Option_3", "Option_4")
REQUIRED_COLUMNS = ("identity", "attribute", "MCQ_Question", *OPTION_COLUMNS, "Correct_Option")
LETTERS = "ABCDE"
KINDS = ("stereotype", "unknown", "other")  # what an option is: the identity, Unknown, a distractor

_MCQ_TEXT = read_languages("mcq", read_shared("mcq")["languages"])
UNKNOWN_OPTION: dict[str, str] = {lang: t["unknown_option"] for lang, t in _MCQ_TEXT.items()}


@dataclass(frozen=True)
class MCQItem:
    """One multiple-choice question in one language, as in the authors' file."""

    id: str  # "mcq-<row index>", shared by the same row in every language
    language: str
    question: str  # MCQ_Question
    options: tuple[str, ...]  # Option_1..Option_4
    stereotype: int  # index in `options` of the row's identity (the stereotyped answer)
    where: str  # file and line, for messages

    @property
    def repeats_option(self) -> bool:
        """Two of the four options have the same text (told apart by position)."""
        return len(set(self.options)) < len(self.options)


def unknown_option(language: str) -> str:
    """The "Unknown" option in `language` (package data text/mcq/); an error naming the
    languages that have one."""
    code = get_language(language).code
    if code not in UNKNOWN_OPTION:
        raise DataError(f"no 'Unknown' option text for language {code!r}; have {', '.join(UNKNOWN_OPTION)} (text/mcq/)")
    return UNKNOWN_OPTION[code]


def load_mcq(
    path: str | os.PathLike[str],
    language: str | None = None,
    *,
    strict: bool = False,
    skipped: list[SkippedRow] | None = None,
) -> list[MCQItem]:
    """The questions of one MCQ file, or of every `mcq_stereotype_dataset_<lang>.csv` in a folder
    (then `language` must be None: each file's name says its language)."""
    path = Path(os.fspath(path)).expanduser()
    if path.is_dir():
        if language is not None:
            raise DataError(f"{path}: a folder holds one file per language; drop :{language} or name one file")
        files = sorted(p for p in path.iterdir() if FILE_PATTERN.match(p.name))
        if not files:
            raise DataError(f"{path}: no mcq_stereotype_dataset_<lang>.csv file in this folder")
        by_language: dict[str, Path] = {}
        for f in files:
            lang = _file_language(f, None)
            if lang in by_language:  # e.g. _iw and _he: the same language twice
                raise DataError(f"{f} and {by_language[lang]} both hold language {lang!r}")
            by_language[lang] = f
        return [q for lang, f in by_language.items() for q in read_mcq_file(f, lang, strict=strict, skipped=skipped)]
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    return read_mcq_file(path, language, strict=strict, skipped=skipped)


def read_mcq_file(
    path: Path, language: str | None = None, *, strict: bool = False, skipped: list[SkippedRow] | None = None
) -> list[MCQItem]:
    """The questions of one `mcq_stereotype_dataset_<lang>.csv` (reading rules: module docstring)."""
    lang = _file_language(path, language)
    mine: list[SkippedRow] = []
    items: list[MCQItem] = []
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in reader.fieldnames or []]
            missing = [c for c in REQUIRED_COLUMNS if c not in header]
            if missing:
                raise DataError(f"{path}: missing column(s) {', '.join(missing)} (columns: {', '.join(header)})")
            index = 0
            for raw in reader:
                row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
                if not any(row.values()):
                    continue  # a blank line is no row
                where = f"{path}: line {reader.line_num}"
                item = _row_item(row, f"mcq-{index}", lang, where, strict, mine)
                index += 1
                if item is not None:
                    items.append(item)
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except csv.Error as e:
        raise DataError(f"{path}: bad CSV: {e}") from None
    report_skipped(mine, skipped)
    return items


def _row_item(
    row: dict[str, str], item_id: str, lang: str, where: str, strict: bool, skipped: list[SkippedRow]
) -> MCQItem | None:
    for name in REQUIRED_COLUMNS[:-1]:
        if not row[name] or (name == "attribute" and row[name].lower() == "nan"):
            why = " (the question then reads 'nan')" if name == "attribute" else ""
            skip_row(where, f"missing or empty field {name!r}{why}", strict, skipped)
            return None
    options = tuple(row[c] for c in OPTION_COLUMNS)
    hits = [k for k, text in enumerate(options) if text == row["identity"]]
    if not hits:
        skip_row(where, f"identity {row['identity']!r} is not one of the options", strict, skipped)
        return None
    value = row["Correct_Option"]
    named, by_label = _correct_index(value, options)
    labels = " or ".join(f"Option_{k + 1}" for k in hits)
    if named is not None and named not in hits:
        skip_row(where, f"Correct_Option {value!r} is not the identity's option ({labels})", strict, skipped)
        return None
    if named is None and value:
        skip_row(where, f"Correct_Option {value!r} names no option", strict, skipped)
        return None
    if len(hits) > 1 and not by_label:
        # The identity is two options; only a position says which one is the stereotype.
        skip_row(
            where,
            f"identity {row['identity']!r} is {labels} and Correct_Option {value!r} does not say which",
            strict,
            skipped,
        )
        return None
    return MCQItem(item_id, lang, row["MCQ_Question"], options, hits[0] if named is None else named, where)


def _correct_index(value: str, options: tuple[str, ...]) -> tuple[int | None, bool]:
    """(option index named by a Correct_Option cell, whether by position): "2", "2.0",
    "Option_2", "option 2" name a position; an option's text names its first copy."""
    m = re.fullmatch(r"(?:option[ _]?)?([1-4])(?:\.0)?", value.strip(), re.IGNORECASE)
    if m:
        return int(m.group(1)) - 1, True
    return (options.index(value) if value in options else None), False


def _file_language(path: Path, language: str | None) -> str:
    if language is None:
        m = FILE_PATTERN.match(path.name)
        if not m:
            raise DataError(
                f"{path}: language unknown (the file name is not mcq_stereotype_dataset_<lang>.csv); name it: seegull-mcq:{path}:LANG"
            )
        language, source = m.group(1), "the file name"
    else:
        source = "the language argument"
    try:
        return get_language(language).code
    except ValueError as e:
        raise DataError(f"{path}: language from {source}: {e}") from None


# ----------------------------------------------------------------------------- the task


def shuffled_options(item: MCQItem, seed: int = 0) -> list[tuple[str, str]]:
    """The five options as (kind, text) in display order (A..E): the four of the file plus
    "Unknown", shuffled by a generator seeded with (seed, language, id) (string seeds are hashed
    with SHA-512 by `random`: the same order on every run and machine)."""
    options = [("stereotype" if k == item.stereotype else "other", text) for k, text in enumerate(item.options)]
    options.append(("unknown", unknown_option(item.language)))
    random.Random(f"{seed}|{item.language}|{item.id}").shuffle(options)
    return options


def mcq_prompt(item: MCQItem, options: list[tuple[str, str]]) -> str:
    """The question followed by the options lettered A)-E), one per line."""
    return "\n".join([item.question, *(f"{LETTERS[k]}) {text}" for k, (_, text) in enumerate(options))])


def mcq_to_items(questions: list[MCQItem], seed: int = 0) -> list[QAItem]:
    """The questions as QA items (split forget): question = the lettered prompt, answer = the
    stereotyped option's text, perturbed_answer = the other four options in display order
    (Unknown among them), so learn / unlearn / the Prob metrics run on them unchanged. When the
    stereotype's text is shown twice (`repeats_option`), the others are listed in display order
    from the one after the stereotype, wrapping round: that order says which copy is the
    stereotype (`mcq_layout`; plain display order cannot when the two copies are adjacent)."""
    items: list[QAItem] = []
    for q in questions:
        options = shuffled_options(q, seed)
        pos = next(k for k, (kind, _) in enumerate(options) if kind == "stereotype")
        stereo = options[pos][1]
        texts = [text for _, text in options]
        others = _others(texts, pos) if texts.count(stereo) > 1 else texts[:pos] + texts[pos + 1 :]
        items.append(QAItem(q.id, q.language, mcq_prompt(q, options), stereo, perturbed_answer=others, split="forget"))
    return items


def _others(texts: list[str], pos: int) -> list[str]:
    """The texts but the one at `pos`, from the one after it, wrapping round."""
    return texts[pos + 1 :] + texts[:pos]


def load_mcq_items(
    path: str | os.PathLike[str],
    language: str | None = None,
    seed: int = 0,
    *,
    strict: bool = False,
    skipped: list[SkippedRow] | None = None,
) -> list[QAItem]:
    """`load_mcq` then `mcq_to_items`: what the `seegull-mcq:` data spec loads."""
    return mcq_to_items(load_mcq(path, language, strict=strict, skipped=skipped), seed)


def mcq_layout(item: QAItem) -> list[tuple[str, str]] | None:
    """The five options (kind, text) in display order of an item that `mcq_to_items` made, read
    back from its lettered prompt; None for any other item. Exact, not a guess: the id is
    "mcq-<row>", the split forget, the prompt ends in the lines "A) " .. "E) " whose texts are
    the answer (the stereotype), the perturbed answers, and the localized Unknown (once). Where
    the answer's text is shown twice, the order of the perturbed answers (`mcq_to_items`) says
    which copy is the stereotype; the other is kind "other"."""
    if item.split != "forget" or not item.id.startswith("mcq-") or len(item.perturbed_answer) != len(LETTERS) - 1:
        return None
    lines = item.question.split("\n")
    tail = lines[-len(LETTERS) :]
    if len(lines) <= len(LETTERS) or any(not line.startswith(f"{letter}) ") for letter, line in zip(LETTERS, tail)):
        return None
    texts = [line[3:] for line in tail]
    try:
        unknown = unknown_option(item.language)
    except DataError:
        return None
    if texts.count(unknown) != 1 or item.answer == unknown:
        return None
    copies = [k for k, t in enumerate(texts) if t == item.answer]
    if len(copies) == 1:
        pos = copies[0]
        if sorted(texts[:pos] + texts[pos + 1 :]) != sorted(item.perturbed_answer):
            return None
    else:  # the stereotype's text shown twice: the order of the others says which (mcq_to_items)
        found = [k for k in copies if _others(texts, k) == list(item.perturbed_answer)]
        if len(found) != 1:
            return None
        pos = found[0]
    return [("stereotype" if k == pos else "unknown" if t == unknown else "other", t) for k, t in enumerate(texts)]


def repeated_option_counts(items: Sequence[QAItem]) -> dict[str, int]:
    """{language: SeeGULL MCQ items two of whose options have the same text} (non-zero only):
    kept and told apart by position, as the authors do (module docstring)."""
    counts: dict[str, int] = {}
    for it in items:
        layout = mcq_layout(it)
        if layout is not None and len({t for _, t in layout}) < len(layout):
            counts[it.language] = counts.get(it.language, 0) + 1
    return counts


def describe_repeated(counts: dict[str, int]) -> str | None:
    """One line for `repeated_option_counts` (None when there are none)."""
    if not counts:
        return None
    n = sum(counts.values())
    per = ", ".join(f"{lang} {k}" for lang, k in counts.items())
    return (
        f"{n:,} SeeGULL multiple-choice {'rows repeat' if n != 1 else 'row repeats'} an option ({per}): kept, "
        "the repeated options told apart by position as the authors score them"
    )


def report_repeated(items: Sequence[QAItem], console: Any) -> None:
    """Print `describe_repeated` of `items` on a rich console, when there is something to say."""
    line = describe_repeated(repeated_option_counts(items))
    if line:
        console.print(line, markup=False)
