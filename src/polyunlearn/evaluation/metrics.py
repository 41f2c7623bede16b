"""Pure evaluation metrics of polyunlearn (spec.md, section "Metrics").

Everything here works on plain floats, strings and lists: no model, no torch. The evaluation
code computes per-item mean NLLs / greedy answers with a model and hands them to these
functions; every per-item record carries its "language" (and "id").

Contents: ROUGE-L recall and F1 (rouge-score with its Porter stemmer for English, exactly as
TOFU and open-unlearning; a Unicode-aware tokenizer for every other language), Prob, Truth
Ratio and its reported score, normalized prob (general-knowledge sets), Forget Quality (KS
test), Model Utility (harmonic mean), Exact Memorization and Extraction Strength.
Per-language aggregation is `polyunlearn.evaluation.records.summarize`. Membership-inference
attacks (Min-K%, Min-K%++, zlib, AUC, PrivLeak) live in `polyunlearn.evaluation.mia` and are
re-exported here.
"""

from __future__ import annotations

import math
import numbers
import unicodedata
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from scipy import stats

from polyunlearn.core.languages import get_language
from polyunlearn.evaluation.mia import auc, min_k_percent, min_k_plus_plus, privleak, zlib_ratio

__all__ = [
    "UnicodeRougeTokenizer",
    "auc",
    "exact_memorization",
    "extraction_strength",
    "forget_quality",
    "harmonic_mean",
    "min_k_percent",
    "min_k_plus_plus",
    "model_utility",
    "normalized_prob",
    "privleak",
    "prob_from_mean_nll",
    "rouge_l_f1",
    "rouge_l_recall",
    "rouge_tokenize",
    "truth_ratio",
    "truth_ratio_score",
    "zlib_ratio",
]

# math.exp overflows (OverflowError) above ~709.78; a ratio that large is "infinite" for us.
_MAX_EXP_ARG = 709.0
# Zero-width (non-)joiners sit *inside* words (Farsi "می‌خواهم", Hindi conjunct control) and
# are used inconsistently by people and models, so they neither split a word nor count in it.
_JOINERS = frozenset({"\u200c", "\u200d"})


# ----------------------------------------------------------------------------- ROUGE-L
def rouge_tokenize(text: str, language: str) -> list[str]:
    """Tokenize `text` for ROUGE in `language` (an ISO 639-1 code from languages.py); used for
    every language but English, which is scored exactly as TOFU does (see `rouge_l_recall`).

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


# Languages scored with rouge-score's own tokenizer and Porter stemmer, as TOFU (utils.py,
# eval_rouge_recall) and open-unlearning (eval_text_similarity) score their English data.
# Passing a custom tokenizer to RougeScorer switches its stemmer off, so English must not get one.
STEMMED = frozenset({"en"})


@cache
def _rouge_scorer(language: str) -> Any:
    from rouge_score import rouge_scorer  # imported lazily: only ROUGE needs it

    if language in STEMMED:
        return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return rouge_scorer.RougeScorer(["rougeL"], tokenizer=UnicodeRougeTokenizer(language))


def _rouge_l(prediction: str, reference: str, language: str) -> Any:
    get_language(language)  # unknown codes raise UnknownLanguageError naming the code
    return _rouge_scorer(language).score(reference, prediction)["rougeL"]


def rouge_l_recall(prediction: str, reference: str, language: str) -> float:
    """ROUGE-L recall of the greedy answer against the gold answer (spec: "ROUGE-L recall of
    the greedy answer against the gold answer"): LCS(reference, prediction) / len(reference).
    English: exactly rouge-score's `RougeScorer(["rougeL"], use_stemmer=True)` (its tokenizer
    lowercases, keeps [a-z0-9] runs and Porter-stems them), as TOFU and open-unlearning report
    it. Every other language: counted in `rouge_tokenize` tokens (rouge-score's tokenizer would
    delete the whole text). An empty reference or prediction gives 0.0 (as in rouge-score)."""
    return float(_rouge_l(prediction, reference, language).recall)


def rouge_l_f1(prediction: str, reference: str, language: str) -> float:
    """ROUGE-L F1 (harmonic mean of LCS precision and recall), tokenized as `rouge_l_recall`:
    the score of MUSE's knowledge- and verbatim-memorization metrics (open-unlearning's
    `rouge_type: rougeL_f1`; MUSE's own code scores English without the stemmer)."""
    return float(_rouge_l(prediction, reference, language).fmeasure)


# ----------------------------------------------------------------------------- probabilities
def _check_nll(value: float, name: str) -> float:
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} is NaN")
    # A mean NLL is >= 0 for any probability <= 1; a negative one almost always means a
    # log-probability was passed instead of a negative log-likelihood. Tiny slack for rounding.
    if value < -1e-6:
        raise ValueError(
            f"{name} must be a negative log-likelihood (>= 0), got {value}; did you pass a log-probability?"
        )
    return max(value, 0.0)


def _exp(x: float) -> float:
    return math.inf if x > _MAX_EXP_ARG else math.exp(x)


def prob_from_mean_nll(mean_nll: float) -> float:
    """Prob of one item (spec: "exp(-mean NLL of answer tokens given the question)"): the
    length-normalized answer probability P = exp(-mean NLL per answer token). Average it over
    items (records.summarize does, per language and split) for the reported Prob."""
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


# ----------------------------------------------------------------------------- memorization
def exact_memorization(top1: Sequence[bool]) -> float:
    """Exact Memorization (Tirumala et al. 2022; open-unlearning `exact_memorization`): the
    share of answer tokens (EOS excluded, `Score.content`) that are the model's argmax
    prediction given the question and the gold answer before them (teacher forcing)."""
    flags = [bool(x) for x in top1]
    if not flags:
        raise ValueError("top1 is empty: exact memorization needs at least one answer token")
    return sum(flags) / len(flags)


def extraction_strength(top1: Sequence[bool]) -> float:
    """Extraction Strength (Carlini et al. 2021 as open-unlearning's `extraction_strength`
    computes it): 1 - k / n, where n is the number of answer tokens (EOS excluded) and k the
    first position from which every argmax prediction matches the gold answer (teacher
    forcing), i.e. how short a gold prefix the model needs to produce the rest by itself.
    As in open-unlearning, k is searched over 0..n-1 and falls through at n-1, so an item
    whose last token is mispredicted too scores 1/n, not 0 (kept for parity; the metric
    table says so)."""
    flags = [bool(x) for x in top1]
    n = len(flags)
    if n == 0:
        raise ValueError("top1 is empty: extraction strength needs at least one answer token")
    run = 0  # length of the all-correct suffix
    while run < n and flags[n - 1 - run]:
        run += 1
    k = n - run if run else n - 1
    return 1.0 - k / n
