"""Each registered unlearning method, trained for a few steps on the tiny learned model, must
lower forget-set Prob in the unlearned language while retain-set Prob holds."""

from __future__ import annotations

import math

import pytest
import torch

from polyunlearn.core.encoding import Encoder, collate
from polyunlearn.core.trainloop import TrainConfig
from polyunlearn.evaluation.records import EvalConfig, score_items, summarize
from polyunlearn.methods.npo import npo
from polyunlearn.methods.reference import Reference
from polyunlearn.methods.registry import METHODS, get_method
from polyunlearn.pipeline.phases import UnlearnConfig, unlearn

NO_GEN = EvalConfig(generate=False)


def probs(model, tok, items, lang="en"):
    s = summarize(score_items(model, tok, [it for it in items if it.language == lang], NO_GEN)).iloc[0]
    return s["forget_prob"], s["retain_prob"]


def test_learned_fixture_knows_the_facts(learned, tokenizer, items):
    f, r = probs(learned, tokenizer, items)
    assert f > 0.5 and r > 0.5, (f, r)


# Per-method settings that unlearn the tiny fixture model in a few steps (found by a small
# sweep; the fixture has only 20 retain facts per language, so the retain term needs weight).
SETTINGS = {  # method: (lr, epochs, alpha)
    "grad_ascent": (5e-4, 3, None),  # no retain term: no alpha
    "grad_diff": (1e-3, 8, 5.0),
    "grad_diff_kl": (1e-3, 5, 5.0),
    "npo": (1e-3, 5, 5.0),
}


@pytest.mark.parametrize("method", sorted(SETTINGS))
def test_method_forgets_and_keeps(method, learned, tokenizer, items):
    lr, epochs, alpha = SETTINGS[method]
    f0, r0 = probs(learned, tokenizer, items)
    cfg = UnlearnConfig(
        method=method, forget_langs="en", alpha=alpha, train=TrainConfig(lr=lr, epochs=epochs, batch_size=5)
    )
    model, hist = unlearn(learned, tokenizer, items, cfg, progress=False)
    f1, r1 = probs(model, tokenizer, items)
    assert len(hist) == 2 * epochs  # 10 forget items / batch 5 = 2 steps per epoch
    assert f1 < 0.5 * f0, f"{method}: forget Prob {f0:.3f} -> {f1:.3f}"
    if method != "grad_ascent":  # GradAscent has no retain term; it is allowed to damage retain
        assert r1 > r0 - 0.15, f"{method}: retain Prob {r0:.3f} -> {r1:.3f}"


def test_registry_and_unknown_method():
    assert {"grad_ascent", "grad_diff", "grad_diff_kl", "npo"} <= set(METHODS)
    with pytest.raises(ValueError, match="unknown unlearning method 'foo'"):
        get_method("foo")


def test_npo_at_reference_is_2_over_beta_log2(learned, tokenizer, items):
    """At theta = ref the log-ratio is 0, so forget_term = -(2/beta) logsigmoid(0) = (2/beta) ln 2.
    With beta = 0.1: 20 * 0.693147... = 13.8629."""
    enc = Encoder(tokenizer)
    batch = collate([enc.encode(it.question, it.answer) for it in items[:4]], tokenizer.pad_token_id)
    ctx = METHODS["npo"].context(learned, Reference(learned), alpha=0.0, beta=0.1)
    loss, logs = npo(ctx, batch, None)
    assert logs["forget_term"] == pytest.approx(20 * math.log(2), rel=1e-5)
    assert float(loss) == pytest.approx(20 * math.log(2), rel=1e-5)


def test_reference_is_frozen_copy(learned):
    ref = Reference(learned)
    assert ref.copy is not None and ref.copy is not learned
    assert all(not p.requires_grad for p in ref.copy.parameters())
    with torch.no_grad():
        next(learned.parameters()).add_(1.0)
    assert not torch.equal(next(learned.parameters()), next(ref.copy.parameters()))
