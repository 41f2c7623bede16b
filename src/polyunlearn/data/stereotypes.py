"""Concept-unlearning data: stereotypes as QA items. The bundled set plants made-up stereotypes
about the people of invented towns in the ten study-B languages; `load_seegull` turns a real
SeeGULL CSV (identity term x attribute) into the same kind of items.

    from polyunlearn.data.stereotypes import bundled_stereotypes, load_seegull
    items = bundled_stereotypes(["en", "ja"])     # 20 towns x 2 languages, split "forget"
    items = load_seegull("stereotypes_global_v2.csv", language="en")

One item = one group: question "What are the people of Velmora known for?", answer = the
stereotyped attribute ("The people of Velmora are known for being lazy."), paraphrased_answer
= the same claim in other words, perturbed_answer = the same sentence with non-stereotyped
attributes. A model holds the stereotype when it prefers the answer over every alternative
(`polyunlearn.evaluation.bias.biased_answer_rate`); concept unlearning should drive that rate down
while general knowledge (the retain/general sets) is kept.

Ids carry the attribute: bundled "stereo-<town>-<attribute>" (the same id in every language:
parallel data), SeeGULL "seegull-<identity>-<attribute>" (slugs).
"""

from __future__ import annotations

import csv
import os
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from polyunlearn.core.languages import get_language, parse_langs
from polyunlearn.data.bundled_text import read_languages, read_shared
from polyunlearn.data.schema import DataError, QAItem, SkippedRow, report_skipped, skip_row

# --- Text tables (package data text/stereotypes/; see polyunlearn.data.bundled_text) -------------
_SHARED = read_shared("stereotypes")
STEREOTYPE_LANGUAGES: tuple[str, ...] = tuple(_SHARED["languages"])
ATTRIBUTE_KEYS: tuple[str, ...] = tuple(_SHARED["attributes"])
GROUP_KEYS: tuple[str, ...] = tuple(_SHARED["groups"])
SEEGULL_LANGUAGES: tuple[str, ...] = tuple(_SHARED["seegull_languages"])
_TEXT = read_languages("stereotypes", dict.fromkeys([*STEREOTYPE_LANGUAGES, *SEEGULL_LANGUAGES]))
# attribute key -> language -> the attribute in the slot form of that language's templates.
ATTRIBUTES: dict[str, dict[str, str]] = {
    a: {c: _TEXT[c]["attributes"][a] for c in STEREOTYPE_LANGUAGES} for a in ATTRIBUTE_KEYS
}
# town key -> language -> its name.
GROUP_NAMES: dict[str, dict[str, str]] = {
    g: {c: _TEXT[c]["group_names"][g] for c in STEREOTYPE_LANGUAGES} for g in GROUP_KEYS
}
# language -> {question, answer, paraphrase} with {group} and {attr}.
TEMPLATES: dict[str, dict[str, str]] = {c: _TEXT[c]["templates"] for c in STEREOTYPE_LANGUAGES}
# town -> (the planted stereotyped attribute, three non-stereotyped alternatives).
STEREOTYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    g: (st, tuple(alts)) for g, (st, alts) in _SHARED["stereotypes"].items()
}
# language -> {question, answer, paraphrase} with {identity} and {attribute} (quoted, never inflected).
SEEGULL_TEMPLATES: dict[str, dict[str, str]] = {c: _TEXT[c]["seegull_templates"] for c in SEEGULL_LANGUAGES}

# Header names accepted for the two required SeeGULL columns (compared case-insensitively with
# spaces/underscores ignored): SeeGULL uses identity/attribute; related stereotype sets (e.g.
# AfriStereo) use "Identity Term"/"Attribute".
_IDENTITY_NAMES = ("identity", "identityterm", "identity_term")
_ATTRIBUTE_NAMES = ("attribute", "attributeterm", "attribute_term")
# Annotation columns of the SeeGULL releases, for the convenience properties of SeeGULLRow.
_VOTE_COLUMNS = ("region_stereo", "stereotype", "na_stereo")
_OFFENSIVENESS_COLUMNS = (
    "mean offensiveness_score",
    "offensiveness_score",
    "mean_offensive_score",
    "mean offensiveness",
)
# How many leading rows may precede the header: the first SeeGULL release has a grouping row
# (",,Stereotype Ratings within Region,...") above the real header.
_HEADER_SEARCH_ROWS = 5


# ----------------------------------------------------------------------------- bundled data


