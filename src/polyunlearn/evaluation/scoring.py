"""Model-side evaluation primitives: answer log-likelihoods for many (question, answer) pairs, and
batched greedy generation. Both run under inference mode.

Three exact paths (same numbers up to float rounding, ~1e-7; same greedy tokens as HF `generate`):
- the fast path (decoding.py, default where the model allows it: decoder-only, full attention, sdpa
  or eager): each question's prompt is run once and its cache serves both the scoring of all its
  continuations and its greedy answer, prompts of different lengths share batches (left padding),
  the KV cache is preallocated, finished answers leave the batch;
- prefix sharing with the model's own cache (the fallback for e.g. sliding-window attention):
  prompts of the same length share a batch, their cache is copied to one row per continuation;
- simple batching (`share_prefix=False`, and the fallback for models whose cache cannot be
  reused, e.g. recurrent layers): each pair is a full right-padded sequence.
Generation falls back to HF `generate` in batches where the fast path is off, or where the model's
generation_config asks for more than plain greedy decoding (e.g. a repetition penalty).
On every path, the pairs scored with `detail` (an item's answer, in records.score_items) also get
per token the mean / variance of log p over the vocabulary and whether the target is the argmax
(token_stats.py, float32, on their tokens only), for Min-K%++, Exact Memorization and Extraction
Strength.

    scores = score_pairs(model, Encoder(tok), [("Capital of X?", "Y"), ...])
    scores[0].mean_nll
    scores, answers = score_and_generate(model, Encoder(tok), pairs, questions, max_new_tokens=40)
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from polyunlearn.core.encoding import IGNORE, Encoded, Encoder, collate, length_buckets
from polyunlearn.evaluation.decoding import Job, Limits, TokenScores, run_jobs
from polyunlearn.evaluation.kvcache import FastModel, generation_extras
from polyunlearn.evaluation.token_stats import target_logp as _answer_logp
from polyunlearn.evaluation.token_stats import token_stats as _token_stats

log = logging.getLogger(__name__)


@dataclass
class Score:
    """One (question, answer) pair scored: log p of every answer token (EOS included, as Prob and
    the losses count it), and per token what the answer-token attacks need from the model's
    next-token distribution at that position: its mean and variance of log p over the
    vocabulary (Min-K%++) and whether the target is its argmax (Exact Memorization,
    Extraction Strength), filled only for pairs scored with `detail` (empty lists otherwise).
    `ends_with_eos` marks the last token as the appended EOS, which open-unlearning's
    token-level metrics leave out (`content` slices)."""

    sum_logp: float
    n_tokens: int
    token_logps: list[float]
    token_mu: list[float] = field(default_factory=list)
    token_var: list[float] = field(default_factory=list)
    token_top1: list[bool] = field(default_factory=list)
    ends_with_eos: bool = False

    @property
    def mean_nll(self) -> float:
        return -self.sum_logp / max(1, self.n_tokens)

    def content(self, values: list) -> list:
        """`values` (one per answer token) without the trailing EOS token, when there is one."""
        return values[:-1] if self.ends_with_eos else values


def _row_scores(
    logits: torch.Tensor,
    targets: torch.Tensor,
    answers: Sequence[Sequence[int]],
    detail: Sequence[bool],
    eos: int | None,
) -> list[Score]:
    """One Score per row from the logits (N, V) of all rows' answer tokens, row-major
    (answers[r] holds row r's tokens). Rows with detail[r] also get mu / var / argmax, computed
    only on their tokens (the answer of an item needs them; its paraphrase and perturbed
    answers need only log-probs)."""
    need = torch.tensor([d for a, d in zip(answers, detail) for _ in a], dtype=torch.bool, device=logits.device)
    logp = _answer_logp(logits, targets).cpu().tolist()
    extra = (
        [x.cpu().tolist() for x in _token_stats(logits[need], targets[need])[1:]] if bool(need.any()) else [[], [], []]
    )
    out, start, start_need = [], 0, 0
    for a, d in zip(answers, detail):
        n = len(a)
        mu, var, top1 = (x[start_need : start_need + n] for x in extra) if d else ([], [], [])
        start_need += n if d else 0
        toks = logp[start : start + n]
        start += n
        out.append(Score(sum(toks), n, toks, mu, var, top1, ends_with_eos=eos is not None and n > 0 and a[-1] == eos))
    return out


class PrefixSharingUnsupported(RuntimeError):
    """The model's cache cannot be copied across rows (e.g. recurrent state); use simple batching."""


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def _base(model: torch.nn.Module) -> torch.nn.Module:
    # peft wrappers take **kwargs; the base model's signature says what is really accepted.
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _accepts(model: torch.nn.Module, name: str) -> bool:
    try:
        return name in inspect.signature(_base(model).forward).parameters
    except (TypeError, ValueError):
        return False


def supports_prefix_sharing(model: torch.nn.Module) -> bool:
    """Decoder-only HF models whose forward takes `past_key_values`. (Whether the returned cache
    can be copied across rows is checked on the first batch.)"""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "is_encoder_decoder", False):
        return False
    return _accepts(model, "past_key_values")


