"""Shared loss math against numbers worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from polyunlearn.core.encoding import IGNORE, Encoded, collate, length_buckets
from polyunlearn.core.logprobs import kl_ref_theta, mean_nll, sequence_logprob, token_logprobs


def test_uniform_logits_give_log_vocab():
    """Uniform logits over V=4: every token has log p = -ln 4; a 2-token answer sums to -2 ln 4."""
    logits = torch.zeros(1, 4, 4)
    labels = torch.tensor([[IGNORE, IGNORE, 1, 2]])  # prompt = 2 tokens, answer = 2 tokens
    s, n = sequence_logprob(logits, labels)
    assert n.item() == 2
    assert s.item() == pytest.approx(-2 * math.log(4))
    assert mean_nll(logits, labels).item() == pytest.approx(math.log(4))


def test_token_logprob_picks_the_shifted_label():
    """Position t predicts label t+1. logits row 0 = [ln 3, 0] -> p(token 0) = 3/4."""
    logits = torch.tensor([[[math.log(3), 0.0], [0.0, 0.0]]])
    labels = torch.tensor([[IGNORE, 0]])
    logp, mask = token_logprobs(logits, labels)
    assert mask.tolist() == [[1.0]]
    assert logp.item() == pytest.approx(math.log(0.75))


def test_kl_zero_for_same_model_and_hand_value():
    labels = torch.tensor([[IGNORE, 0]])
    a = torch.tensor([[[0.0, 0.0], [0.0, 0.0]]])
    assert kl_ref_theta(a, a, labels).item() == pytest.approx(0.0, abs=1e-7)
    # p_ref = (3/4, 1/4), p_theta = (1/2, 1/2): KL = 3/4 ln(3/2) + 1/4 ln(1/2)
    ref = torch.tensor([[[math.log(3), 0.0], [0.0, 0.0]]])
    expected = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert kl_ref_theta(a, ref, labels).item() == pytest.approx(expected, rel=1e-6)


def test_collate_masks_prompt_and_padding():
    batch = collate([Encoded((1, 5), (7, 2)), Encoded((1,), (8,))], pad_id=0)
    assert batch["input_ids"].tolist() == [[1, 5, 7, 2], [1, 8, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    assert batch["labels"].tolist() == [[IGNORE, IGNORE, 7, 2], [IGNORE, 8, IGNORE, IGNORE]]


def test_length_buckets_respect_limits_and_cover_everything():
    lengths = [5, 50, 6, 48, 7, 49]
    batches = length_buckets(lengths, max_tokens=100, max_batch=3)
    assert sorted(i for b in batches for i in b) == list(range(6))
    assert batches[0] == [0, 2, 4]  # the three short ones together
    for b in batches:
        assert len(b) <= 3 and max(lengths[i] for i in b) * len(b) <= 100