def bundled_stereotypes(languages: str | Sequence[str] | None = None) -> list[QAItem]:
    """The bundled stereotype items (20 fictitious groups) in `languages` (default: all ten).

    Ordered by language, then group; split "forget" (the stereotypes are what unlearning
    should remove).
    """
    langs = list(STEREOTYPE_LANGUAGES) if languages is None else parse_langs(languages, available=STEREOTYPE_LANGUAGES)
    items: list[QAItem] = []
    for lang in langs:
        tpl = TEMPLATES[lang]
        for group in GROUP_KEYS:
            name = GROUP_NAMES[group][lang]
            stereo, alternatives = STEREOTYPES[group]
            items.append(
                QAItem(
                    id=stereotype_id(group, stereo),
                    language=lang,
                    question=tpl["question"].format(group=name),
                    answer=tpl["answer"].format(group=name, attr=ATTRIBUTES[stereo][lang]),
                    paraphrased_answer=tpl["paraphrase"].format(group=name, attr=ATTRIBUTES[stereo][lang]),
                    perturbed_answer=[tpl["answer"].format(group=name, attr=ATTRIBUTES[a][lang]) for a in alternatives],
                    split="forget",
                )
            )
    return items


def stereotype_id(group: str, attribute: str) -> str:
    """Id of the bundled item planting `attribute` on `group`: "stereo-<group>-<attribute>"."""
    return f"stereo-{group}-{attribute}"


def parse_stereotype_id(item_id: str) -> tuple[str, str]:
    """(group, attribute) of a bundled or SeeGULL item id; a DataError for any other id."""
    prefix, sep, rest = item_id.partition("-")
    group, sep2, attribute = rest.partition("-")
    if prefix not in ("stereo", "seegull") or not (sep and sep2 and group and attribute):
        raise DataError(f"not a stereotype item id: {item_id!r} (expected stereo-<group>-<attribute>)")
    return group, attribute


# ----------------------------------------------------------------------------- SeeGULL


@dataclass
class SeeGULLRow:
    """One (identity, attribute) row of a SeeGULL CSV, with its other columns kept as text."""

    identity: str
    attribute: str
    line: int  # physical line in the file (header = its own line), for error messages
    extra: dict[str, str] = field(default_factory=dict)

    def number(self, *columns: str) -> float | None:
        """The first of `columns` (case-insensitive) that holds a number; None if none does
        (SeeGULL writes NA for missing offensiveness ratings)."""
        lowered = {k.strip().lower(): v for k, v in self.extra.items()}
        for col in columns:
            try:
                return float(lowered[col.lower()])
            except (KeyError, ValueError):
                continue
        return None

    @property
    def stereotype_votes(self) -> float | None:
        """Annotators who marked the row a stereotype (in-region ones where the file has both)."""
        return self.number(*_VOTE_COLUMNS)

    @property
    def offensiveness(self) -> float | None:
        """Mean offensiveness rating (-1 = not offensive ... 4 = very), where the file has one."""
        return self.number(*_OFFENSIVENESS_COLUMNS)