@torch.inference_mode()
def score_pairs(
    model: torch.nn.Module,
    encoder: Encoder,
    pairs: Sequence[tuple[str, str] | tuple[str, str, str]],
    max_tokens: int = 16384,
    max_batch: int = 128,
    share_prefix: bool | None = None,
    detail: Sequence[bool] | None = None,
) -> list[Score]:
    """Log-likelihood of each answer given its question (answer tokens incl. EOS). A pair may
    carry the item's language as a third element, for prompt formats with per-language tags.

    share_prefix: None = prefix sharing when the model supports it; False = simple batching.
    max_tokens bounds padded tokens per forward (prompt cache included), max_batch its rows.
    detail: per pair, whether its Score also carries the per-token mu / var / argmax of the
    next-token distribution (None = no pair: log-probs only, as most callers need).
    """
    return score_and_generate(model, encoder, pairs, [], 0, max_tokens, max_batch, share_prefix, detail)[0]


@torch.inference_mode()
def score_and_generate(
    model: torch.nn.Module,
    encoder: Encoder,
    pairs: Sequence[tuple[str, str]],
    questions: Sequence[str],
    max_new_tokens: int,
    max_tokens: int = 16384,
    max_batch: int = 128,
    share_prefix: bool | None = None,
    detail: Sequence[bool] | None = None,
) -> tuple[list[Score], list[str]]:
    """Scores of `pairs` (with the distribution statistics where `detail`, as score_pairs) and
    greedy answers (up to max_new_tokens) to `questions`, with one prefill per distinct prompt
    for both where the fast path applies."""
    scores, ids = score_and_generate_ids(
        model, encoder, pairs, questions, max_new_tokens, max_tokens, max_batch, share_prefix, detail
    )
    tok = encoder.tok
    return scores, [tok.decode(x, skip_special_tokens=True).strip() for x in ids]


