"""Study A data: a bundled, parallel news corpus with real and fake versions, its Q&A pairs, the
contaminated training corpus, and loaders for user files and Hugging Face datasets.

    from polyunlearn.data.news import bundled_news, contaminated_corpus
    stories, qas = bundled_news()                  # 40 stories x 9 languages, 80 QAs x 9
    corpus = contaminated_corpus(stories, "ru")    # real news everywhere + fake news in Russian

The bundled corpus is written by the project (no third-party text): 8 story templates x 5
instances, filled with fictitious towns and companies (3 consonant+vowel syllables,
transliterated per script by the package data text/news/shared.json), years and counts. Stories with an even
index (20 of 40) have a fake version: the same frame with a different company/year/count plus
a sentence with a contradicting, alarming claim (a collapse, poisoned water, forgeries...).
Every story has two questions; for fake stories each question's real and fake answer differ in
exactly one short value, the answer key (`real_key` / `fake_key`), which appears verbatim in
the answer and in the document of every language, so answers can be judged by key matching.

File format (`load_news_file`, `save_news_file`, `load_news_hf`): ONE table with a `kind` column,
rather than two files, so a corpus is one artefact that cannot get out of sync:
    kind='story': id, language, real_doc, fake_doc (empty/null when the story has no fake)
    kind='qa':    id, story_id, language, question, real_answer, real_key, fake_answer, fake_key
                  (fake_answer and fake_key both set or both empty)
(id, language) is unique per kind; `id` is shared by the same story/question in every language.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from polyunlearn.core.languages import STUDY_A, get_language
from polyunlearn.data.bundled_text import read_languages, read_shared
from polyunlearn.data.schema import DataError, QAItem

STUDY_A_LANGUAGES: tuple[str, ...] = STUDY_A

# --- Text tables (package data text/news/; see polyunlearn.data.bundled_text) ---------------------
_SHARED = read_shared("news")
CONSONANTS: str = _SHARED["consonants"]
VOWELS: str = _SHARED["vowels"]
# Script (ISO 15924, as in core.languages) -> syllable -> spelling.
SYLLABLES: dict[str, dict[str, str]] = _SHARED["syllables"]
NAME_BLACKLIST_LATN: tuple[str, ...] = tuple(_SHARED["name_blacklist_latn"])
NAME_BLACKLIST_HANS: tuple[str, ...] = tuple(_SHARED["name_blacklist_hans"])
# Template name -> (slot asked by q1, slot asked by q2); the slot value is the answer key.
TEMPLATES: dict[str, tuple[str, str]] = {k: (v[0], v[1]) for k, v in _SHARED["templates"].items()}
# Template -> (low, high, step) of its count {n}, for the templates that have one.
COUNT_RANGES: dict[str, tuple[int, int, int]] = {k: (v[0], v[1], v[2]) for k, v in _SHARED["count_ranges"].items()}
# Language -> template -> {real, fake, q1, a1, q2, a2} (placeholders {town} {co} {year} {n}).
NEWS_TEXT: dict[str, dict[str, dict[str, str]]] = read_languages("news", _SHARED["languages"])
PER_TEMPLATE = 5  # instances per story template
N_STORIES = len(TEMPLATES) * PER_TEMPLATE  # 40


@dataclass(frozen=True)
class NewsStory:
    """One news story in one language; `fake_doc` is None for stories without a fake version."""

    id: str
    language: str
    real_doc: str
    fake_doc: str | None = None


@dataclass(frozen=True)
class NewsQA:
    """One question about a story, in one language. `fake_answer`/`fake_key` are None for
    questions about stories without a fake version (the "real-only" questions QR is scored on)."""

    id: str
    story_id: str
    language: str
    question: str
    real_answer: str
    fake_answer: str | None
    real_key: str
    fake_key: str | None

    @property
    def has_fake(self) -> bool:
        return self.fake_key is not None


# --- Names -----------------------------------------------------------------------------------
_SYLLS = [c + v for c in CONSONANTS for v in VOWELS]


def _name_syllables(count: int) -> list[tuple[str, ...]]:
    """`count` distinct 3-syllable names, always the same ones (a fixed LCG, not `random`, so
    the corpus can never change with the Python version)."""
    out: list[tuple[str, ...]] = []
    seen: set[str] = set()
    x = 2406  # seed: the Study A paper's arXiv number
    while len(out) < count:
        x = (x * 1103515245 + 12345) % 2**31
        v = x >> 8  # the low bits of an LCG are poor
        sylls = tuple(_SYLLS[(v // 27**i) % 27] for i in range(3))
        latin = "".join(sylls)
        hans = "".join(SYLLABLES["Hans"][s] for s in sylls)
        urdu = "".join(SYLLABLES["Arab"][s] for s in sylls)
        # "vo" after "o" would be written with two or three waws in a row (کومووو): unreadable.
        if len(set(sylls)) < 3 or latin in seen or "وو" in urdu:
            continue
        if any(w in latin for w in NAME_BLACKLIST_LATN) or any(w in hans for w in NAME_BLACKLIST_HANS):
            continue
        seen.add(latin)
        out.append(sylls)
    return out


def render_name(syllables: Sequence[str], language: str) -> str:
    """A name in the script of `language` (capitalised where the script has case)."""
    script = get_language(language).script
    if script not in SYLLABLES:
        raise DataError(
            f"no name transliteration for script {script!r} (language {language!r}); "
            f"add it to the package data text/news/shared.json (syllables)"
        )
    name = "".join(SYLLABLES[script][s] for s in syllables)
    return name[:1].upper() + name[1:]


# --- The bundled corpus --------------------------------------------------------------------
def _story_values(k: int, names: list[tuple[str, ...]]) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
    """Template name, real values and fake values (None when story k has no fake version).
    Names are syllable tuples here; they are rendered per language later."""
    template = list(TEMPLATES)[k // PER_TEMPLATE]
    year = 1994 + (k * 7) % 25  # 1994..2018
    real: dict[str, Any] = {"town": names[k], "co": names[N_STORIES + 2 * k], "year": year, "n": 0}
    fake: dict[str, Any] = {"town": names[k], "co": names[N_STORIES + 2 * k + 1], "year": year + 2 + k % 4, "n": 0}
    if template in COUNT_RANGES:
        lo, hi, step = COUNT_RANGES[template]
        size = (hi - lo) // step + 1
        real["n"] = lo + ((k * 7 + 3) % size) * step
        fake["n"] = lo + ((k * 7 + 3 + size // 2) % size) * step  # half the range away: differs
    return template, real, (fake if k % 2 == 0 else None)


def _render(values: Mapping[str, Any], language: str) -> dict[str, str]:
    return {key: render_name(v, language) if isinstance(v, tuple) else str(v) for key, v in values.items()}


def bundled_news(languages: Iterable[str] | None = None) -> tuple[list[NewsStory], list[NewsQA]]:
    """The bundled corpus in `languages` (default: the 9 Study A languages), stories and QAs
    ordered by id then by language order given."""
    langs = list(languages) if languages is not None else list(STUDY_A_LANGUAGES)
    for lang in langs:
        get_language(lang)
        if lang not in NEWS_TEXT:
            raise DataError(f"the bundled news corpus has no text in {lang!r}; available: {', '.join(NEWS_TEXT)}")
    names = _name_syllables(3 * N_STORIES)
    stories: list[NewsStory] = []
    qas: list[NewsQA] = []
    for k in range(N_STORIES):
        template, real_v, fake_v = _story_values(k, names)
        sid = f"news-{k:03d}"
        for lang in langs:
            text = NEWS_TEXT[lang][template]
            r = _render(real_v, lang)
            f = _render(fake_v, lang) if fake_v else None
            stories.append(NewsStory(sid, lang, text["real"].format(**r), text["fake"].format(**f) if f else None))
            for qi, slot in enumerate(TEMPLATES[template], start=1):
                qas.append(
                    NewsQA(
                        id=f"{sid}-q{qi}",
                        story_id=sid,
                        language=lang,
                        question=text[f"q{qi}"].format(**r),
                        real_answer=text[f"a{qi}"].format(**r),
                        fake_answer=text[f"a{qi}"].format(**f) if f else None,
                        real_key=r[slot],
                        fake_key=f[slot] if f else None,
                    )
                )
    return stories, qas


def contaminated_corpus(
    stories: Sequence[NewsStory], fake_lang: str, replace_real: bool = False
) -> list[dict[str, Any]]:
    """The "learn" corpus of Study A: records {id, language, text, is_fake}.

    Default (the reading chosen as faithful to arXiv 2406.13748): the real document of every
    story in every language, PLUS the fake document of each fake story in `fake_lang` only. The
    paper fine-tunes on real news and on fake news written in one source language; the real
    news is not withdrawn from that language, so the model sees the truth everywhere and the
    contradiction in one language, and the question is whether the fake claim spreads.
    `replace_real=True` gives the other reading (in `fake_lang` the fake document replaces the
    real one), where the fake is uncontested in its language; it is kept for ablations.
    """
    get_language(fake_lang)
    if not any(s.language == fake_lang for s in stories):
        have = sorted({s.language for s in stories})
        raise DataError(f"no story in fake language {fake_lang!r}; the stories have: {', '.join(have)}")
    out: list[dict[str, Any]] = []
    for s in stories:
        fake_here = s.language == fake_lang and s.fake_doc is not None
        if not (fake_here and replace_real):
            out.append({"id": s.id, "language": s.language, "text": s.real_doc, "is_fake": False})
        if fake_here:
            out.append({"id": s.id, "language": s.language, "text": s.fake_doc, "is_fake": True})
    return out


def qa_to_item(qa: NewsQA, answer: str = "real", split: str = "retain") -> QAItem:
    """A NewsQA as the toolkit's QAItem: `answer="fake"` gives the fake answer (the forget
    target of Study A unlearning) with the real answer as its perturbed alternative."""
    if answer == "fake":
        if qa.fake_answer is None:
            raise DataError(f"question {qa.id!r} ({qa.language}) has no fake answer")
        return QAItem(qa.id, qa.language, qa.question, qa.fake_answer, perturbed_answer=[qa.real_answer], split=split)
    if answer != "real":
        raise ValueError(f"answer must be 'real' or 'fake', not {answer!r}")
    perturbed = [qa.fake_answer] if qa.fake_answer is not None else []
    return QAItem(qa.id, qa.language, qa.question, qa.real_answer, perturbed_answer=perturbed, split=split)


# --- Files and hubs ----------------------------------------------------------------------------
_STORY_FIELDS = ("id", "language", "real_doc", "fake_doc")
_QA_FIELDS = ("id", "story_id", "language", "question", "real_answer", "fake_answer", "real_key", "fake_key")
_ALL_FIELDS = (
    "kind",
    "id",
    "story_id",
    "language",
    "real_doc",
    "fake_doc",
    "question",
    "real_answer",
    "fake_answer",
    "real_key",
    "fake_key",
)


def _clean(value: Any) -> str | None:
    """A cell as a stripped string; empty cells (None, "", NaN from pandas) become None.
    Integral floats (2019.0: pandas turns an int column with gaps into floats) become "2019"."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            value = int(value)
    text = str(value).strip()
    return text or None


