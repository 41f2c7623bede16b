"""Language confusion and a script-robust answer score: which language a generated answer is
written in, and chrF beside ROUGE-L.

A model that answers a French question in English scores ROUGE-L near 0 against the French gold
answer, exactly like a model that forgot the fact (Hwang et al., arXiv 2510.23949): the plain
probe calls it forgotten although the fact may be there. So every generated answer gets the
language it is written in, from py3langid (a maintained fork of langid.py, Lui & Baldwin 2012:
a naive Bayes classifier over byte n-grams trained for 97 languages, all 16 of polyunlearn's
among them), and per language we report the share of answers in a wrong language, and ROUGE-L
over the answers written in the right one, so a wrong-language answer is counted apart from a
forgotten one.

Candidates: by default the identifier chooses among the evaluation's own languages
(`candidates`), not all 97: short answers about fictitious entities are otherwise often put in a
third language none of the run has ("Lekorma" reads as Latin), and the question here is whether
the model switched to another of the languages it knows. `identifier_accuracy` runs the same
identifier on the gold answers, so the report can say how far to trust it per language.

chrF (Popovic 2015; sacrebleu's sentence_chrf, character 6-grams, beta 2) needs no word
segmentation, so it scores Japanese, Chinese or Korean answers as it scores English ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

import pandas as pd

from polyunlearn.core.languages import get_language


@lru_cache(maxsize=32)
def _identifier(candidates: tuple[str, ...] | None):
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    if candidates is not None:
        unknown = sorted(set(candidates) - set(ident.labels))
        if unknown:
            raise ValueError(f"language identification: py3langid does not know {', '.join(unknown)}")
        ident.set_languages(list(candidates))
    return ident


def identify(text: str, candidates: Sequence[str] | None = None) -> tuple[str | None, float]:
    """(language code, probability) of `text`; (None, 0.0) for an empty answer (nothing to
    identify is not a language). `candidates`: codes to choose among (None = all 97)."""
    if not text or not text.strip():
        return None, 0.0
    cands = tuple(sorted(get_language(c).code for c in candidates)) if candidates is not None else None
    lang, prob = _identifier(cands).classify(text)
    return str(lang), float(prob)


def chrf(prediction: str, reference: str) -> float:
    """Sentence chrF of the answer against the gold answer, in [0, 1] (sacrebleu's score / 100)."""
    from sacrebleu.metrics import CHRF

    return float(_chrf_metric(CHRF).sentence_score(prediction or "", [reference]).score) / 100.0


@lru_cache(maxsize=1)
def _chrf_metric(cls):
    return cls()


def annotate(
    records: Sequence[dict],
    gold: Mapping[tuple[str, str], str],
    expected: Mapping[tuple[str, str], str] | None = None,
    candidates: Sequence[str] | None = None,
) -> list[dict]:
    """Add to every record with a generated answer: `answer_language`, `answer_language_prob`,
    `wrong_language` (1.0 / 0.0; None for an empty answer) and `chrf` against `gold[(id, language)]`.
    `expected` maps a record to the language its answer should be in (default its own)."""
    out = []
    for r in records:
        r = dict(r)
        key = (r["id"], r["language"])
        text = r.get("generated")
        if text is not None:
            lang, prob = identify(text, candidates)
            want = (expected or {}).get(key, r["language"])
            r["answer_language"], r["answer_language_prob"] = lang, prob
            r["wrong_language"] = None if lang is None else float(lang != want)
            r["chrf"] = chrf(text, gold[key])
        out.append(r)
    return out


def confusion_summary(records: Sequence[dict], split: str = "forget") -> pd.DataFrame:
    """Per language: n answers, share in a wrong language, mean ROUGE-L and chrF over all answers
    and over the answers in the right language only (what ROUGE says about the fact once the
    language switches are set apart)."""
    df = pd.DataFrame(list(records))
    rows = []
    if df.empty or "wrong_language" not in df:
        return pd.DataFrame(rows)
    for lang, g in df[df["split"] == split].groupby("language", sort=False):
        g = g[g["wrong_language"].notna()]
        right = g[g["wrong_language"] == 0.0]
        rows.append(
            {
                "language": lang,
                "n": len(g),
                "wrong_language_share": float(g["wrong_language"].mean()) if len(g) else float("nan"),
                "rouge_l": _mean(g, "rouge_l"),
                "rouge_l_right_language": _mean(right, "rouge_l"),
                "chrf": _mean(g, "chrf"),
                "chrf_right_language": _mean(right, "chrf"),
            }
        )
    return pd.DataFrame(rows)


def _mean(df: pd.DataFrame, col: str) -> float:
    return float(df[col].mean()) if col in df and len(df) and df[col].notna().any() else float("nan")


def identifier_accuracy(texts: Iterable[tuple[str, str]], candidates: Sequence[str] | None = None) -> dict[str, float]:
    """Per language, the share of (language, text) pairs (e.g. the gold answers) the identifier
    puts in their own language: how far its verdict on generated answers can be trusted."""
    hits: dict[str, list[bool]] = {}
    for lang, text in texts:
        hits.setdefault(lang, []).append(identify(text, candidates)[0] == lang)
    return {lang: sum(v) / len(v) for lang, v in hits.items()}
