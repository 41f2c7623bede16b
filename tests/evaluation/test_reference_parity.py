"""polyunlearn's reported metrics follow TOFU's, MUSE's and open-unlearning's definitions: each
changed definition on numbers worked out by hand (English stemming, Min-K% k and EOS, zlib
numerator, PrivLeak sign, 9-value Model Utility, Min-K%++, Exact Memorization, Extraction
Strength, MUSE verbatim memorization); every summary column is in the one metrics table.
TOFU's aggregate numbers from its eval logs: tests/evaluation/test_tofu_logs.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from rouge_score import rouge_scorer

from helpers.cli import runner
from polyunlearn.cli import app
from polyunlearn.core.encoding import Encoder
from polyunlearn.core.models import build_tiny_model
from polyunlearn.data.schema import DataError, QAItem
from polyunlearn.evaluation import metric_table
from polyunlearn.evaluation.metrics import (
    exact_memorization,
    extraction_strength,
    min_k_percent,
    min_k_plus_plus,
    privleak,
    rouge_l_f1,
    rouge_l_recall,
)
from polyunlearn.evaluation.records import EvalConfig, Slots, build_records, score_items, summarize
from polyunlearn.evaluation.scoring import Score, _token_stats, score_pairs

LN2, LN4, LN8 = math.log(2), math.log(4), math.log(8)


# --------------------------------------------------------------------------- ROUGE
def test_english_rouge_is_rouge_score_with_the_stemmer_exactly():
    """rouge-score's tokenizer + Porter stemmer (tokens longer than 3 letters):
    gold "He was running to the stores" -> he was run to the store (6)
    greedy "He runs to the store"        -> he run to the store
    LCS = he run to the store = 5 -> recall 5/6, precision 5/5, F1 = 2 (5/6)(1) / (5/6 + 1) = 10/11.
    Without the stemmer (our Unicode tokenizer before): LCS = he to the = 3 -> 3/6."""
    assert rouge_l_recall("He runs to the store", "He was running to the stores", "en") == pytest.approx(
        5 / 6, abs=1e-12
    )
    assert rouge_l_f1("He runs to the store", "He was running to the stores", "en") == pytest.approx(10 / 11, abs=1e-12)
    # "dog runs" vs "running dogs": stems dog run / run dog -> LCS 1 of 2 = 0.5 (0 unstemmed).
    assert rouge_l_recall("dog runs", "running dogs", "en") == 0.5
    ref = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    pairs = [
        ("The Eiffel Tower stands in Paris.", "The tower is located in Paris"),
        ("Émile Zola wrote it", "Émile Zola"),
        ("", "Paris"),
        ("studies studied studying", "study"),
        ("It is 1984, George Orwell's", "George Orwell wrote 1984"),
    ]
    for gold, greedy in pairs:
        assert rouge_l_recall(greedy, gold, "en") == ref.score(gold, greedy)["rougeL"].recall
        assert rouge_l_f1(greedy, gold, "en") == ref.score(gold, greedy)["rougeL"].fmeasure
    # Every other language keeps the Unicode tokenizer: French accents survive ("été" is a word).
    assert rouge_l_recall("il a été là", "il a été", "fr") == 1.0
    assert rouge_l_recall("il a t", "il a été", "fr") == pytest.approx(2 / 3)
    assert ref.score("il a été", "il a t")["rougeL"].recall == 1.0  # rouge-score turns "été" into "t"


# --------------------------------------------------------------------------- token-level attacks
def _score(logps, mu=None, var=None, top1=None, eos=True) -> Score:
    n = len(logps)
    return Score(
        sum(logps),
        n,
        list(logps),
        list(mu or [0.0] * n),
        list(var or [1.0] * n),
        list(top1 or [False] * n),
        ends_with_eos=eos,
    )


def _records(score: Score, answer: str = "a", split: str = "forget") -> dict:
    item = QAItem("x", "en", "q?", answer, split=split)
    return build_records([item], [score], [Slots(0, -1, 1, 0)], None)[0]


def test_min_k_uses_k_04_and_drops_eos():
    """Answer tokens -3, -1, -2, -0.5 and the appended EOS at -4.
    Now: EOS dropped, n = 4, int(0.4 * 4) = 1 token -> min = -3.
    Before (k 0.2, EOS kept): n = 5, int(0.2 * 5) = 1 -> -4, the EOS token's log-prob."""
    rec = _records(_score([-3.0, -1.0, -2.0, -0.5, -4.0]))
    assert rec["min_k"] == -3.0
    assert min_k_percent([-3.0, -1.0, -2.0, -0.5, -4.0], 0.2) == -4.0  # the old number
    # 6 content tokens: int(2.4) = 2 lowest -> (-3 + -2) / 2 = -2.5
    assert _records(_score([-3.0, -1.0, -2.0, -0.5, -0.1, -0.2, -9.0]))["min_k"] == -2.5
    # An answer of only EOS has no content token: no Min-K%, no EM/ES (not a made-up 0).
    assert _records(_score([-1.0]))["min_k"] is None and _records(_score([-1.0]))["exact_memorization"] is None


