"""docs/contributing.md's "A method" steps, followed with a toy method: registered by name with
`@register` and one typed hyperparameter (at run time here, where a new module would do it at
import), trained a few steps on the tiny learned model by the generic loop, it must lower
forget-set Prob in the unlearned language as every shipped method does. The toy is removed from
the registry after the test, so the shipped method counts and the CLI pins stay as they are."""

from __future__ import annotations

import pytest

from polyunlearn.core.logprobs import mean_nll
from polyunlearn.core.trainloop import TrainConfig
from polyunlearn.evaluation.records import EvalConfig, score_items, summarize
from polyunlearn.methods.reference import Batch, forward_logits
from polyunlearn.methods.registry import METHODS, Context, Param, combine, get_method, register, retain_term
from polyunlearn.pipeline.phases import UnlearnConfig, unlearn

NAME = "toy_scaled_ascent"


@pytest.fixture()
def toy_method():
    """The guide's example method, registered for this test only."""
    import polyunlearn.cli  # noqa: F401  (the CLI's options are built from the registry at import: build them without the toy)

    @register(
        NAME,
        summary="-scale NLL(forget) + alpha NLL(retain)",
        citation="docs/contributing.md (a toy)",
        retain="nll",
        params={"scale": Param(1.0, "weight of the forget NLL", minimum=0, strict=True)},
    )
    def toy(ctx: Context, forget: Batch, retain: Batch | None):
        forget_term = -ctx.params["scale"] * mean_nll(forward_logits(ctx.model, forget), forget["labels"])
        return combine(ctx, forget_term, retain_term(ctx, retain, "nll"))

    yield NAME
    del METHODS[NAME]


def forget_prob(model, tok, items, lang="en"):
    rows = [it for it in items if it.language == lang]
    return summarize(score_items(model, tok, rows, EvalConfig(generate=False))).iloc[0]["forget_prob"]


def test_registered_method_is_found_with_its_checked_parameter(toy_method):
    spec = get_method(toy_method)
    assert spec.resolve({})["scale"] == 1.0 and spec.resolve({"scale": 2})["scale"] == 2.0
    with pytest.raises(ValueError, match="scale must be > 0"):
        spec.resolve({"scale": 0.0})


def test_registered_method_unlearns_the_tiny_model(toy_method, learned, tokenizer, items):
    # GradDiff's settings in tests/methods/test_methods.py: the toy at scale 1 is GradDiff.
    f0 = forget_prob(learned, tokenizer, items)
    cfg = UnlearnConfig(
        method=toy_method,
        forget_langs="en",
        alpha=5.0,
        params={"scale": 1.0},
        train=TrainConfig(lr=1e-3, epochs=8, batch_size=5),
    )
    model, hist = unlearn(learned, tokenizer, items, cfg, progress=False)
    assert len(hist) == 2 * 8  # 10 forget items / batch 5 = 2 steps per epoch
    f1 = forget_prob(model, tokenizer, items)
    assert f1 < 0.5 * f0, f"forget Prob {f0:.3f} -> {f1:.3f}"


def test_the_toy_does_not_outlive_its_test():
    assert NAME not in METHODS
