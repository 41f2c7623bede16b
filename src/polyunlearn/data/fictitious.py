"""The bundled fictitious-facts benchmark (Study B data unlearning) in the TOFU format, for every
language of `polyunlearn.core.languages`, generated from the templates in the package data
`polyunlearn/data/text/fictitious/` (one JSON file per language plus shared.json; text/README.md
says how the templates stay grammatical with any name and value).

    from polyunlearn.data.fictitious import bundled_benchmark
    items = bundled_benchmark(["en", "ja"])   # 120 QAItems per language

Contents (the same in every language, item k is the same fact with the same `id`):
- "fact-000".."fact-099": 20 invented kingdoms x 5 facts (capital city, founding year, main
  export, flag colour, symbolic animal). The 5 facts of the last 2 kingdoms ("fact-090".."099",
  10% of the facts) are split "forget", the rest "retain".
- "general-000".."general-009": real world knowledge (split "general"), for Model Utility.
- "holdout-000".."holdout-009": 2 more kingdoms x 5 facts, built exactly like the forget facts
  but never trained on (split "holdout"; `pipeline/phases.learn` skips them): the non-members of
  the membership-inference AUC (forget vs holdout), as TOFU's holdout10.

Every item has an `answer` and a `paraphrased_answer` (same fact, other wording) and exactly 3
`perturbed_answer`s: the paraphrase frame with 3 other values of the same type.

Generation is deterministic: one `random.Random(SEED)` draws the names and values once, in a
language-independent plan; languages only render that plan, which is what makes the data
parallel. Names are built from a small syllable inventory and transliterated per script, so
"Kalomir" is Каломир, Կալոմիր, كالومير, קאלומיר, कालोमीर, カロミル, 카로미르, 卡洛米尔.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from polyunlearn.core.languages import LANGUAGES, UnknownLanguageError, get_language
from polyunlearn.data.bundled_text import read_languages, read_shared
from polyunlearn.data.schema import QAItem

# --- Text tables (package data; see polyunlearn.data.bundled_text) ------------------------------
_SHARED = read_shared("fictitious")
# A kingdom is ONSET ONSET CODA (Ka-lo-mir), a capital ONSET CODA FINAL (Ta-ran-lo).
ONSETS: tuple[str, ...] = tuple(_SHARED["onsets"])
CODAS: tuple[str, ...] = tuple(_SHARED["codas"])
# Word-final syllables of capitals: no "e" vowel (no agreed spelling in Hebrew and Arabic script).
FINALS: tuple[str, ...] = tuple(s for s in ONSETS if not s.endswith("e"))
NAME_BLACKLIST: tuple[str, ...] = tuple(_SHARED["name_blacklist"])
SYLLABLES: dict[str, dict[str, str]] = _SHARED["syllables"]
HEBREW_FINAL_FORMS: dict[str, str] = _SHARED["hebrew_final_forms"]
FACT_TYPES: tuple[str, ...] = tuple(_SHARED["fact_types"])
# Canonical (English) keys of the vocabularies, in draw order: the plan draws from these tuples.
VOCABULARY: dict[str, tuple[str, ...]] = {kind: tuple(keys) for kind, keys in _SHARED["vocabulary"].items()}
GENERAL_KEYS: tuple[str, ...] = tuple(_SHARED["general_keys"])
# Per language: script, facts {kind: {question, answer, paraphrase}}, one vocabulary per kind
# ({key: word}) and general {key: {question, answer, paraphrase, values: [right, 3 wrong]}}.
TEXT: dict[str, dict[str, Any]] = read_languages("fictitious", _SHARED["languages"])

SEED = 20240611  # changing it changes every name and value: the benchmark is pinned by it
N_ENTITIES = 20
N_FORGET_ENTITIES = 2  # the last ones: 2 x 5 = 10 facts = 10% (TOFU's "forget10")
N_HOLDOUT_ENTITIES = 2  # after those, never learned: as many facts as the forget split
N_PERTURBED = 3
YEARS = range(1150, 1900)  # founding years: old enough to read as history, 4 digits everywhere

# The table order of polyunlearn.core.languages, restricted to languages with bundled text.
BUNDLED_LANGUAGES: tuple[str, ...] = tuple(code for code in LANGUAGES if code in TEXT)

Name = tuple[str, ...]  # a name as its syllables, e.g. ("ka", "lo", "mir")
Value = int | str  # capital index, founding year, or a vocabulary key


@dataclass(frozen=True)
class _Fact:
    """One fact of the language-independent plan."""

    entity: int
    kind: str  # one of FACT_TYPES
    value: Value
    wrong: tuple[Value, ...]  # N_PERTURBED other values of the same kind


@dataclass(frozen=True)
class _Plan:
    kingdoms: tuple[Name, ...]
    capitals: tuple[Name, ...]
    facts: tuple[_Fact, ...]


# --------------------------------------------------------------------------------------- names
def render_name(syllables: Name, script: str) -> str:
    """Spell a name (its syllables) in a script of SYLLABLES ("latn", "hebr", "hans", ...)."""
    table = SYLLABLES[script]
    text = "".join(table[s] for s in syllables)
    if script == "hebr" and text[-1] in HEBREW_FINAL_FORMS:
        # Hebrew has word-final letter forms; the table stores medial forms only.
        text = text[:-1] + HEBREW_FINAL_FORMS[text[-1]]
    # Capitalise for cased scripts (Latin, Cyrillic, Armenian); a no-op for the others.
    return text[:1].upper() + text[1:]


def _draw_names(
    rng: random.Random,
    pools: tuple[tuple[str, ...], ...],
    n: int,
    seen: dict[str, set[str]],
    prefixes: set[tuple[str, str]],
) -> list[Name]:
    """Draw `n` names, one syllable per pool, distinct in every script from all in `seen`.

    Distinctness is checked per script because a transliteration can merge two Latin names
    (Japanese has one r/l); a merged pair would make two facts contradict each other.
    """
    names: list[Name] = []
    # At most this many uses of one syllable per position, so that not half of the kingdoms
    # end in "-mir": varied endings give a small model more to tell names apart by.
    caps = [-(-n // len(pool)) + 1 for pool in pools]
    while len(names) < n:
        name = tuple(rng.choice(pool) for pool in pools)
        if len(set(name)) < len(name) or any(a[0] == b[0] for a, b in zip(name, name[1:])):
            continue  # "Ritunri"/"Kakor"/"Lelo"-style repeats read as stutter
        if "".join(name) in NAME_BLACKLIST:
            continue  # real words somewhere
        if any(sum(other[i] == s for other in names) >= caps[i] for i, s in enumerate(name)):
            continue
        if name[:2] in prefixes or (name[0], name[-1]) in prefixes:
            continue  # names sharing a beginning or a frame ("Du-mir-so"/"Du-mir-ta") blur together
        spelled = {script: render_name(name, script) for script in SYLLABLES}
        if any(spelled[script] in seen[script] for script in SYLLABLES):
            continue
        for script, text in spelled.items():
            seen[script].add(text)
        prefixes.update({name[:2], (name[0], name[-1])})
        names.append(name)
    return names


def _wrong(rng: random.Random, pool: tuple[Value, ...] | list[Value], right: Value) -> tuple[Value, ...]:
    """N_PERTURBED distinct values of `pool`, none equal to `right` (pool order is fixed, so
    the draw is reproducible)."""
    return tuple(rng.sample([x for x in pool if x != right], N_PERTURBED))


@lru_cache(maxsize=1)
def _plan() -> _Plan:
    """The language-independent benchmark: names, true values and wrong values per fact."""
    rng = random.Random(SEED)
    seen: dict[str, set[str]] = {script: set() for script in SYLLABLES}
    prefixes: set[tuple[str, str]] = set()
    kingdoms = _draw_names(rng, (ONSETS, ONSETS, CODAS), N_ENTITIES, seen, prefixes)
    capitals = _draw_names(rng, (ONSETS, CODAS, FINALS), N_ENTITIES, seen, prefixes)
    years = rng.sample(YEARS, N_ENTITIES)  # distinct: no two kingdoms share a founding year
    capital_ids = tuple(range(N_ENTITIES))
    facts = _draw_facts(rng, range(N_ENTITIES), years, capital_ids)
    # The holdout kingdoms are drawn after everything else, so adding them left the names and
    # values of the 100 trained-on facts exactly as they were.
    n_all = N_ENTITIES + N_HOLDOUT_ENTITIES
    kingdoms += _draw_names(rng, (ONSETS, ONSETS, CODAS), N_HOLDOUT_ENTITIES, seen, prefixes)
    capitals += _draw_names(rng, (ONSETS, CODAS, FINALS), N_HOLDOUT_ENTITIES, seen, prefixes)
    years += rng.sample([y for y in YEARS if y not in years], N_HOLDOUT_ENTITIES)
    facts += _draw_facts(rng, range(N_ENTITIES, n_all), years, tuple(range(n_all)))
    return _Plan(tuple(kingdoms), tuple(capitals), tuple(facts))


def _draw_facts(rng: random.Random, entities: range, years: list[int], capital_ids: tuple[int, ...]) -> list[_Fact]:
    """The true and wrong values of every fact of `entities`, in plan order."""
    facts: list[_Fact] = []
    for e in entities:
        for kind in FACT_TYPES:
            if kind == "capital":
                value: Value = e
                wrong = _wrong(rng, capital_ids, e)
            elif kind == "founded":
                value = years[e]
                wrong = tuple(rng.sample([y for y in YEARS if y != value], N_PERTURBED))
            else:
                vocab = VOCABULARY[kind]
                value = rng.choice(vocab)
                wrong = _wrong(rng, vocab, value)
            facts.append(_Fact(e, kind, value, wrong))
    return facts


def entity_names(language: str) -> list[str]:
    """The 22 kingdom names as written in `language` (index = entity; fact k is about entity
    k // 5, holdout fact k about entity 20 + k // 5). Handy for checks and reports."""
    script = TEXT[_check(language)]["script"]
    return [render_name(name, script) for name in _plan().kingdoms]


def forget_entities() -> list[int]:
    """Indices of the kingdoms whose facts form the forget split."""
    return list(range(N_ENTITIES - N_FORGET_ENTITIES, N_ENTITIES))


def holdout_entities() -> list[int]:
    """Indices of the kingdoms whose facts form the holdout split (never trained on)."""
    return list(range(N_ENTITIES, N_ENTITIES + N_HOLDOUT_ENTITIES))


# -------------------------------------------------------------------------------------- render
def _sentence(template: str, **slots: str) -> str:
    # Values may open a sentence ("der Löwe gilt ..." / "l'aigle est ..."): capitalise the first
    # letter; str.upper is a no-op for caseless scripts.
    text = template.format(**slots)
    return text[:1].upper() + text[1:]


def _value_text(language: str, plan: _Plan, kind: str, value: Value) -> str:
    text = TEXT[language]
    if kind == "capital":
        return render_name(plan.capitals[int(value)], text["script"])
    if kind == "founded":
        return str(value)  # Western digits in every language
    return text[kind][value]


def _fact_items(language: str, plan: _Plan) -> list[QAItem]:
    text = TEXT[language]
    forget, holdout = set(forget_entities()), set(holdout_entities())
    items: list[QAItem] = []
    for k, fact in enumerate(plan.facts):
        held_out = fact.entity in holdout
        frame = text["facts"][fact.kind]
        q, a, p = frame["question"], frame["answer"], frame["paraphrase"]
        e = render_name(plan.kingdoms[fact.entity], text["script"])
        v = _value_text(language, plan, fact.kind, fact.value)
        items.append(
            QAItem(
                id=f"holdout-{k - N_ENTITIES * len(FACT_TYPES):03d}" if held_out else f"fact-{k:03d}",
                language=language,
                question=_sentence(q, e=e, v=v),
                answer=_sentence(a, e=e, v=v),
                paraphrased_answer=_sentence(p, e=e, v=v),
                perturbed_answer=[_sentence(p, e=e, v=_value_text(language, plan, fact.kind, w)) for w in fact.wrong],
                split="holdout" if held_out else "forget" if fact.entity in forget else "retain",
            )
        )
    return items


def _general_items(language: str) -> list[QAItem]:
    table = TEXT[language]["general"]
    items: list[QAItem] = []
    for j, key in enumerate(GENERAL_KEYS):
        entry = table[key]
        q, a, p = entry["question"], entry["answer"], entry["paraphrase"]
        right, *wrong = entry["values"]
        items.append(
            QAItem(
                id=f"general-{j:03d}",
                language=language,
                question=_sentence(q),
                answer=_sentence(a, v=right),
                paraphrased_answer=_sentence(p, v=right),
                perturbed_answer=[_sentence(p, v=w) for w in wrong],
                split="general",
            )
        )
    return items


def _check(language: str) -> str:
    """`language` if it has bundled text; UnknownLanguageError (naming it) otherwise."""
    get_language(language)  # unknown code: the table's own error message
    if language not in TEXT:
        raise UnknownLanguageError(
            f"language {language!r} has no bundled fictitious-facts text; bundled: {', '.join(BUNDLED_LANGUAGES)}"
        )
    entry = TEXT[language]
    missing = [k for k in FACT_TYPES if k not in entry["facts"]]
    missing += [f"{kind}:{key}" for kind, keys in VOCABULARY.items() for key in keys if key not in entry[kind]]
    missing += [f"general:{key}" for key in GENERAL_KEYS if key not in entry["general"]]
    if missing:  # a half-added language must fail loudly, not produce ragged parallel data
        raise KeyError(f"bundled text for {language!r} lacks: {', '.join(missing)}")
    return language


def _alternate_value(k: int, fact: _Fact) -> Value:
    """A plausible wrong value for fact k, other than the true one and the 3 perturbed ones (the
    Truth Ratio's wrong answers, which training must not make likely): drawn from the same pool
    with its own seeded generator, so adding it left the benchmark's draws as they were."""
    rng = random.Random(f"{SEED}-alternate-{k}")
    taken = {fact.value, *fact.wrong}
    if fact.kind == "capital":
        pool: list[Value] = [c for c in range(N_ENTITIES) if c not in taken]  # never a holdout capital
    elif fact.kind == "founded":
        pool = [y for y in YEARS if y not in taken]
    else:
        pool = [v for v in VOCABULARY[fact.kind] if v not in taken]
    return rng.choice(pool)


def bundled_alternates(languages: list[str] | None = None) -> dict[tuple[str, str], str]:
    """Alternate answers for the forget facts of the bundled benchmark, for AltPO: {(id, language):
    the answer sentence with another value of the same type}, e.g. "The capital of the Kingdom of
    Misoran is the city of Tamirlo." The value differs from the true one and from every perturbed
    answer's, and is the same in every language (parallel, like the benchmark)."""
    codes = list(BUNDLED_LANGUAGES) if languages is None else list(dict.fromkeys(languages))
    plan = _plan()
    forget = set(forget_entities())
    out: dict[tuple[str, str], str] = {}
    for code in codes:
        text = TEXT[_check(code)]
        for k, fact in enumerate(plan.facts):
            if fact.entity not in forget:
                continue
            a = text["facts"][fact.kind]["answer"]
            e = render_name(plan.kingdoms[fact.entity], text["script"])
            out[(f"fact-{k:03d}", code)] = _sentence(
                a, e=e, v=_value_text(code, plan, fact.kind, _alternate_value(k, fact))
            )
    return out


def bundled_benchmark(languages: list[str] | None = None) -> list[QAItem]:
    """The bundled benchmark in `languages` (None: all of BUNDLED_LANGUAGES), as fresh QAItems
    ordered by language (in the order given) then id. An unknown code raises
    polyunlearn.core.languages.UnknownLanguageError."""
    codes = list(BUNDLED_LANGUAGES) if languages is None else list(dict.fromkeys(languages))
    for code in codes:
        _check(code)
    plan = _plan()
    items: list[QAItem] = []
    for code in codes:
        per_language = _fact_items(code, plan) + _general_items(code)
        items.extend(sorted(per_language, key=lambda item: item.id))
    return items
