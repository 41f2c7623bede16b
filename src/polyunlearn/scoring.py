"""Model-side evaluation primitives: answer log-likelihoods for many (question, answer) pairs in
length-bucketed batches, and batched greedy generation. Both run under inference mode."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from polyunlearn.batching import Encoder, collate, length_buckets
from polyunlearn.logprobs import token_logprobs


@dataclass
class Score:
    sum_logp: float
    n_tokens: int
    token_logps: list[float]

    @property
    def mean_nll(self) -> float:
        return -self.sum_logp / max(1, self.n_tokens)


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.inference_mode()
def score_pairs(
    model: torch.nn.Module,
    encoder: Encoder,
    pairs: Sequence[tuple[str, str]],
    max_tokens: int = 16384,
    max_batch: int = 128,
) -> list[Score]:
    """Log-likelihood of each answer given its question (answer tokens incl. EOS)."""
    encoded = [encoder.encode(q, a) for q, a in pairs]
    pad = encoder.tok.pad_token_id
    dev = _device(model)
    out: list[Score | None] = [None] * len(encoded)
    for idx in length_buckets([e.length for e in encoded], max_tokens, max_batch):
        batch = collate([encoded[i] for i in idx], pad)
        logits = model(input_ids=batch["input_ids"].to(dev), attention_mask=batch["attention_mask"].to(dev)).logits
        logp, mask = token_logprobs(logits, batch["labels"].to(dev))
        logp, mask = logp.cpu(), mask.cpu().bool()
        for row, i in enumerate(idx):
            toks = logp[row][mask[row]].tolist()
            out[i] = Score(sum(toks), len(toks), toks)
    return out  # type: ignore[return-value]


@torch.inference_mode()
def generate_answers(
    model: torch.nn.Module,
    encoder: Encoder,
    questions: Sequence[str],
    max_new_tokens: int = 48,
    max_batch: int = 64,
) -> list[str]:
    """Greedy answers, batched with left padding (prompts grouped by length)."""
    tok = encoder.tok
    prompts = [encoder.prompt(q) for q in questions]
    dev = _device(model)
    pad = tok.pad_token_id
    out: list[str] = [""] * len(prompts)
    for idx in length_buckets([len(p) for p in prompts], max_tokens=max_batch * 512, max_batch=max_batch):
        T = max(len(prompts[i]) for i in idx)
        ids = torch.full((len(idx), T), pad, dtype=torch.long)
        att = torch.zeros((len(idx), T), dtype=torch.long)
        for row, i in enumerate(idx):
            p = prompts[i]
            ids[row, T - len(p) :] = torch.tensor(p)
            att[row, T - len(p) :] = 1
        gen = model.generate(
            input_ids=ids.to(dev),
            attention_mask=att.to(dev),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=pad,
            eos_token_id=tok.eos_token_id,
        )
        for row, i in enumerate(idx):
            out[i] = tok.decode(gen[row, T:], skip_special_tokens=True).strip()
    return out