def test_zlib_numerator_is_the_mean_nll():
    """answer "a": zlib.compress(b"a") is 9 bytes. 9 answer tokens (incl. EOS) of log-prob -2:
    total NLL 18, mean 2 -> zlib score 2 / 9 (it was 18 / 9 = 2 with the total)."""
    rec = _records(_score([-2.0] * 9), answer="a")
    assert rec["nll"] == pytest.approx(2.0)
    assert rec["zlib"] == pytest.approx(2 / 9)


def test_min_k_plus_plus_by_hand():
    """log p = -1, -2; mu = -1.5, -1.0; var = 0.25, 4 -> z = 0.5/0.5 = 1, -1/2 = -0.5.
    k 0.4 of 2 tokens -> int(0.8) = 0 -> at least 1: the lowest, -0.5. k = 1: (1 - 0.5)/2 = 0.25.
    var 0 is floored at 1e-6: z = (-1 - -1.5) / 1e-3 = 500."""
    assert min_k_plus_plus([-1.0, -2.0], [-1.5, -1.0], [0.25, 4.0]) == pytest.approx(-0.5)
    assert min_k_plus_plus([-1.0, -2.0], [-1.5, -1.0], [0.25, 4.0], k=1.0) == pytest.approx(0.25)
    assert min_k_plus_plus([-1.0], [-1.5], [0.0]) == pytest.approx(500.0)
    with pytest.raises(ValueError, match="2 token log-probs but 1"):
        min_k_plus_plus([-1.0, -2.0], [-1.5], [0.25])


def test_scorer_statistics_by_hand():
    """logits (0, ln 3) -> p = (1/4, 3/4), log p = (-ln 4, ln 3 - ln 4).
    mu = 1/4 (-ln 4) + 3/4 (ln 3 - ln 4) = 3/4 ln 3 - ln 4; var = E[(log p)^2] - mu^2 =
    1/4 * 3/4 * (log p_1 - log p_0)^2 = 3/16 (ln 3)^2 (a two-point distribution).
    Target 1 is the argmax; target 0 is not."""
    logits = torch.tensor([[0.0, math.log(3)], [0.0, math.log(3)]])
    logp, mu, var, top1 = _token_stats(logits, torch.tensor([1, 0]))
    assert logp.tolist() == pytest.approx([math.log(0.75), math.log(0.25)])
    assert mu.tolist() == pytest.approx([0.75 * math.log(3) - LN4] * 2)
    assert var.tolist() == pytest.approx([3 / 16 * math.log(3) ** 2] * 2)
    assert top1.tolist() == [True, False]


def test_scorer_drops_eos_and_matches_the_full_softmax(tokenizer):
    """On a tiny model: the scorer's last answer token is the EOS it appended, and its per-token
    mu / var / argmax equal a direct full-vocabulary computation, on both scoring paths."""
    torch.manual_seed(0)
    model = build_tiny_model(tokenizer, "llama", seed=0).eval()
    enc = Encoder(tokenizer)
    pair = ("What is the capital of Kalomir?", "The capital of Kalomir is Vesta.")
    e = enc.encode(*pair)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([e.prompt + e.answer])).logits[0, len(e.prompt) - 1 : -1].float()
    logp = torch.log_softmax(logits, -1)
    mu = (logp.exp() * logp).sum(-1)
    var = (logp.exp() * (logp - mu[:, None]) ** 2).sum(-1)
    for share in (True, False):
        s = score_pairs(model, enc, [pair], share_prefix=share, detail=[True])[0]
        assert (
            s.ends_with_eos
            and e.answer[-1] == tokenizer.eos_token_id
            and len(s.content(s.token_logps)) == len(e.answer) - 1
        )
        assert s.token_mu == pytest.approx(mu.tolist(), abs=1e-5) and s.token_var == pytest.approx(
            var.tolist(), abs=1e-4
        )
        assert s.token_top1 == (logp.argmax(-1) == torch.tensor(e.answer)).tolist()
        plain = score_pairs(model, enc, [pair], share_prefix=share)[0]  # log-probs only: no statistics
        assert plain.token_logps == s.token_logps and plain.token_mu == plain.token_top1 == []


