"""Membership-attack AUCs in the per-language summary (forget vs holdout), checked against
numbers worked out by hand, and on the tiny learned model: the attack tells trained-on forget
facts from never-seen holdout facts, and unlearning takes that away."""

from __future__ import annotations

import pytest

from polyunlearn.core.trainloop import TrainConfig
from polyunlearn.data.fictitious import bundled_benchmark
from polyunlearn.data.schema import DataError
from polyunlearn.evaluation.records import EvalConfig, score_items, summarize
from polyunlearn.pipeline.phases import UnlearnConfig, item_texts, learn, unlearn


def _rec(lang: str, split: str, nll: float, min_k: float, zlib: float) -> dict:
    return {
        "id": f"{split}-{nll}",
        "language": lang,
        "split": split,
        "nll": nll,
        "prob": 0.0,
        "min_k": min_k,
        "zlib": zlib,
    }


def test_aucs_and_privleak_by_hand():
    # Loss attack (score = -nll): members -0.1, -0.5 vs non-members -0.3, -0.9.
    # Pairs won by the member: (-0.1 > -0.3), (-0.1 > -0.9), (-0.5 > -0.9); lost: (-0.5 < -0.3) -> 3/4.
    # Min-K (higher = member): 2.0, 1.0 vs 1.0, 0.0 -> wins 2>1, 2>0, 1>0, tie 1=1 counts 1/2 -> 3.5/4.
    # zlib (score = -zlib): -3, -1 vs -2, -4 -> wins -3>-4, -1>-2, -1>-4; loses -3<-2 -> 3/4.
    recs = [
        _rec("en", "forget", 0.1, 2.0, 3.0),
        _rec("en", "forget", 0.5, 1.0, 1.0),
        _rec("en", "holdout", 0.3, 1.0, 2.0),
        _rec("en", "holdout", 0.9, 0.0, 4.0),
    ]
    # Retain model, Min-K (higher = member): members 0.9, 0.7 vs 0.8, 0.6 -> wins 0.9>0.8,
    # 0.9>0.6, 0.7>0.6; loses 0.7<0.8 -> AUC 3/4.
    ref = [
        _rec("en", "forget", 0.9, 0.9, 0),
        _rec("en", "forget", 0.7, 0.7, 0),
        _rec("en", "holdout", 0.8, 0.8, 0),
        _rec("en", "holdout", 0.6, 0.6, 0),
    ]
    row = summarize(recs, ref).iloc[0]
    assert row["mia_loss_auc"] == pytest.approx(0.75)
    assert row["mia_min_k_auc"] == pytest.approx(0.875)
    assert row["mia_zlib_auc"] == pytest.approx(0.75)
    # MUSE's PrivLeak on the Min-K AUC: AUC_M = 1 - AUC; model 1 - 0.875 = 0.125, retain model
    # 1 - 0.75 = 0.25 -> 100 (0.125 - 0.25) / 0.25 = -50 (negative: the model leaks more).
    assert row["privleak"] == pytest.approx(-50.0)
    assert row["holdout_n"] == 2 and row["holdout_prob"] == 0.0


def test_no_holdout_no_auc_column():
    recs = [_rec("fr", "forget", 0.1, 2.0, 3.0), _rec("fr", "retain", 0.5, 1.0, 1.0)]
    assert not [c for c in summarize(recs).columns if c.startswith("mia_") or c == "privleak"]


def test_holdout_is_never_trained_on_but_tokenized_like_the_rest():
    items = bundled_benchmark(["en"])
    holdout = [it for it in items if it.split == "holdout"]
    assert len(holdout) == 10
    assert holdout[0].answer in item_texts(items)  # same tokenizer for members and non-members
    with pytest.raises(DataError, match="no items to train on"):
        learn(None, None, holdout, TrainConfig(), progress=False)


def test_attack_sees_the_learned_facts_and_unlearning_hides_them(learned, tokenizer, items):
    # The fixture learned the forget facts; holdout facts (same questions, unseen kingdoms) never.
    holdout = [it for it in bundled_benchmark(["en"]) if it.split == "holdout"]
    en = [it for it in items if it.language == "en"] + holdout
    cfg = EvalConfig(generate=False)
    before = summarize(score_items(learned, tokenizer, en, cfg)).iloc[0]
    assert before["mia_loss_auc"] > 0.9 and before["forget_prob"] > 2 * before["holdout_prob"]
    # Pushed hard (10 NPO epochs; measured: forget Prob .99 -> .0015, holdout .04 -> .03), the
    # forget facts end up LESS likely than never-seen ones: AUC below chance, the signature of
    # over-unlearning that PrivLeak reports as negative. (After 5 epochs, forget Prob .10, the
    # loss AUC was still .89: a lower Prob alone does not hide membership.)
    ucfg = UnlearnConfig(
        method="npo", forget_langs="en", alpha=5.0, train=TrainConfig(lr=1e-3, epochs=10, batch_size=5)
    )
    model, _ = unlearn(learned, tokenizer, en, ucfg, progress=False)
    after = summarize(score_items(model, tokenizer, en, cfg)).iloc[0]
    assert after["forget_prob"] < after["holdout_prob"], (after["forget_prob"], after["holdout_prob"])
    assert after["mia_loss_auc"] < 0.5, (before["mia_loss_auc"], after["mia_loss_auc"])