def score_and_generate_ids(
    model: torch.nn.Module,
    encoder: Encoder,
    pairs: Sequence[tuple[str, str]],
    questions: Sequence[str],
    max_new_tokens: int,
    max_tokens: int = 16384,
    max_batch: int = 128,
    share_prefix: bool | None = None,
    detail: Sequence[bool] | None = None,
) -> tuple[list[Score], list[list[int]]]:
    """As score_and_generate, with each answer as its generated token ids (up to and including
    the first EOS, as HF `generate` emits them before padding)."""
    if questions and max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1 to generate answers, got {max_new_tokens}")
    flags = [False] * len(pairs) if detail is None else [bool(d) for d in detail]
    if len(flags) != len(pairs):
        raise ValueError(f"detail has {len(flags)} flags for {len(pairs)} pairs")
    # A pair is (question, answer[, language]) and a question q or (q, language): the language
    # matters for prompt formats with per-language tags (core/prompts.py).
    if hasattr(encoder, "warm"):  # an Encoder stand-in (memorization.RawPrompts) tokenizes one text at a time
        lang = lambda p: p[2] if len(p) > 2 else None  # noqa: E731
        encoder.warm(
            [(p[0], lang(p)) for p in pairs] + [q if isinstance(q, tuple) else (q, None) for q in questions],
            [(p[1], lang(p)) for p in pairs],
        )
    encoded = [encoder.encode(*pair) for pair in pairs]
    prompts = [encoder.prompt(*q) if isinstance(q, tuple) else encoder.prompt(q) for q in questions]
    fm = FastModel.resolve(model) if share_prefix is not False or prompts else None
    fast_gen = fm is not None and not generation_extras(model)
    if prompts and fm is not None and not fast_gen:
        log.warning("generation_config sets %s: greedy answers by HF generate", ", ".join(generation_extras(model)))
    jobs: dict[tuple[int, ...], Job] = {}
    if fm is not None and share_prefix is not False:
        for e, d in zip(encoded, flags):  # identical (prompt, answer) pairs are scored once
            job = jobs.setdefault(e.prompt, Job(e.prompt))
            if e.answer not in job.conts:
                job.conts.append(e.answer)
            if d:  # a pair scored once serves every copy of it: statistics if any copy needs them
                job.detail.add(e.answer)
    if fast_gen:
        for p in prompts:
            jobs.setdefault(p, Job(p)).generate = True
    tok = encoder.tok
    lim = Limits(max_tokens, max_batch, max_new_tokens)
    done, gen = run_jobs(fm, list(jobs.values()), tok.pad_token_id, tok.eos_token_id, lim) if jobs else ({}, {})
    if fm is not None and share_prefix is not False:
        scores = [_score_of(done[(e.prompt, e.answer)], e.answer, tok.eos_token_id) for e in encoded]
    else:
        scores = _score_fallback(
            model, encoded, tok.pad_token_id, tok.eos_token_id, max_tokens, max_batch, share_prefix, flags
        )
    if prompts and not fast_gen:
        gen = _hf_generate(model, tok, list(dict.fromkeys(prompts)), max_new_tokens, max_batch)
    return scores, [gen[p] for p in prompts]


def _score_of(ts: TokenScores, answer: Sequence[int], eos: int | None) -> Score:
    ends = eos is not None and len(answer) > 0 and answer[-1] == eos
    return Score(sum(ts.logp), len(ts.logp), ts.logp, ts.mu, ts.var, ts.top1, ends_with_eos=ends)


def _score_fallback(
    model: torch.nn.Module,
    encoded: Sequence[Encoded],
    pad: int,
    eos: int | None,
    max_tokens: int,
    max_batch: int,
    share_prefix: bool | None,
    detail: Sequence[bool],
) -> list[Score]:
    """The previous scoring paths, for models the fast path does not serve."""
    if not encoded:
        return []
    if share_prefix is None:
        share_prefix = supports_prefix_sharing(model)
    if share_prefix:
        try:
            return _score_shared(model, encoded, pad, max_tokens, max_batch, eos, detail)
        except PrefixSharingUnsupported as e:
            log.warning("prefix sharing unsupported for %s (%s); scoring with simple batching", type(model).__name__, e)
    return _score_batched(model, encoded, pad, max_tokens, max_batch, eos, detail)