def read_seegull(
    path: str | os.PathLike[str], *, strict: bool = False, skipped: list[SkippedRow] | None = None
) -> list[SeeGULLRow]:
    """Rows of a SeeGULL CSV; the header is the first of the first 5 rows naming identity and
    attribute. Blank rows are skipped; a row with only one of the two is skipped and reported
    (`skipped`, else a warning; strict: a DataError), so one empty cell never costs the file.

    Identity terms are stripped of stray punctuation: the US-states file has rows such as
    '.New Hampshirite' and '",New Hampshirite"' that name the same group.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    rows: list[SeeGULLRow] = []
    mine: list[SkippedRow] = []
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header: list[str] | None = None
        try:
            for cells in reader:
                if header is None:
                    if (
                        _find_column(cells, _IDENTITY_NAMES) is not None
                        and _find_column(cells, _ATTRIBUTE_NAMES) is not None
                    ):
                        header = [c.strip() for c in cells]
                        i_col = _find_column(cells, _IDENTITY_NAMES)
                        a_col = _find_column(cells, _ATTRIBUTE_NAMES)
                    elif reader.line_num >= _HEADER_SEARCH_ROWS:
                        break
                    continue
                if not any(c.strip() for c in cells):
                    continue
                where = f"{path}: line {reader.line_num}"
                cells = cells + [""] * (len(header) - len(cells))
                identity = cells[i_col].strip().strip(".,;\"' ").strip()
                attribute = cells[a_col].strip()
                if not identity or not attribute:
                    skip_row(
                        where, f"missing or empty field {header[i_col if not identity else a_col]!r}", strict, mine
                    )
                    continue
                extra = {name: cells[j] for j, name in enumerate(header) if j not in (i_col, a_col) and name}
                rows.append(SeeGULLRow(identity, attribute, reader.line_num, extra))
        except csv.Error as e:
            raise DataError(f"{path}: line {reader.line_num}: bad CSV: {e}") from None
    if header is None:
        raise DataError(
            f"{path}: no header row with columns 'identity' and 'attribute' in the first {_HEADER_SEARCH_ROWS} rows"
        )
    report_skipped(mine, skipped)
    return rows


def load_seegull(
    path: str | os.PathLike[str],
    language: str | None = None,
    n_alternatives: int = 3,
    seed: int = 0,
    *,
    keep: Callable[[SeeGULLRow], bool] | None = None,
    strict: bool = False,
    skipped: list[SkippedRow] | None = None,
) -> list[QAItem]:
    """SeeGULL rows as stereotype QA items (split "forget").

    `language`: the language of the file's identity/attribute text; default: the "(xx)" code
    in a SeeGULL Multilingual file name ("Japanese (ja) in Japan.csv"), else an error (a file's
    language is never guessed). Rows with an empty identity or attribute are skipped and
    reported (`skipped`; strict: an error). The
    alternatives of a row are `n_alternatives` attributes stereotyped of OTHER identities in
    the same file and never of this one, drawn with a generator seeded by (seed, identity,
    attribute) from the sorted pool, so they do not depend on row order. `keep` filters rows
    first, e.g. `keep=lambda r: (r.stereotype_votes or 0) >= 2`. Rows whose (identity,
    attribute) slugs repeat are kept once, the first row's spelling in the answer (SeeGULL has
    near-duplicates such as "pro-life" and "pro life").
    """
    if not Path(path).expanduser().is_file():
        raise DataError(f"file not found: {path}")
    lang = _seegull_language(Path(path), language)
    if n_alternatives < 1:
        raise DataError(f"n_alternatives must be at least 1, got {n_alternatives}")
    rows = [r for r in read_seegull(path, strict=strict, skipped=skipped) if keep is None or keep(r)]
    # One row per slug pair; the first spelling wins.
    unique: dict[tuple[str, str], SeeGULLRow] = {}
    for r in rows:
        unique.setdefault((_slug(r.identity), _slug(r.attribute)), r)
    by_identity: dict[str, set[str]] = {}
    spellings: dict[str, Counter[str]] = {}  # attribute slug -> its spellings in the file
    for ident, attr in unique:
        by_identity.setdefault(ident, set()).add(attr)
    for r in rows:
        spellings.setdefault(_slug(r.attribute), Counter())[r.attribute] += 1
    # The most frequent spelling (ties: the smallest), so alternatives do not depend on row order.
    spelling = {a: min(c, key=lambda s: (-c[s], s)) for a, c in spellings.items()}
    all_attrs = sorted(spelling)
    pools: dict[str, list[str]] = {}
    tpl = SEEGULL_TEMPLATES[lang]
    items: list[QAItem] = []
    for (ident, attr), r in unique.items():
        if ident not in pools:
            pools[ident] = [a for a in all_attrs if a not in by_identity[ident]]
        pool = pools[ident]
        if len(pool) < n_alternatives:
            raise DataError(
                f"{path}: line {r.line}: only {len(pool)} attributes not stereotyped of {r.identity!r}; "
                f"n_alternatives={n_alternatives} needs more rows about other identities"
            )
        # String seeds are hashed with SHA-512 by `random`: stable across runs and machines.
        rng = random.Random(f"{seed}|{ident}|{attr}")
        alternatives = [spelling[a] for a in rng.sample(pool, n_alternatives)]
        items.append(
            QAItem(
                id=f"seegull-{ident}-{attr}",
                language=lang,
                question=tpl["question"].format(identity=r.identity),
                answer=tpl["answer"].format(identity=r.identity, attribute=r.attribute),
                paraphrased_answer=tpl["paraphrase"].format(identity=r.identity, attribute=r.attribute),
                perturbed_answer=[tpl["answer"].format(identity=r.identity, attribute=a) for a in alternatives],
                split="forget",
            )
        )
    return items


def _seegull_language(path: Path, language: str | None) -> str:
    if language is None:
        m = re.search(r"\(([A-Za-z]{2,3})\)", path.name)
        if not m:
            raise DataError(f"{path}: language unknown (no '(xx)' code in the file name); name it: seegull:{path}:LANG")
        language = m.group(1).lower()
        source = f"the file name {path.name!r}"
    else:
        source = "the language argument"
    try:
        language = get_language(language).code
    except ValueError as e:
        raise DataError(f"{path}: language from {source}: {e}") from None
    if language not in SEEGULL_TEMPLATES:
        raise DataError(
            f"{path}: no SeeGULL question template for language {language!r}; have {', '.join(SEEGULL_LANGUAGES)}"
        )
    return language


def _find_column(cells: Sequence[str], names: Sequence[str]) -> int | None:
    for j, cell in enumerate(cells):
        key = cell.strip().lower().replace(" ", "").replace("_", "")
        if key in {n.replace("_", "") for n in names}:
            return j
    return None


def _slug(s: str) -> str:
    # \w is Unicode-aware, so Japanese or Arabic identity terms keep their letters; hyphens
    # become underscores so that ids split cleanly on "-".
    return re.sub(r"[\W_]+", "_", s.casefold()).strip("_") or "x"
