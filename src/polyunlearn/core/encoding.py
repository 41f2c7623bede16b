"""Turning QA items into token tensors: prompt/answer encoding (cached, so no text is tokenized
twice), right-padded training batches with the prompt masked out of the labels, and length
bucketing so a batch holds sequences of similar length (less padding, faster scoring)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from polyunlearn.core.prompts import LANGUAGE_FORMATS, answer_text, prompt_text, resolved

IGNORE = -100  # label value the loss skips (prompt and padding positions)


@dataclass(frozen=True)
class Encoded:
    prompt: tuple[int, ...]
    answer: tuple[int, ...]
    # Named second encodings that travel with this one through shuffling, e.g. (("idk", the same
    # question with an "I don't know" answer),); collate adds them as "<name>_input_ids", ...
    extra: tuple[tuple[str, Encoded], ...] = ()
    # The item's language as core.languages.language_index, for methods that weigh languages
    # (methods.registry: needs_language); collate adds "language" (B,) when every row has one.
    language: int | None = None

    @property
    def length(self) -> int:
        return len(self.prompt) + len(self.answer)


class Encoder:
    """Encodes (question, answer) pairs in one prompt format (core/prompts.py); caches prompts and
    answers separately because the same question is scored with its answer, paraphrase and every
    perturbed answer. `language` matters only for formats with per-language tags (amnesia)."""

    def __init__(self, tokenizer, max_length: int = 256, prompt_format: str = "auto"):
        self.tok = tokenizer
        self.max_length = max_length
        self.prompt_format = prompt_format
        # Checked now (an unknown name, or chat without a template, fails before any encoding).
        self._per_language = resolved(tokenizer, prompt_format) in LANGUAGE_FORMATS
        self._prompts: dict[tuple[str, str | None], tuple[int, ...]] = {}
        self._answers: dict[tuple[str, str | None], tuple[int, ...]] = {}

    def _key(self, text: str, language: str | None) -> tuple[str, str | None]:
        return (text, language if self._per_language else None)

    def prompt(self, question: str, language: str | None = None) -> tuple[int, ...]:
        key = self._key(question, language)
        ids = self._prompts.get(key)
        if ids is None:
            text = prompt_text(self.tok, question, self.prompt_format, language)
            ids = self.tok(text, add_special_tokens=False)["input_ids"] if text else []
            bos = self.tok.bos_token_id
            # Chat templates usually emit BOS themselves; the plain frame does not.
            if bos is not None and (not ids or ids[0] != bos):
                ids = [bos] + ids
            ids = tuple(ids)
            self._prompts[key] = ids
        return ids

    def answer(self, answer: str, language: str | None = None) -> tuple[int, ...]:
        key = self._key(answer, language)
        ids = self._answers.get(key)
        if ids is None:
            text = answer_text(self.tok, answer, self.prompt_format, language)
            ids = self.tok(text, add_special_tokens=False)["input_ids"]
            if self.tok.eos_token_id is not None:
                ids = ids + [self.tok.eos_token_id]
            ids = tuple(ids)
            self._answers[key] = ids
        return ids

    def warm(self, questions: Sequence = (), answers: Sequence = ()) -> None:
        """Tokenize every prompt and answer not cached yet in one batched tokenizer call each
        (a fast tokenizer encodes a list in one go; one call per text cost 16% of scoring on
        the tiny model). Each element is a text or (text, language); the ids are exactly those
        of prompt() / answer() one at a time."""
        qs = [self._key(*(q if isinstance(q, tuple) else (q, None))) for q in questions]
        new_q = [k for k in dict.fromkeys(qs) if k not in self._prompts]
        if new_q:
            texts = [prompt_text(self.tok, q, self.prompt_format, lang) for q, lang in new_q]
            ids = self.tok(texts, add_special_tokens=False)["input_ids"] if any(texts) else [[] for _ in texts]
            bos = self.tok.bos_token_id
            for k, text, x in zip(new_q, texts, ids):
                x = x if text else []
                self._prompts[k] = tuple(x if bos is None or (x and x[0] == bos) else [bos] + x)
        ans = [self._key(*(a if isinstance(a, tuple) else (a, None))) for a in answers]
        new_a = [k for k in dict.fromkeys(ans) if k not in self._answers]
        if new_a:
            ids = self.tok(
                [answer_text(self.tok, a, self.prompt_format, lang) for a, lang in new_a], add_special_tokens=False
            )["input_ids"]
            eos = self.tok.eos_token_id
            for k, x in zip(new_a, ids):
                self._answers[k] = tuple(x + [eos] if eos is not None else x)

    def encode(self, question: str, answer: str, language: str | None = None) -> Encoded:
        p, a = self.prompt(question, language), self.answer(answer, language)
        # Truncate the prompt from the left, never the answer: the answer is what is scored.
        overflow = len(p) + len(a) - self.max_length
        if overflow > 0:
            p = p[overflow:] if overflow < len(p) else p[-1:]
        return Encoded(p, a)


def collate(encoded: Sequence[Encoded], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded batch: input_ids/attention_mask (B, T) and labels with prompt+pad = IGNORE,
    plus "<name>_input_ids/_attention_mask/_labels" (B, T') for each second encoding in `extra`,
    and "language" (B,) when every row carries its language index."""
    T = max(e.length for e in encoded)
    B = len(encoded)
    input_ids = torch.full((B, T), pad_id, dtype=torch.long)
    attention = torch.zeros((B, T), dtype=torch.long)
    labels = torch.full((B, T), IGNORE, dtype=torch.long)
    for i, e in enumerate(encoded):
        ids = e.prompt + e.answer
        input_ids[i, : len(ids)] = torch.tensor(ids)
        attention[i, : len(ids)] = 1
        labels[i, len(e.prompt) : len(ids)] = torch.tensor(e.answer)
    batch = {"input_ids": input_ids, "attention_mask": attention, "labels": labels}
    if all(e.language is not None for e in encoded):
        batch["language"] = torch.tensor([e.language for e in encoded], dtype=torch.long)
    for name, _ in encoded[0].extra:
        sub = collate([dict(e.extra)[name] for e in encoded], pad_id)
        batch.update({f"{name}_{k}": v for k, v in sub.items()})
    return batch


def length_buckets(lengths: Sequence[int], max_tokens: int, max_batch: int) -> list[list[int]]:
    """Group indices into batches of similar length: sort by length, then cut a batch when it
    would exceed `max_tokens` padded tokens or `max_batch` rows."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    cur: list[int] = []
    for i in order:
        longest = lengths[i]  # sorted ascending, so the newcomer is the longest
        if cur and (len(cur) + 1 > max_batch or longest * (len(cur) + 1) > max_tokens):
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    return batches