def _score_batched(
    model: torch.nn.Module,
    encoded: Sequence[Encoded],
    pad: int,
    max_tokens: int,
    max_batch: int,
    eos: int | None = None,
    detail: Sequence[bool] | None = None,
) -> list[Score]:
    """Simple path: every pair is one full right-padded row; similar lengths share a batch."""
    dev = _device(model)
    detail = detail if detail is not None else [False] * len(encoded)
    out: list[Score | None] = [None] * len(encoded)
    for idx in length_buckets([e.length for e in encoded], max_tokens, max_batch):
        batch = collate([encoded[i] for i in idx], pad)
        logits = model(input_ids=batch["input_ids"].to(dev), attention_mask=batch["attention_mask"].to(dev)).logits
        target = batch["labels"][:, 1:].to(dev)  # position t predicts token t + 1
        mask = target != IGNORE  # (B, T-1), answer tokens only, row-major below
        scores = _row_scores(
            logits[:, :-1][mask], target[mask], [encoded[i].answer for i in idx], [detail[i] for i in idx], eos
        )
        for i, score in zip(idx, scores):
            out[i] = score
    return out  # type: ignore[return-value]


def _prefix_batches(
    groups: dict[tuple[int, ...], list[tuple[int, ...]]], max_tokens: int, max_batch: int
) -> list[list[tuple[int, ...]]]:
    """Batches of prompts of the SAME length (so the cached prefix needs no padding and every
    row's positions are the unpadded ones), filled up to max_batch continuation rows and
    max_tokens padded tokens (cached prefix + continuation)."""
    by_len: dict[int, list[tuple[int, ...]]] = {}
    for p in groups:
        by_len.setdefault(len(p), []).append(p)
    batches: list[list[tuple[int, ...]]] = []
    for n, prompts in sorted(by_len.items()):
        # Sorted by longest continuation, so a batch pads its continuations little.
        prompts.sort(key=lambda p: max(len(a) for a in groups[p]))
        cur: list[tuple[int, ...]] = []
        rows = 0
        for p in prompts:
            k = len(groups[p])
            longest = 1 + max(len(a) for a in groups[p])  # +1: the prompt's last token is re-run
            if cur and (rows + k > max_batch or (rows + k) * (n - 1 + longest) > max_tokens):
                batches.append(cur)
                cur, rows = [], 0
            cur.append(p)
            rows += k
        if cur:
            batches.append(cur)
    return batches


def _keep_logits(model: torch.nn.Module, ids: torch.Tensor, keep: torch.Tensor, past) -> torch.Tensor:
    """Logits (N, V) at the True positions of keep (B, T), row-major. Asks the model to apply its
    LM head only there (transformers 5 `logits_to_keep` with a boolean mask); slices otherwise."""
    kwargs = dict(input_ids=ids, past_key_values=past, use_cache=past is not None)
    if _accepts(model, "logits_to_keep"):
        logits = model(**kwargs, logits_to_keep=keep).logits
        if logits.dim() == 2 and logits.size(0) == int(keep.sum()):
            return logits
        if logits.dim() == 3 and logits.shape[:2] == keep.shape:
            return logits[keep]
        raise PrefixSharingUnsupported(f"unexpected logits shape {tuple(logits.shape)} for logits_to_keep")
    return model(**kwargs).logits[keep]