def test_exact_memorization_and_extraction_strength_by_hand():
    """argmax hits T F T T: EM = 3/4; the all-correct suffix starts at k = 2 -> ES = 1 - 2/4.
    T T T: ES 1. No correct suffix (T T F): open-unlearning's loop stops at k = n - 1 -> 1/3
    (the same as F F T, whose last token alone is right)."""
    assert exact_memorization([True, False, True, True]) == 0.75
    assert extraction_strength([True, False, True, True]) == 0.5
    assert extraction_strength([True, True, True]) == 1.0
    assert extraction_strength([True, True, False]) == pytest.approx(1 / 3)
    assert extraction_strength([False, False, True]) == pytest.approx(1 / 3)
    # Through the records: EOS excluded (its argmax flag is the last one).
    rec = _records(_score([-1.0] * 5, top1=[True, False, True, True, False]))
    assert rec["exact_memorization"] == 0.75 and rec["extraction_strength"] == 0.5


def test_privleak_sign_and_denominator():
    """AUC_M = 1 - AUC. A leaking model (AUC 1) against a retain model at chance (0.5):
    100 (0 - 0.5) / 0.5 = -100. Same AUC as the retain model: 0. Over-unlearned (AUC 0.25):
    100 (0.75 - 0.5) / 0.5 = +50. The old definition gave +100 for the leaking model."""
    assert privleak(1.0, 0.5) == pytest.approx(-100.0)
    assert privleak(0.5, 0.5) == 0.0
    assert privleak(0.25, 0.5) == pytest.approx(50.0)
    assert privleak(0.9, 1.0) is None  # AUC_M,retain = 0: undefined, not reported


# --------------------------------------------------------------------------- model utility
def _rec(split: str, i: int, **values) -> dict:
    return {"id": f"{split}-{i}", "language": "en", "split": split, **values}


def test_model_utility_takes_nine_values_on_tofu_splits():
    """retain (Prob, ROUGE, TR) = (0.5, 0.25, 1.0); real_authors (normalized prob, ROUGE, TR) =
    (0.5, 0.5, 1.0); world_facts = (1, 1, 1): 9 / (2 + 4 + 1 + 2 + 2 + 1 + 1 + 1 + 1) = 9/15.
    Pooled into one general set (mean of the two sets' items: 0.75, 0.75, 1.0) it was
    6 / (2 + 4 + 1 + 4/3 + 4/3 + 1) = 6 / (32/3) = 18/32 = 0.5625."""
    recs = [
        _rec("retain", 0, prob=0.5, rouge_l=0.25, truth_ratio_score=1.0),
        _rec("real_authors", 0, prob=0.1, normalized_prob=0.5, rouge_l=0.5, truth_ratio_score=1.0),
        _rec("world_facts", 0, prob=0.1, normalized_prob=1.0, rouge_l=1.0, truth_ratio_score=1.0),
    ]
    row = summarize(recs).iloc[0]
    assert row["model_utility"] == pytest.approx(9 / 15) and row["model_utility_n"] == 9
    pooled = [dict(r, split="general") if r["split"] != "retain" else r for r in recs]
    row = summarize(pooled).iloc[0]
    assert row["model_utility"] == pytest.approx(18 / 32) and row["model_utility_n"] == 6


def test_summary_means_and_forget_quality_per_language():
    """The product's per-language aggregation (the twins it replaced are gone): en forget Prob
    (0.2 + 0.4) / 2 = 0.3, hi 0.9. Forget Quality per language: en truth ratios 0.1, 0.2, 0.3 vs
    the retain model's 0.7, 0.8, 0.9 are fully separated -> exact two-sided KS p = 2 / C(6, 3) =
    0.1; hi 0.5 vs 0.5 -> 1."""
    recs = [
        dict(_rec("forget", 0, prob=0.2, truth_ratio=0.1)),
        dict(_rec("forget", 1, prob=0.4, truth_ratio=0.2)),
        dict(_rec("forget", 2, prob=0.3, truth_ratio=0.3)),
        dict(_rec("forget", 0, prob=0.9, truth_ratio=0.5), language="hi"),
    ]
    recs[2]["prob"] = None  # not computed: skipped by the mean
    retain = [dict(_rec("forget", i, truth_ratio=v)) for i, v in enumerate((0.7, 0.8, 0.9))] + [
        dict(_rec("forget", 0, truth_ratio=0.5), language="hi")
    ]
    s = summarize(recs, retain).set_index("language")
    assert list(s.index) == ["en", "hi"]
    assert s.loc["en", "forget_prob"] == pytest.approx(0.3) and s.loc["hi", "forget_prob"] == pytest.approx(0.9)
    assert s.loc["en", "forget_quality"] == pytest.approx(0.1) and s.loc["hi", "forget_quality"] == pytest.approx(1.0)


