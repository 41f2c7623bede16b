"""Pure evaluation metrics of polyunlearn (spec.md, section "Metrics").

Everything here works on plain floats, strings and lists: no model, no torch. The evaluation
code computes per-item mean NLLs / greedy answers with a model and hands them to these
functions; every per-item record carries its "language" (and "id"), and the aggregation
helpers at the bottom turn records into per-language numbers.

Contents: the Unicode-aware ROUGE-L recall, Prob, Truth Ratio and its reported score,
normalized prob (general-knowledge sets), Forget Quality (KS test), Model Utility (harmonic
mean) and per-language aggregation. Membership-inference attacks (Min-K%, zlib, AUC) live in
`polyunlearn.evaluation.mia` and are re-exported here.
"""
from __future__ import annotations

import math
import numbers
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from scipy import stats

from polyunlearn.core.languages import get_language
from polyunlearn.evaluation.mia import auc, min_k_percent, zlib_ratio

__all__ = [
    "UnicodeRougeTokenizer",
    "rouge_tokenize",
    "rouge_l_recall",
    "prob_from_mean_nll",
    "truth_ratio",
    "truth_ratio_score",
    "normalized_prob",
    "forget_quality",
    "harmonic_mean",
    "model_utility",
    "mean_by_language",
    "forget_quality_by_language",
    "min_k_percent",
    "zlib_ratio",
    "auc",
]

# math.exp overflows (OverflowError) above ~709.78; a ratio that large is "infinite" for us.
_MAX_EXP_ARG = 709.0
# Zero-width (non-)joiners sit *inside* words (Farsi "می‌خواهم", Hindi conjunct control) and
# are used inconsistently by people and models, so they neither split a word nor count in it.
_JOINERS = frozenset({"\u200c", "\u200d"})


# ----------------------------------------------------------------------------- ROUGE-L
def rouge_tokenize(text: str, language: str) -> list[str]:
    """Tokenize `text` for ROUGE in `language` (an ISO 639-1 code from languages.py).

    Tokenizer used, and why: rouge-score's DefaultTokenizer lowercases and then replaces every
    character outside [a-z0-9] by a space, so an Arabic, Japanese, Korean or Hindi answer has
    no tokens at all and scores ROUGE 0 whatever it says (spec.md, "Metrics"). Python's `\\w`
    is not enough either: it matches letters and digits but not combining marks, so it cuts
    Devanagari words at every vowel sign and virama ("भारत" -> "भ", "रत"). Instead:

    1. Normalize: NFKC (full-width -> ASCII, half-width katakana -> full-width, presentation
       forms -> base letters), casefold (a full case-insensitive lower(): "Straße" == "STRASSE"),
       then NFKC again because casefolding can leave a non-normalized string.
    2. Languages written with spaces (Language.spaces True): a token is a maximal run of
       Unicode letters, combining marks and digits (categories L*, M*, N*); everything else
       (spaces, punctuation, symbols) separates tokens. ZWNJ/ZWJ are dropped without splitting.
    3. Languages written without spaces (zh, ja): one token per letter/digit character (the
       usual character-level ROUGE for Chinese/Japanese, no segmenter needed); whitespace and
       punctuation are ignored; a combining mark stays with the character before it.
    """
    lang = get_language(language)  # unknown codes raise UnknownLanguageError naming the code
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    tokens: list[str] = []
    if lang.spaces:
        current: list[str] = []
        for ch in text:
            if unicodedata.category(ch)[0] in "LMN":
                current.append(ch)
            elif ch in _JOINERS:
                continue
            elif current:
                tokens.append("".join(current))
                current = []
        if current:
            tokens.append("".join(current))
    else:
        previous_was_token = False
        for ch in text:
            major = unicodedata.category(ch)[0]
            if major in "LN":
                tokens.append(ch)
                previous_was_token = True
            elif major == "M" and previous_was_token:
                tokens[-1] += ch
            else:
                previous_was_token = False
    return tokens


class UnicodeRougeTokenizer:
    """Adapter for `rouge_score.rouge_scorer.RougeScorer(tokenizer=...)`: it only needs a
    `.tokenize(text) -> list[str]` method; this one calls `rouge_tokenize` for one language."""

    def __init__(self, language: str) -> None:
        get_language(language)  # fail at construction, not at the first score
        self.language = language

    def tokenize(self, text: str) -> list[str]:
        return rouge_tokenize(text, self.language)


@lru_cache(maxsize=None)
def _rouge_scorer(language: str) -> Any:
    from rouge_score import rouge_scorer  # imported lazily: only ROUGE needs it

    return rouge_scorer.RougeScorer(["rougeL"], tokenizer=UnicodeRougeTokenizer(language))