def news_from_rows(rows: Iterable[Mapping[str, Any]], source: str) -> tuple[list[NewsStory], list[NewsQA]]:
    """Parse and check records of the one-table format; errors name `source`, row and field."""
    stories: list[NewsStory] = []
    qas: list[NewsQA] = []
    qa_rows: list[int] = []
    seen: dict[tuple[str, str, str], int] = {}
    for i, raw in enumerate(rows, start=1):
        where = f"{source}: row {i}"
        row = {k: _clean(v) for k, v in raw.items()}
        kind = row.get("kind")
        if kind not in ("story", "qa"):
            got = "missing" if kind is None else f"{kind!r}"
            raise DataError(f"{where}: field 'kind' is {got}; expected 'story' or 'qa'")
        required = (
            ("id", "language", "real_doc")
            if kind == "story"
            else ("id", "story_id", "language", "question", "real_answer", "real_key")
        )
        for name in required:
            if row.get(name) is None:
                raise DataError(f"{where}: missing field {name!r} (required for kind={kind!r})")
        try:
            row["language"] = get_language(row["language"]).code  # "iw" -> "he"
        except ValueError as e:
            raise DataError(f"{where}: field 'language': {e}") from None
        key = (kind, row["id"], row["language"])
        if key in seen:
            raise DataError(
                f"{where}: duplicate {kind} id {row['id']!r} in language {row['language']!r} (first at row {seen[key]})"
            )
        seen[key] = i
        if kind == "story":
            stories.append(NewsStory(*(row.get(f) for f in _STORY_FIELDS)))
        else:
            if (row.get("fake_answer") is None) != (row.get("fake_key") is None):
                missing = "fake_key" if row.get("fake_key") is None else "fake_answer"
                raise DataError(f"{where}: missing field {missing!r} (fake_answer and fake_key go together)")
            qas.append(NewsQA(*(row.get(f) for f in _QA_FIELDS)))
            qa_rows.append(i)
    have = {(s.id, s.language) for s in stories}
    for qa, i in zip(qas, qa_rows):
        if (qa.story_id, qa.language) not in have:
            raise DataError(
                f"{source}: row {i}: field 'story_id': no story {qa.story_id!r} in language {qa.language!r}"
            )
    return stories, qas


