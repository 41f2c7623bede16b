"""open-unlearning's TOFU evaluation algorithm, re-implemented as the bench's second reference
(tools/bench_eval.py), on our prompts and metric code so that only the algorithm differs.

What its evaluator does for TOFU (locuslab/open-unlearning, src/evals/metrics/utils.py and
memorization.py; configs/eval/tofu_metrics/*.yaml, generation/default.yaml; read, not copied):
- every metric has its own DataLoader in dataset order, batch size 32, items tokenized when the
  loader fetches them; one forward per batch of full (question + answer) sequences, right-padded,
  logits at every position, cross-entropy over the full vocabulary, the mean over answer tokens
  per sequence (`evaluate_probability`);
- Prob: the answers; Truth Ratio: the paraphrased answers as one metric, the perturbed answers as
  another, where a batch of 32 items yields one mini-batch of 32 per perturbed answer
  (`run_batchwise_evals` iterates the intra-item index); the truth ratio is then computed from
  the two metrics' per-item mean losses;
- ROUGE: HF `generate`, greedy, max_new_tokens 200, batches of 32 questions left-padded,
  the output cut at EOS, ROUGE-L recall against the answer.
(Newer versions read max_new_tokens 64 and ROUGE batches of 64; the TOFU settings are the older
200 and 32, as the issue that set this reference measured.) Tokenization conventions are ours
(core/encoding.Encoder's: prompt template, BOS, answer + EOS), so values equal ours.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from polyunlearn.core.encoding import IGNORE
from polyunlearn.core.models import answer_text, format_prompt
from polyunlearn.data.schema import QAItem

PEER_BATCH = 32
PEER_MAX_NEW_TOKENS = 200


def _encode(tok, question: str, answer: str | None) -> tuple[list[int], list[int]]:
    """Tokenized per call, as a map-style dataset does in __getitem__."""
    prompt = tok(format_prompt(tok, question), add_special_tokens=False)["input_ids"]
    if tok.bos_token_id is not None and (not prompt or prompt[0] != tok.bos_token_id):
        prompt = [tok.bos_token_id] + prompt
    if answer is None:
        return prompt, []
    ans = tok(answer_text(tok, answer), add_special_tokens=False)["input_ids"]
    return prompt, ans + ([tok.eos_token_id] if tok.eos_token_id is not None else [])


@torch.inference_mode()
def peer_batch_nll(model: torch.nn.Module, tok, pairs: Sequence[tuple[str, str]]) -> list[float]:
    """Mean NLL over answer tokens of each pair: one full forward per batch, right-padded."""
    dev = next(model.parameters()).device
    enc = [_encode(tok, q, a) for q, a in pairs]
    T = max(len(p) + len(a) for p, a in enc)
    ids = torch.full((len(enc), T), tok.pad_token_id, dtype=torch.long)
    att = torch.zeros((len(enc), T), dtype=torch.long)
    labels = torch.full((len(enc), T), IGNORE, dtype=torch.long)
    for r, (p, a) in enumerate(enc):
        ids[r, : len(p) + len(a)] = torch.tensor(p + a)
        att[r, : len(p) + len(a)] = 1
        labels[r, len(p) : len(p) + len(a)] = torch.tensor(a)
    logits = model(input_ids=ids.to(dev), attention_mask=att.to(dev)).logits  # (B, T, V)
    shifted = labels[:, 1:].to(dev)
    loss = F.cross_entropy(logits[:, :-1].transpose(1, 2).float(), shifted, ignore_index=IGNORE, reduction="none").sum(
        -1
    )
    return (loss / (shifted != IGNORE).sum(-1)).tolist()


def peer_nll(model: torch.nn.Module, tok, pairs: Sequence[tuple[str, str]], batch: int = PEER_BATCH) -> list[float]:
    return [x for i in range(0, len(pairs), batch) for x in peer_batch_nll(model, tok, pairs[i : i + batch])]


def peer_prob(model: torch.nn.Module, tok, items: Sequence[QAItem]) -> list[float]:
    """Mean answer NLL per item (Prob = exp(-it))."""
    return peer_nll(model, tok, [(it.question, it.answer) for it in items])


def peer_truth_ratio(
    model: torch.nn.Module, tok, items: Sequence[QAItem], batch: int = PEER_BATCH
) -> tuple[list[float], list[list[float]]]:
    """(paraphrase mean NLL per item with one, perturbed mean NLLs per item): the paraphrase
    metric in batches of 32, then per batch of 32 items one mini-batch per perturbed index."""
    para = peer_nll(model, tok, [(it.question, it.paraphrased_answer) for it in items if it.paraphrased_answer], batch)
    wrong: list[list[float]] = [[] for _ in items]
    for i in range(0, len(items), batch):
        chunk = list(range(i, min(i + batch, len(items))))
        for k in range(max((len(items[j].perturbed_answer) for j in chunk), default=0)):
            rows = [j for j in chunk if len(items[j].perturbed_answer) > k]
            for j, v in zip(
                rows, peer_batch_nll(model, tok, [(items[j].question, items[j].perturbed_answer[k]) for j in rows])
            ):
                wrong[j].append(v)
    return para, wrong


@torch.inference_mode()
def peer_generate(
    model: torch.nn.Module,
    tok,
    items: Sequence[QAItem],
    max_new_tokens: int = PEER_MAX_NEW_TOKENS,
    batch: int = PEER_BATCH,
) -> list[str]:
    """Greedy answers: HF generate on batches of 32 questions in dataset order, left-padded."""
    dev = next(model.parameters()).device
    out: list[str] = []
    for i in range(0, len(items), batch):
        prompts = [_encode(tok, it.question, None)[0] for it in items[i : i + batch]]
        T = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), T), tok.pad_token_id, dtype=torch.long)
        att = torch.zeros((len(prompts), T), dtype=torch.long)
        for r, p in enumerate(prompts):
            ids[r, T - len(p) :] = torch.tensor(p)
            att[r, T - len(p) :] = 1
        gen = model.generate(
            input_ids=ids.to(dev),
            attention_mask=att.to(dev),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
        )
        out.extend(tok.decode(g[T:], skip_special_tokens=True).strip() for g in gen)
    return out