def rouge_l_recall(prediction: str, reference: str, language: str) -> float:
    """ROUGE-L recall of the greedy answer against the gold answer (spec: "ROUGE-L recall of
    the greedy answer against the gold answer"): LCS(reference, prediction) / len(reference),
    counted in `rouge_tokenize` tokens. An empty reference or prediction gives 0.0 (as in
    rouge-score)."""
    return float(_rouge_scorer(language).score(reference, prediction)["rougeL"].recall)


# ----------------------------------------------------------------------------- probabilities
def _check_nll(value: float, name: str) -> float:
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} is NaN")
    # A mean NLL is >= 0 for any probability <= 1; a negative one almost always means a
    # log-probability was passed instead of a negative log-likelihood. Tiny slack for rounding.
    if value < -1e-6:
        raise ValueError(f"{name} must be a negative log-likelihood (>= 0), got {value}; "
                         "did you pass a log-probability?")
    return max(value, 0.0)


def _exp(x: float) -> float:
    return math.inf if x > _MAX_EXP_ARG else math.exp(x)


def prob_from_mean_nll(mean_nll: float) -> float:
    """Prob of one item (spec: "exp(-mean NLL of answer tokens given the question)"): the
    length-normalized answer probability P = exp(-mean NLL per answer token). Average it over
    items (e.g. with `mean_by_language`) for the reported Prob."""
    return math.exp(-_check_nll(mean_nll, "mean_nll"))


def truth_ratio(correct_mean_nll: float, perturbed_mean_nlls: Sequence[float]) -> float:
    """Truth ratio of one item (spec: "tr = P_wrong / P_correct, where P is the
    length-normalized answer probability and P_wrong is the geometric mean over perturbed
    answers").

    With P = exp(-mean NLL): log P_wrong = mean_i(-nll_i), so
    tr = exp(correct_mean_nll - mean(perturbed_mean_nlls)); computed in log space so that
    tiny probabilities do not underflow to 0/0. On forget/retain sets the "correct" answer is
    the paraphrased_answer (spec). Returns math.inf when the ratio overflows a float.
    """
    correct = _check_nll(correct_mean_nll, "correct_mean_nll")
    perturbed = [_check_nll(v, "perturbed_mean_nlls item") for v in perturbed_mean_nlls]
    if not perturbed:
        raise ValueError("perturbed_mean_nlls is empty: the truth ratio needs at least one perturbed answer")
    log_tr = correct - math.fsum(perturbed) / len(perturbed)
    if math.isnan(log_tr):  # inf - inf: both answers have probability 0
        raise ValueError("truth ratio undefined: correct and perturbed answers all have probability 0")
    return _exp(log_tr)


def truth_ratio_score(tr: float, on_forget: bool) -> float:
    """Reported per-item Truth Ratio score (spec: "mean(min(tr, 1/tr)) on forget and
    mean(max(0, 1 - tr)) elsewhere"); average the per-item scores over items.

    Forget set: min(tr, 1/tr) is 1 when the model cannot tell the true from the false answers
    (the goal of unlearning) and falls towards 0 when it prefers either. Elsewhere:
    max(0, 1 - tr) is high when the true answer is much more likely than the perturbed ones.
    """
    tr = float(tr)
    if math.isnan(tr) or tr < 0:
        raise ValueError(f"tr must be a ratio >= 0, got {tr}")
    if on_forget:
        if tr == 0.0 or math.isinf(tr):
            return 0.0
        return min(tr, 1.0 / tr)
    return max(0.0, 1.0 - tr)


def normalized_prob(correct_mean_nll: float, perturbed_mean_nlls: Sequence[float]) -> float:
    """Normalized prob of a general-knowledge item (spec: "p_true / sum p_all"):
    p_true / (p_true + sum_i p_perturbed_i), each p = exp(-mean NLL) (as TOFU does for its
    real-authors / world-facts sets). Computed as a softmax over -NLLs so it stays exact when
    every p underflows."""
    correct = _check_nll(correct_mean_nll, "correct_mean_nll")
    perturbed = [_check_nll(v, "perturbed_mean_nlls item") for v in perturbed_mean_nlls]
    if not perturbed:
        raise ValueError("perturbed_mean_nlls is empty: normalized prob needs at least one perturbed answer")
    logits = [-correct] + [-v for v in perturbed]
    top = max(logits)
    if math.isinf(top):  # every answer has probability 0
        raise ValueError("normalized prob undefined: every answer has probability 0")
    total = math.fsum(math.exp(x - top) for x in logits)
    return math.exp(logits[0] - top) / total


# ----------------------------------------------------------------------------- forget quality
def _finite_list(values: Iterable[float], name: str) -> list[float]:
    out = [float(v) for v in values]
    if not out:
        raise ValueError(f"{name} is empty")
    if any(math.isnan(v) for v in out):
        raise ValueError(f"{name} contains NaN")
    return out