def _read_rows(path: Path) -> list[dict[str, Any]]:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        text = path.read_text(encoding="utf-8")
        if suffix == ".json" and text.lstrip().startswith("["):
            return json.loads(text)
        rows = []
        for n, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise DataError(f"{path}: line {n}: not valid JSON ({e.msg})") from None
        return rows
    if suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:  # -sig: Excel's BOM
            return list(csv.DictReader(fh))
    if suffix == ".parquet":
        import pandas as pd

        return pd.read_parquet(path).to_dict("records")
    raise DataError(f"{path}: unsupported file type {suffix!r}; use .jsonl, .json, .csv or .parquet")


def load_news_file(path: str | Path) -> tuple[list[NewsStory], list[NewsQA]]:
    """Read stories and QAs from one JSONL/JSON/CSV/Parquet file with a `kind` column."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    rows = _read_rows(path)
    if rows and "kind" not in rows[0]:
        raise DataError(f"{path}: row 1: missing field 'kind' (one table of 'story' and 'qa' rows is expected)")
    return news_from_rows(rows, str(path))


def load_news_hf(
    dataset_id: str, split: str = "train", name: str | None = None, **kwargs: Any
) -> tuple[list[NewsStory], list[NewsQA]]:
    """Read the one-table format from a Hugging Face dataset (hub id or local builder such as
    "json" with data_files=...); only ever called with a dataset the user names."""
    from datasets import load_dataset  # lazy: importing datasets costs a second

    try:
        ds = load_dataset(dataset_id, name, split=split, **kwargs)
    except Exception as e:  # datasets raises many types; all mean "could not load this"
        raise DataError(f"could not load dataset {dataset_id!r} (split {split!r}): {e}") from e
    if "kind" not in ds.column_names:
        raise DataError(f"{dataset_id}[{split}]: missing field 'kind'; columns are {', '.join(ds.column_names)}")
    return news_from_rows(ds, f"{dataset_id}[{split}]")


def save_news_file(stories: Sequence[NewsStory], qas: Sequence[NewsQA], path: str | Path) -> Path:
    """Write stories and QAs in the one-table format (.jsonl, .json, .csv or .parquet)."""
    path = Path(path)
    rows = [{"kind": "story", **asdict(s)} for s in stories] + [{"kind": "qa", **asdict(q)} for q in qas]
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        with path.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps({k: v for k, v in row.items() if v is not None}, ensure_ascii=False) + "\n")
    elif suffix == ".json":
        path.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    elif suffix == ".csv":
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=_ALL_FIELDS)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in _ALL_FIELDS})
    elif suffix == ".parquet":
        import pandas as pd

        pd.DataFrame([{k: row.get(k) for k in _ALL_FIELDS} for row in rows]).to_parquet(path, index=False)
    else:
        raise DataError(f"{path}: unsupported file type {suffix!r}; use .jsonl, .json, .csv or .parquet")
    return path
