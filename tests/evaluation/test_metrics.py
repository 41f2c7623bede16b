"""Tests of polyunlearn.evaluation.metrics / metrics_mia: every expected number is worked out by hand in
the comments next to it (spec.md, section "Metrics")."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest
from rouge_score import rouge_scorer

from polyunlearn.core.languages import UnknownLanguageError
from polyunlearn.evaluation.metrics import (
    UnicodeRougeTokenizer,
    auc,
    forget_quality,
    harmonic_mean,
    min_k_percent,
    model_utility,
    normalized_prob,
    prob_from_mean_nll,
    rouge_l_recall,
    rouge_tokenize,
    truth_ratio,
    truth_ratio_score,
    zlib_ratio,
)


# --------------------------------------------------------------------------- tokenizer
def test_tokenize_english_casefold_and_punctuation():
    # "The Eiffel Tower is in Paris, France." -> lower-cased words, "," and "." dropped
    assert rouge_tokenize("The Eiffel Tower is in Paris, France.", "en") == [
        "the",
        "eiffel",
        "tower",
        "is",
        "in",
        "paris",
        "france",
    ]


def test_tokenize_nfkc_and_full_casefold():
    # NFKC: full-width "ＰＡＲＩＳ" -> "PARIS"; casefold: "ß" -> "ss" (lower() would keep "ß")
    assert rouge_tokenize("Straße ＰＡＲＩＳ", "de") == ["strasse", "paris"]
    assert rouge_tokenize("STRASSE paris", "de") == ["strasse", "paris"]


def test_tokenize_hindi_keeps_combining_marks():
    # Devanagari vowel signs (ी U+0940 Mc, ा U+093E Mc) and the virama (् U+094D Mn) stay in
    # their word; Python's plain \w would cut "भारत" into "भ", "रत".
    tokens = rouge_tokenize("भारत की राजधानी नई दिल्ली है।", "hi")  # "।" (danda) is punctuation
    assert tokens == ["भारत", "की", "राजधानी", "नई", "दिल्ली", "है"]
    assert "\u0940" in tokens[1]  # की = क + ी


def test_tokenize_chinese_and_japanese_are_characters():
    # 8 hanzi, the full stop "。" dropped
    assert rouge_tokenize("埃菲尔铁塔在巴黎。", "zh") == list("埃菲尔铁塔在巴黎")
    # whitespace ignored too; NFKC turns half-width katakana "ｶﾀｶﾅ" into full-width "カタカナ"
    assert rouge_tokenize("東京 は、ｶﾀｶﾅ", "ja") == ["東", "京", "は", "カ", "タ", "カ", "ナ"]


def test_tokenize_other_scripts_kept():
    assert rouge_tokenize("서울은 한국의 수도이다.", "ko") == ["서울은", "한국의", "수도이다"]  # Hangul words
    assert rouge_tokenize("ירושלים היא בירת ישראל", "he") == ["ירושלים", "היא", "בירת", "ישראל"]
    assert rouge_tokenize("Москва — столица России.", "ru") == ["москва", "столица", "россии"]
    # Farsi zero-width non-joiner (U+200C) inside "می‌خواهم": neither a split nor part of the token,
    # so the forms with and without it match
    assert rouge_tokenize("می\u200cخواهم", "fa") == rouge_tokenize("میخواهم", "fa") == ["میخواهم"]


def test_tokenize_unknown_language():
    with pytest.raises(UnknownLanguageError, match="xx"):
        rouge_tokenize("hello", "xx")


def test_tokenizer_object_for_rouge_score():
    assert UnicodeRougeTokenizer("hi").tokenize("नई दिल्ली") == ["नई", "दिल्ली"]
    with pytest.raises(UnknownLanguageError):
        UnicodeRougeTokenizer("xx")


# --------------------------------------------------------------------------- ROUGE-L recall
def test_rouge_english_by_lcs():
    # reference: the eiffel tower is in paris france      (7 tokens)
    # prediction: the tower is located in paris
    # LCS = the, tower, is, in, paris = 5  ->  recall = 5/7
    got = rouge_l_recall("The tower is located in Paris.", "The Eiffel Tower is in Paris, France.", "en")
    assert got == pytest.approx(5 / 7)


def test_rouge_chinese_characters():
    # reference: 埃 菲 尔 铁 塔 在 巴 黎 (8);  prediction: 铁 塔 位 于 巴 黎
    # LCS = 铁 塔 巴 黎 = 4  ->  4/8 = 0.5
    assert rouge_l_recall("铁塔位于巴黎", "埃菲尔铁塔在巴黎。", "zh") == pytest.approx(0.5)


def test_rouge_japanese_characters():
    # reference: 東 京 は 日 本 の 首 都 で す (10);  prediction: 日 本 の 首 都 は 東 京
    # LCS = 日 本 の 首 都 = 5 (東京 comes after は in the prediction)  ->  5/10
    assert rouge_l_recall("日本の首都は東京", "東京は日本の首都です", "ja") == pytest.approx(0.5)


def test_rouge_hindi_nonzero_and_hand_count():
    ref = "भारत की राजधानी नई दिल्ली है"  # भारत की राजधानी नई दिल्ली है (6 words)
    pred = "दिल्ली भारत की राजधानी है"  # दिल्ली भारत की राजधानी है
    # LCS = भारत, की, राजधानी, है = 4  ->  4/6 = 2/3
    assert rouge_l_recall(pred, ref, "hi") == pytest.approx(2 / 3)
    # and the reason for our tokenizer: rouge-score's default one gives 0 on the same pair
    assert rouge_scorer.RougeScorer(["rougeL"]).score(ref, pred)["rougeL"].recall == 0


def test_rouge_arabic():
    # reference: عاصمة مصر هي القاهرة (4);  prediction: القاهرة هي عاصمة مصر
    # LCS = عاصمة مصر = 2 (after هي the reference has only القاهرة, already used)  ->  2/4
    assert rouge_l_recall("القاهرة هي عاصمة مصر", "عاصمة مصر هي القاهرة", "ar") == pytest.approx(0.5)


def test_rouge_exact_and_empty():
    assert rouge_l_recall("Paris!", "paris", "fr") == 1.0
    assert rouge_l_recall("", "paris", "fr") == 0.0  # nothing predicted: recall 0


# --------------------------------------------------------------------------- probabilities
def test_prob_from_mean_nll():
    assert prob_from_mean_nll(0.0) == 1.0
    assert prob_from_mean_nll(math.log(4)) == pytest.approx(0.25)  # exp(-ln 4) = 1/4


def test_nll_sign_checked():
    with pytest.raises(ValueError, match="log-probability"):
        prob_from_mean_nll(-0.7)
    with pytest.raises(ValueError, match="NaN"):
        prob_from_mean_nll(float("nan"))


def test_truth_ratio_hand():
    # P_correct = exp(-0.5); P_wrong = geometric mean of exp(-1), exp(-2) = exp(-(1+2)/2) = exp(-1.5)
    # tr = exp(-1.5) / exp(-0.5) = exp(0.5 - 1.5) = exp(-1)
    assert truth_ratio(0.5, [1.0, 2.0]) == pytest.approx(math.exp(-1))
    # one perturbed answer as likely as the correct one: tr = 1
    assert truth_ratio(1.3, [1.3]) == pytest.approx(1.0)


def test_truth_ratio_log_space_no_underflow():
    # exp(-900) underflows to 0.0 in floats, but the ratio exp(900 - 901) = exp(-1) is fine
    assert truth_ratio(900.0, [901.0]) == pytest.approx(math.exp(-1))
    # overflowing ratio -> inf, not OverflowError
    assert truth_ratio(1000.0, [0.0]) == math.inf


def test_truth_ratio_empty_perturbed():
    with pytest.raises(ValueError, match="perturbed_mean_nlls"):
        truth_ratio(0.5, [])


def test_truth_ratio_score():
    # forget: min(tr, 1/tr): tr = 0.5 -> min(0.5, 2) = 0.5; tr = 4 -> min(4, 0.25) = 0.25
    assert truth_ratio_score(0.5, on_forget=True) == 0.5
    assert truth_ratio_score(4.0, on_forget=True) == 0.25
    assert truth_ratio_score(1.0, on_forget=True) == 1.0
    assert truth_ratio_score(0.0, on_forget=True) == 0.0
    assert truth_ratio_score(math.inf, on_forget=True) == 0.0
    # elsewhere: max(0, 1 - tr): tr = 0.25 -> 0.75; tr = 4 -> max(0, -3) = 0
    assert truth_ratio_score(0.25, on_forget=False) == 0.75
    assert truth_ratio_score(4.0, on_forget=False) == 0.0
    with pytest.raises(ValueError):
        truth_ratio_score(-1.0, on_forget=True)


def test_normalized_prob_hand():
    # p_true = exp(-ln 2) = 0.5; p_perturbed = exp(-ln 4) = 0.25 twice
    # 0.5 / (0.5 + 0.25 + 0.25) = 0.5
    assert normalized_prob(math.log(2), [math.log(4), math.log(4)]) == pytest.approx(0.5)
    # all equal (any underflowing NLL) -> 1 / (1 + 3) = 0.25
    assert normalized_prob(800.0, [800.0, 800.0, 800.0]) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="perturbed_mean_nlls"):
        normalized_prob(0.1, [])


# --------------------------------------------------------------------------- forget quality
def test_forget_quality_identical_samples():
    # identical samples: KS statistic D = 0 -> p-value 1.0
    assert forget_quality([0.2, 0.5, 0.9], [0.2, 0.5, 0.9]) == pytest.approx(1.0)


def test_forget_quality_fully_separated():
    # n = m = 3, every unlearned tr below every retain tr: D = 1. Exact two-sided p-value = the
    # share of the C(6,3) = 20 equally likely orderings with D = 1, which are only the two
    # fully separated ones: 2/20 = 0.1 (scipy's exact method gives 0.09999999999999999).
    assert forget_quality([0.1, 0.2, 0.3], [0.7, 0.8, 0.9]) == pytest.approx(0.1)
    # n = m = 4: 2 / C(8,4) = 2/70 = 0.0285714...
    assert forget_quality([1, 2, 3, 4], [5, 6, 7, 8]) == pytest.approx(2 / 70)


def test_forget_quality_empty_inputs():
    with pytest.raises(ValueError, match="unlearned_tr"):
        forget_quality([], [0.5])
    with pytest.raises(ValueError, match="retain_model_tr"):
        forget_quality([0.5], [])
    with pytest.raises(ValueError, match="NaN"):
        forget_quality([float("nan")], [0.5])


# --------------------------------------------------------------------------- model utility
def test_harmonic_mean_hand():
    # 3 / (1/0.5 + 1/0.25 + 1/1) = 3 / (2 + 4 + 1) = 3/7
    assert harmonic_mean([0.5, 0.25, 1.0]) == pytest.approx(3 / 7)
    assert harmonic_mean([0.5, 0.0, 1.0]) == 0.0  # one collapsed component zeroes it
    with pytest.raises(ValueError, match="values"):
        harmonic_mean([])
    with pytest.raises(ValueError, match=">= 0"):
        harmonic_mean([0.5, -0.1])


def test_model_utility_hand():
    # retain only: HM(0.5, 0.25, 1.0) = 3/7
    assert model_utility(0.5, 0.25, 1.0) == pytest.approx(3 / 7)
    # one general set (0.5, 0.5, 1.0): 6 / (2 + 4 + 1 + 2 + 2 + 1) = 6/12 = 0.5
    assert model_utility(0.5, 0.25, 1.0, general=(0.5, 0.5, 1.0)) == pytest.approx(0.5)
    # two general sets, numpy floats allowed:
    # 9 / (2 + 4 + 1 + 2 + 2 + 1 + 1 + 1 + 1) = 9/15 = 0.6
    two = [(np.float32(0.5), 0.5, 1.0), (1.0, 1.0, 1.0)]
    assert model_utility(0.5, 0.25, 1.0, general=two) == pytest.approx(0.6)
    with pytest.raises(ValueError, match="triples"):
        model_utility(0.5, 0.25, 1.0, general=(0.5, 0.5))


# --------------------------------------------------------------------------- membership attacks
def test_min_k_percent():
    lp = [-0.1, -2.0, -0.5, -3.0, -1.0]  # sorted: -3.0, -2.0, -1.0, -0.5, -0.1
    assert min_k_percent(lp, k=0.2) == -3.0  # floor(5 * 0.2) = 1 token
    assert min_k_percent(lp, k=0.4) == pytest.approx(-2.5)  # (-3 - 2) / 2
    assert min_k_percent(lp, k=0.1) == -3.0  # floor(0.5) = 0 -> at least one token
    assert min_k_percent(lp, k=1.0) == pytest.approx(-1.32)  # (-6.6) / 5
    # 100 tokens, k = 0.29: 100 * 0.29 = 28.999999999999996 in floats and int() truncates to
    # 28 tokens, as MUSE and open-unlearning count them: (-2 + 27 * -1) / 28 = -29/28
    assert min_k_percent([-2.0] + [-1.0] * 28 + [0.0] * 71, k=0.29) == pytest.approx(-29 / 28)
    assert min_k_percent(lp) == pytest.approx(-2.5)  # default k = 0.4, as the references
    with pytest.raises(ValueError, match="token_logprobs"):
        min_k_percent([])
    with pytest.raises(ValueError, match="k"):
        min_k_percent(lp, k=0.0)


def test_zlib_ratio():
    # the numerator is the MEAN answer NLL (see test_reference_parity for the hand-worked case)
    # zlib.compress(b"a") = 2 header bytes + 3 deflate bytes (3 block-header bits + 8 literal
    # bits + 7 end-of-block bits = 18 bits) + 4 adler32 bytes = 9 bytes;  18 / 9 = 2
    assert zlib_ratio(18.0, "a") == pytest.approx(2.0)
    # non-ASCII text is measured in UTF-8 bytes, not characters
    text = "भारत की राजधानी"
    assert zlib_ratio(30.0, text) == pytest.approx(30.0 / len(zlib.compress(text.encode("utf-8"))))


def test_auc_hand():
    # members [0.9, 0.8, 0.4] vs non-members [0.5, 0.4, 0.1]: count pairs member > non-member
    # 0.9 beats 3; 0.8 beats 3; 0.4 beats 0.1 (1) and ties 0.4 (0.5) -> 1.5
    # AUC = (3 + 3 + 1.5) / 9 = 7.5/9 = 0.8333...
    assert auc([0.9, 0.8, 0.4], [0.5, 0.4, 0.1]) == pytest.approx(7.5 / 9)
    assert auc([2.0, 3.0], [0.0, 1.0]) == 1.0  # perfectly separated
    assert auc([0.0, 1.0], [2.0, 3.0]) == 0.0  # inverted
    assert auc([1.0, 1.0], [1.0]) == 0.5  # all ties


def test_auc_empty():
    with pytest.raises(ValueError, match="positive_scores"):
        auc([], [1.0])
    with pytest.raises(ValueError, match="negative_scores"):
        auc([1.0], [])