# --------------------------------------------------------------------------- table and exports
def test_every_summary_column_is_in_the_metrics_table(tokenizer, items):
    """A real evaluation (generation on, holdout for the attacks, a retain model for FQ and
    PrivLeak) and a TOFU re-aggregation: every metric column has a row in the one table."""
    from polyunlearn.analysis.matrices import HEADLINE, ITEM_METRIC
    from polyunlearn.analysis.results import metric_columns
    from polyunlearn.data.fictitious import bundled_benchmark

    model = build_tiny_model(tokenizer, "llama", seed=0).eval()
    en = [it for it in items if it.language == "en"]
    en = (
        en[:3]
        + [it for it in en if it.split == "forget"][:3]
        + [it for it in bundled_benchmark(["en"]) if it.split in ("holdout", "general")][:13]
    )
    recs = score_items(model, tokenizer, en, EvalConfig(max_new_tokens=4))
    summary = summarize(recs, recs)
    assert {
        "privleak",
        "mia_min_k_plus_plus_auc",
        "forget_exact_memorization",
        "forget_rouge_l_f1",
        "model_utility",
    } <= set(summary)
    for column in metric_columns(summary):
        assert metric_table.lookup(column).column == column
    assert HEADLINE == metric_table.headline() and ITEM_METRIC["forget_prob"] == ("prob", "forget")
    assert metric_table.lookup("forget_prob").open_unlearning == "forget_Q_A_Prob"
    assert metric_table.lookup("real_authors_normalized_prob").tofu == "Prob. Real Authors"
    with pytest.raises(KeyError, match="forget_probb"):
        metric_table.lookup("forget_probb")
    res = runner.invoke(app, ["metrics", "--split", "forget", "--full"], env={"COLUMNS": "300"})
    assert res.exit_code == 0 and "forget_Q_A_Prob" in res.output and "privleak" in res.output


# --------------------------------------------------------------------------- MUSE verbatim memorization
def test_verbatim_memorization_on_the_learned_model(learned, tokenizer, items):
    """Passages = the learned "Question: ...\\nAnswer: ..." texts: prompted with the question part,
    the learned model continues with the answer it was trained on (ROUGE-L F1 near 1), which
    is exactly what the QA evaluation generates (same tokens, same greedy decoding); an
    untrained model of the same shape does not."""
    from polyunlearn.core.models import answer_text, format_prompt
    from polyunlearn.evaluation.memorization import passages, verbatim_memorization
    from polyunlearn.evaluation.scoring import generate_answers

    forget = [it for it in items if it.language == "en" and it.split == "forget"][:5]
    pairs = [(format_prompt(tokenizer, it.question), it.answer) for it in forget]
    got = verbatim_memorization(learned, tokenizer, pairs, "en", max_new_tokens=32)
    qa = generate_answers(learned.eval(), Encoder(tokenizer), [it.question for it in forget], 32)
    assert got == [rouge_l_f1(a, it.answer, "en") for a, it in zip(qa, forget)]
    assert np.mean(got) > 0.8
    fresh = build_tiny_model(tokenizer, "llama", seed=1).eval()
    assert np.mean(verbatim_memorization(fresh, tokenizer, pairs, "en", max_new_tokens=32)) < 0.3
    # passages(): the first 3 tokens, then the rest, decoded; together they give the text back.
    text = format_prompt(tokenizer, forget[0].question) + answer_text(tokenizer, forget[0].answer)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    ((prompt, rest),) = passages(tokenizer, [text], prompt_tokens=3)
    assert prompt == tokenizer.decode(ids[:3]) and rest == tokenizer.decode(ids[3:]).strip()
    assert text.startswith(prompt) and text.endswith(rest) and len(prompt) + len(rest) < len(text) + 1
    with pytest.raises(DataError, match="passage 0 has"):
        passages(tokenizer, ["Paris"], prompt_tokens=32)
