"""SimNPO, IdkDPO and RMU: a few training steps on the tiny learned model lower forget Prob in the
unlearned language while retain Prob holds; each loss is checked against hand-worked numbers;
IdkDPO refuses in the item's own language; LoRA needs no second copy and gives the same loss as
a full frozen copy on the same weights."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from polyunlearn.core.encoding import Encoded, Encoder, collate
from polyunlearn.core.models import LoraSettings, add_lora, build_tiny_model
from polyunlearn.core.trainloop import TrainConfig
from polyunlearn.data.idk import IDK_ANSWERS
from polyunlearn.evaluation.records import EvalConfig, score_items, summarize
from polyunlearn.evaluation.scoring import score_pairs
from polyunlearn.methods.dpo import dpo_forget_term, idkdpo
from polyunlearn.methods.npo import npo, simnpo, simnpo_forget_term
from polyunlearn.methods.reference import Reference
from polyunlearn.methods.registry import METHODS
from polyunlearn.methods.rmu import answer_positions, masked_sq_dist, rmu, rmu_direction, rmu_layer_index
from polyunlearn.pipeline.phases import UnlearnConfig, encode_forget, idk_for, unlearn

NO_GEN = EvalConfig(generate=False)


def probs(model, tok, items, lang="en"):
    s = summarize(score_items(model, tok, [it for it in items if it.language == lang], NO_GEN)).iloc[0]
    return s["forget_prob"], s["retain_prob"]


def forget_batch(tok, items, method="idkdpo", n=4):
    forget = [it for it in items if it.split == "forget" and it.language == "en"][:n]
    return collate(encode_forget(Encoder(tok), forget, method), tok.pad_token_id)


def retain_batch(tok, items, n=4):
    enc = Encoder(tok)
    return collate([enc.encode(it.question, it.answer) for it in items if it.split == "retain"][:n], tok.pad_token_id)


# ---- training: forget Prob falls in en, retain Prob holds ----

# Settings found on the tiny model: lr 1e-3 is the tests' usual unlearning rate. IdkDPO at the
# default beta 0.1 saturates (the refusal alone wins the margin) before the forget answer halves,
# so the test uses beta 0.05; RMU on a 2-layer model needs a larger retain weight (alpha 10).
TRAIN_CASES = {
    "simnpo": (dict(), TrainConfig(lr=1e-3, epochs=5, batch_size=5)),
    "idkdpo": (dict(params={"beta": 0.05}), TrainConfig(lr=1e-3, epochs=5, batch_size=5)),
    "rmu": (dict(alpha=10.0), TrainConfig(lr=3e-3, epochs=3, batch_size=5)),
}


@pytest.mark.parametrize("method", sorted(TRAIN_CASES))
def test_method_forgets_and_keeps(method, learned, tokenizer, items):
    f0, r0 = probs(learned, tokenizer, items)
    # The refusals' per-token log-prob on the en forget questions, before (unlearn trains in place).
    enc = Encoder(tokenizer)
    idk_pairs = [(it.question, idk_for(it)) for it in items if it.split == "forget" and it.language == "en"]
    idk_before = sum(s.sum_logp / s.n_tokens for s in score_pairs(learned, enc, idk_pairs)) / len(idk_pairs)
    kw, tcfg = TRAIN_CASES[method]
    model, hist = unlearn(
        learned, tokenizer, items, UnlearnConfig(method=method, forget_langs="en", train=tcfg, **kw), progress=False
    )
    f1, r1 = probs(model, tokenizer, items)
    assert len(hist) == 2 * tcfg.epochs  # 10 forget items / batch 5
    assert f1 < 0.5 * f0, f"{method}: forget Prob {f0:.3f} -> {f1:.3f}"
    assert r1 > r0 - 0.1, f"{method}: retain Prob {r0:.3f} -> {r1:.3f}"
    if method == "idkdpo":  # the refusal became far more likely as the answer to the forget questions
        idk_after = sum(s.sum_logp / s.n_tokens for s in score_pairs(model, enc, idk_pairs)) / len(idk_pairs)
        assert idk_after > idk_before + 1.0, (idk_before, idk_after)


def test_registry_and_reference_needs():
    assert {"simnpo", "idkdpo", "rmu"} <= set(METHODS)
    assert {name for name, spec in METHODS.items() if spec.needs_idk} == {"idkdpo", "concept_mcq"}
    simnpo_spec = METHODS["simnpo"]
    assert not simnpo_spec.needs_reference(simnpo_spec.resolve()) and simnpo_spec.needs_reference(
        simnpo_spec.resolve({"retain_loss": "kl"})
    )  # SimNPO: no reference
    assert METHODS["idkdpo"].needs_reference({"retain_loss": "nll"}) and METHODS["rmu"].needs_reference({})


def test_beta_defaults_per_method():
    assert UnlearnConfig(method="npo").params["beta"] == 0.1
    assert UnlearnConfig(method="simnpo").params["beta"] == 4.5
    assert UnlearnConfig(method="idkdpo").params["beta"] == 0.1
    assert "beta" not in UnlearnConfig(method="grad_diff").params  # no temperature
    assert UnlearnConfig(method="simnpo", params={"beta": 2.0}).params["beta"] == 2.0
    with pytest.raises(ValueError, match="beta must be > 0"):
        UnlearnConfig(method="npo", params={"beta": 0.0})
    with pytest.raises(ValueError, match="delta does not apply to method 'npo'"):
        UnlearnConfig(method="npo", params={"delta": 1.0})
    with pytest.raises(ValueError, match="alpha does not apply to method 'grad_ascent'"):
        UnlearnConfig(method="grad_ascent", alpha=5.0)


# ---- hand-worked losses ----


def test_simnpo_hand_worked():
    """logp = -2 over |y| = 3 tokens, beta 4.5: x = -(4.5/3)(-2) = 3,
    term = -(2/4.5) logsigmoid(3) = 0.44444 * ln(1 + e^-3) = 0.44444 * 0.0485874 = 0.0215944.
    With delta = 1: x = 2, term = 0.44444 * ln(1 + e^-2) = 0.44444 * 0.126928 = 0.0564126."""
    logp, n = torch.tensor([-2.0]), torch.tensor([3.0])
    assert float(simnpo_forget_term(logp, n, 4.5, 0.0)) == pytest.approx(0.0215944, rel=1e-5)
    assert float(simnpo_forget_term(logp, n, 4.5, 1.0)) == pytest.approx(0.0564126, rel=1e-5)
    # Length normalisation: the same per-token logp (-2/3) over 30 tokens gives the same term.
    assert float(simnpo_forget_term(torch.tensor([-20.0]), torch.tensor([30.0]), 4.5, 0.0)) == pytest.approx(
        0.0215944, rel=1e-5
    )


def test_simnpo_uses_default_beta_and_answer_length(learned, tokenizer, items):
    from polyunlearn.core.logprobs import sequence_logprob
    from polyunlearn.methods.reference import forward_logits

    batch = forget_batch(tokenizer, items, "simnpo")
    _, logs = simnpo(METHODS["simnpo"].context(learned, alpha=0.0), batch, None)
    with torch.no_grad():
        logp, n = sequence_logprob(forward_logits(learned, batch), batch["labels"])
    assert logs["forget_term"] == pytest.approx(float(simnpo_forget_term(logp, n, 4.5, 0.0)), rel=1e-5)


def test_dpo_hand_worked():
    """win log-ratio 1, lose log-ratio -1, beta 0.5: -(2/0.5) logsigmoid(0.5 * 2) = 4 ln(1 + e^-1) = 1.2530468."""
    assert float(dpo_forget_term(torch.tensor([1.0]), torch.tensor([-1.0]), 0.5)) == pytest.approx(1.2530468, rel=1e-6)


def test_idkdpo_at_reference_is_2_over_beta_log2(learned, tokenizer, items):
    """theta = ref: both log-ratios are 0, so forget_term = (2/beta) ln 2; default beta 0.1 -> 13.8629."""
    ctx = METHODS["idkdpo"].context(learned, Reference(learned), alpha=0.0)
    loss, logs = idkdpo(ctx, forget_batch(tokenizer, items), None)
    assert logs["forget_term"] == pytest.approx(20 * math.log(2), rel=1e-5)
    assert float(loss.detach()) == pytest.approx(20 * math.log(2), rel=1e-5)


def test_rmu_forget_loss_hand_made_hidden_state():
    """H = 2, target c*u = (3, 4). Positions: (3, 4) -> 0; (0, 0) -> (9 + 16) / 2 = 12.5; (1, 1) masked.
    Mean over the two unmasked positions = 6.25."""
    h = torch.tensor([[[3.0, 4.0], [0.0, 0.0], [1.0, 1.0]]])  # (B=1, T=3, H=2)
    assert float(masked_sq_dist(h, torch.tensor([3.0, 4.0]), torch.tensor([[1, 1, 0]]))) == pytest.approx(6.25)
    # Forget positions are those whose next token is an answer token.
    assert answer_positions(torch.tensor([[-100, -100, 7, 2]])).tolist() == [[0.0, 1.0, 1.0, 0.0]]


def test_rmu_direction_and_layer():
    cu = rmu_direction(16, 6.5, seed=0)
    assert float(cu.norm()) == pytest.approx(6.5, rel=1e-6) and bool((cu >= 0).all())  # U[0,1) entries
    assert torch.equal(cu, rmu_direction(16, 6.5, seed=0)) and not torch.equal(cu, rmu_direction(16, 6.5, seed=1))

    class Cfg:  # rmu_layer_index only reads config.num_hidden_layers
        def __init__(self, n):
            self.config = type("C", (), {"num_hidden_layers": n})()

    assert rmu_layer_index(Cfg(2), None) == 0 and rmu_layer_index(Cfg(32), None) == 15
    assert rmu_layer_index(Cfg(6), -1) == 5
    with pytest.raises(ValueError, match="out of range"):
        rmu_layer_index(Cfg(2), 2)


@pytest.mark.parametrize("arch", ["llama", "cohere"])
def test_rmu_on_lora_model_each_arch(arch, tokenizer, items):
    """RMU reads hidden states through peft on both architectures; at step 0 the LoRA model equals
    its adapters-off reference (B = 0), so the retain distance is 0, and gradients reach LoRA only."""
    torch.manual_seed(0)
    model = add_lora(build_tiny_model(tokenizer, arch), LoraSettings(r=4))
    ref = Reference(model)
    assert ref.copy is None
    ctx = METHODS["rmu"].context(model, ref, rmu_coeff=6.5)
    loss, logs = rmu(ctx, forget_batch(tokenizer, items, "rmu"), retain_batch(tokenizer, items))
    assert logs["retain_term"] == pytest.approx(0.0, abs=1e-10) and logs["forget_term"] > 0
    loss.backward()
    assert any(
        p.grad is not None and p.grad.abs().sum() > 0 for n, p in model.named_parameters() if "lora_B" in n
    )  # A gets 0 while B = 0
    assert all(p.grad is None for n, p in model.named_parameters() if "lora" not in n)


# ---- IdkDPO: the refusal is in the item's own language ----


def test_idk_answer_in_item_language(tokenizer, items):
    for it in (it for it in items if it.split == "forget"):
        assert idk_for(it) in IDK_ANSWERS[it.language]
        assert idk_for(it) == idk_for(copy.deepcopy(it))  # stable across runs (crc32 of the id)
    fr = [it for it in items if it.split == "forget" and it.language == "fr"]
    assert len({idk_for(it) for it in fr}) > 1  # several phrasings, not one fixed string
    enc = Encoder(tokenizer)
    data = encode_forget(enc, fr, "idkdpo")
    batch = collate(data, tokenizer.pad_token_id)
    for i, it in enumerate(fr):
        ids = [t for t in batch["idk_labels"][i].tolist() if t != -100]
        assert tokenizer.decode(ids, skip_special_tokens=True).strip() == idk_for(it)
        assert batch["input_ids"][i].tolist()[: len(enc.prompt(it.question))] == list(enc.prompt(it.question))
    assert encode_forget(enc, fr, "npo")[0].extra == ()  # other methods carry no second encoding


def test_collate_extra_keys():
    e = [
        Encoded((1, 5), (7, 2), extra=(("idk", Encoded((1, 5), (9, 9, 2))),)),
        Encoded((1,), (8,), extra=(("idk", Encoded((1,), (2,))),)),
    ]
    b = collate(e, pad_id=0)
    assert b["idk_input_ids"].tolist() == [[1, 5, 9, 9, 2], [1, 2, 0, 0, 0]]
    assert b["idk_labels"].tolist() == [[-100, -100, 9, 9, 2], [-100, 2, -100, -100, -100]]
    assert b["input_ids"].tolist() == [[1, 5, 7, 2], [1, 8, 0, 0]]


# ---- LoRA: no second copy, same loss as a full frozen copy ----


def test_lora_npo_same_loss_as_full_copy(learned, tokenizer, items):
    """NPO with retain KL. LoRA model (B perturbed so theta != ref) with adapters-off reference, vs the
    merged weights trained against a full frozen copy of the base: the same numbers."""
    base = copy.deepcopy(learned)
    peft_model = add_lora(learned, LoraSettings(r=4))
    torch.manual_seed(1)
    with torch.no_grad():
        for n, p in peft_model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.02)
    lora_ref = Reference(peft_model)
    assert lora_ref.copy is None  # adapters disabled, no second copy in memory
    merged = copy.deepcopy(peft_model).merge_and_unload()
    f, r = forget_batch(tokenizer, items, "npo"), retain_batch(tokenizer, items)
    lora_loss, lora_logs = npo(METHODS["npo"].context(peft_model, lora_ref, retain_loss="kl"), f, r)
    full_loss, full_logs = npo(METHODS["npo"].context(merged, Reference(base), retain_loss="kl"), f, r)
    assert lora_logs["forget_term"] != pytest.approx(20 * math.log(2), rel=1e-3)  # theta really differs from ref
    assert lora_logs["retain_term"] > 0
    assert float(lora_loss.detach()) == pytest.approx(float(full_loss.detach()), rel=1e-4)
    assert lora_logs["forget_term"] == pytest.approx(full_logs["forget_term"], rel=1e-4)
    assert lora_logs["retain_term"] == pytest.approx(full_logs["retain_term"], rel=1e-3, abs=1e-6)