def forget_quality(unlearned_tr: Sequence[float], retain_model_tr: Sequence[float]) -> float:
    """Forget Quality (spec: "p-value of a two-sample KS test between the forget-set truth
    ratios of the unlearned model and of a model trained without the forget set"): the
    two-sided `scipy.stats.ks_2samp` p-value (method "auto": exact for small samples). High
    (near 1) = indistinguishable from the retain model. Pass raw truth ratios `tr`, one per
    forget item, for one language."""
    a = _finite_list(unlearned_tr, "unlearned_tr")
    b = _finite_list(retain_model_tr, "retain_model_tr")
    return float(stats.ks_2samp(a, b, alternative="two-sided").pvalue)


# ----------------------------------------------------------------------------- model utility
def harmonic_mean(values: Iterable[float]) -> float:
    """Harmonic mean n / sum(1/v). A zero value gives 0.0 (its limit): one collapsed
    component zeroes Model Utility, which is what the harmonic mean is chosen for."""
    vals = _finite_list(values, "values")
    if any(v < 0 for v in vals):
        raise ValueError(f"values must be >= 0 for a harmonic mean, got {vals}")
    if any(v == 0 for v in vals):
        return 0.0
    return len(vals) / math.fsum(1.0 / v for v in vals)


def model_utility(
    retain_prob: float,
    retain_rouge: float,
    retain_truth_ratio: float,
    general: Sequence[float] | Sequence[Sequence[float]] | None = None,
) -> float:
    """Model Utility (spec: "harmonic mean of retain Prob, retain ROUGE, retain Truth Ratio
    (and, where a general-knowledge set exists, its normalized prob p_true / sum p_all, ROUGE
    and Truth Ratio)").

    All inputs are already averaged over items; the truth-ratio inputs are the reported scores
    (mean of max(0, 1 - tr)), not raw ratios. `general` is one (normalized_prob, rouge,
    truth_ratio_score) triple, or a list of such triples for several general sets (TOFU has
    two: real authors, world facts); each adds its three numbers to the harmonic mean.
    """
    components = [retain_prob, retain_rouge, retain_truth_ratio]
    if general is not None:
        triples = [general] if all(isinstance(x, numbers.Real) for x in general) else list(general)
        for triple in triples:
            if len(triple) != 3:
                raise ValueError(f"general must be (normalized_prob, rouge, truth_ratio_score) triples, got {triple!r}")
            components.extend(float(x) for x in triple)
    return harmonic_mean(components)


# ----------------------------------------------------------------------------- aggregation
def _record_label(record: Mapping[str, Any]) -> str:
    return repr(record.get("id", "<no id>"))


def _group_values(records: Iterable[Mapping[str, Any]], key: str, name: str) -> dict[str, list[float]]:
    groups: dict[str, list[float]] = {}
    seen_key = False
    for record in records:
        if "language" not in record:
            raise ValueError(f"{name}: record {_record_label(record)} has no 'language'")
        value = record.get(key)
        if value is None:
            continue  # records of another kind (e.g. no ROUGE computed) are skipped, not errors
        seen_key = True
        groups.setdefault(record["language"], []).append(float(value))
    if not seen_key:
        raise ValueError(f"{name}: no record has a value for key {key!r}")
    return groups


def mean_by_language(records: Iterable[Mapping[str, Any]], key: str) -> dict[str, float]:
    """Per-language mean of `record[key]` (spec: "per item, then per language"). Records
    without the key (or with None) are skipped, so mixed record lists aggregate fine; a key
    that no record has is an error (almost always a typo). Languages come out in
    first-appearance order; NaN values propagate to their language's mean."""
    groups = _group_values(records, key, "mean_by_language")
    return {lang: math.fsum(vals) / len(vals) for lang, vals in groups.items()}


def forget_quality_by_language(
    unlearned_records: Iterable[Mapping[str, Any]],
    retain_model_records: Iterable[Mapping[str, Any]],
    key: str = "truth_ratio",
) -> dict[str, float]:
    """Forget Quality per language (spec: "... per language"): `forget_quality` of the raw
    truth ratios `record[key]` of the unlearned model vs the retain model, for every language
    of `unlearned_records`. A language the retain-model records lack is an error naming it."""
    unlearned = _group_values(unlearned_records, key, "forget_quality_by_language (unlearned_records)")
    retained = _group_values(retain_model_records, key, "forget_quality_by_language (retain_model_records)")
    missing = [lang for lang in unlearned if lang not in retained]
    if missing:
        raise ValueError(f"retain_model_records have no {key!r} values for language(s) {', '.join(missing)}")
    return {lang: forget_quality(vals, retained[lang]) for lang, vals in unlearned.items()}