def _score_shared(
    model: torch.nn.Module,
    encoded: Sequence[Encoded],
    pad: int,
    max_tokens: int,
    max_batch: int,
    eos: int | None = None,
    detail: Sequence[bool] | None = None,
) -> list[Score]:
    """Prefix-sharing path. For a prompt p (length n) and its continuations a_1..a_k:
    1. run p[:-1] once (G prompts of the same length in one batch) -> KV cache (G, heads, n-1, d);
    2. copy each prompt's cache rows to its k continuation rows (R = sum of k);
    3. run [p[-1]] + a_j on top (right-padded, so no real token ever attends to padding);
       position t predicts a_j[t], exactly as position n-1+t does in the full sequence."""
    from transformers.cache_utils import Cache

    dev = _device(model)
    # Identical (prompt, answer) pairs are scored once (e.g. a paraphrase equal to the answer).
    groups: dict[tuple[int, ...], list[tuple[int, ...]]] = {}
    for e in encoded:
        conts = groups.setdefault(e.prompt, [])
        if e.answer not in conts:
            conts.append(e.answer)
    # A pair scored once serves every copy of it, so it gets the statistics if any copy needs them.
    need = {
        (e.prompt, e.answer) for e, d in zip(encoded, detail if detail is not None else [False] * len(encoded)) if d
    }
    results: dict[tuple[tuple[int, ...], tuple[int, ...]], Score] = {}
    accepts_keep = _accepts(model, "logits_to_keep")
    for prompts in _prefix_batches(groups, max_tokens, max_batch):
        n = len(prompts[0])
        rows = [(p, a) for p in prompts for a in groups[p]]
        row_group = torch.tensor([g for g, p in enumerate(prompts) for _ in groups[p]], device=dev)
        past = None
        if n > 1:
            prefix = torch.tensor([p[:-1] for p in prompts], device=dev)  # (G, n-1)
            extra = {"logits_to_keep": 1} if accepts_keep else {}  # the prefix's logits are not needed
            past = model(input_ids=prefix, use_cache=True, **extra).past_key_values
            if not isinstance(past, Cache) or any(getattr(past, "is_linear", [])):
                raise PrefixSharingUnsupported(f"cache of type {type(past).__name__} cannot be copied across rows")
            past.batch_select_indices(row_group)  # (R, heads, n-1, d) in every layer
        T = 1 + max(len(a) for _, a in rows)
        ids = torch.full((len(rows), T), pad, dtype=torch.long)
        keep = torch.zeros((len(rows), T), dtype=torch.bool)
        for r, (p, a) in enumerate(rows):
            ids[r, : 1 + len(a)] = torch.tensor((p[-1],) + a)
            keep[r, : len(a)] = True  # position t predicts a[t]
        targets = torch.tensor([t for _, a in rows for t in a], device=dev)
        logits = _keep_logits(model, ids.to(dev), keep.to(dev), past)  # (N, V)
        for row, score in zip(rows, _row_scores(logits, targets, [a for _, a in rows], [r in need for r in rows], eos)):
            results[row] = score
    return [results[(e.prompt, e.answer)] for e in encoded]


@torch.inference_mode()
def generate_answers(
    model: torch.nn.Module,
    encoder: Encoder,
    questions: Sequence[str | tuple[str, str]],
    max_new_tokens: int = 48,
    max_batch: int = 64,
    max_tokens: int = 16384,
) -> list[str]:
    """Greedy answers, batched (max_batch=1: one question at a time, with identical answers)."""
    return score_and_generate(model, encoder, [], questions, max_new_tokens, max_tokens, max_batch)[1]


def generate_token_ids(
    model: torch.nn.Module,
    encoder: Encoder,
    questions: Sequence[str],
    max_new_tokens: int,
    max_batch: int = 64,
    max_tokens: int = 16384,
) -> list[list[int]]:
    """Greedy answers as token ids (up to and including the first EOS)."""
    return score_and_generate_ids(model, encoder, [], questions, max_new_tokens, max_tokens, max_batch)[1]


def _hf_generate(
    model: torch.nn.Module, tok, unique: Sequence[tuple[int, ...]], max_new_tokens: int, max_batch: int
) -> dict[tuple[int, ...], list[int]]:
    """The fallback: HF `generate`, left padding, prompts grouped by length."""
    dev = _device(model)
    pad = tok.pad_token_id
    answers: dict[tuple[int, ...], list[int]] = {}
    for idx in length_buckets([len(p) for p in unique], max_tokens=max_batch * 512, max_batch=max_batch):
        T = max(len(unique[i]) for i in idx)
        ids = torch.full((len(idx), T), pad, dtype=torch.long)
        att = torch.zeros((len(idx), T), dtype=torch.long)
        for row, i in enumerate(idx):
            p = unique[i]
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
            ids = gen[row, T:].tolist()
            eos = tok.eos_token_id
            answers[unique[i]] = (
                ids[: ids.index(eos) + 1] if eos is not None and eos in ids else ids
            )  # the rest is padding
    return answers
