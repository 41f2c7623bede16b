"""Turning QA items into token tensors: prompt/answer encoding (cached, so no text is tokenized
twice), right-padded training batches with the prompt masked out of the labels, and length
bucketing so a batch holds sequences of similar length (less padding, faster scoring)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from polyunlearn.core.models import answer_text, format_prompt

IGNORE = -100  # label value the loss skips (prompt and padding positions)


@dataclass(frozen=True)
class Encoded:
    prompt: tuple[int, ...]
    answer: tuple[int, ...]
    # Named second encodings that travel with this one through shuffling, e.g. (("idk", the same
    # question with an "I don't know" answer),); collate adds them as "<name>_input_ids", ...
    extra: tuple[tuple[str, "Encoded"], ...] = ()
    # The item's language as core.languages.language_index, for methods that weigh languages
    # (methods.registry: needs_language); collate adds "language" (B,) when every row has one.
    language: int | None = None

    @property
    def length(self) -> int:
        return len(self.prompt) + len(self.answer)


class Encoder:
    """Encodes (question, answer) pairs; caches prompts and answers separately because the same
    question is scored with its answer, paraphrase and every perturbed answer."""

    def __init__(self, tokenizer, max_length: int = 256):
        self.tok = tokenizer
        self.max_length = max_length
        self._prompts: dict[str, tuple[int, ...]] = {}
        self._answers: dict[str, tuple[int, ...]] = {}

    def prompt(self, question: str) -> tuple[int, ...]:
        ids = self._prompts.get(question)
        if ids is None:
            text = format_prompt(self.tok, question)
            ids = self.tok(text, add_special_tokens=False)["input_ids"]
            bos = self.tok.bos_token_id
            # Chat templates usually emit BOS themselves; the plain frame does not.
            if bos is not None and (not ids or ids[0] != bos):
                ids = [bos] + ids
            ids = tuple(ids)
            self._prompts[question] = ids
        return ids

    def answer(self, answer: str) -> tuple[int, ...]:
        ids = self._answers.get(answer)
        if ids is None:
            ids = self.tok(answer_text(self.tok, answer), add_special_tokens=False)["input_ids"]
            if self.tok.eos_token_id is not None:
                ids = ids + [self.tok.eos_token_id]
            ids = tuple(ids)
            self._answers[answer] = ids
        return ids

    def warm(self, questions: Sequence[str] = (), answers: Sequence[str] = ()) -> None:
        """Tokenize every prompt and answer not cached yet in one batched tokenizer call each
        (a fast tokenizer encodes a list in one go; one call per text cost 16% of scoring on
        the tiny model). The ids are exactly those of prompt() / answer() one at a time."""
        new_q = [q for q in dict.fromkeys(questions) if q not in self._prompts]
        if new_q:
            ids = self.tok([format_prompt(self.tok, q) for q in new_q], add_special_tokens=False)["input_ids"]
            bos = self.tok.bos_token_id
            for q, x in zip(new_q, ids):
                self._prompts[q] = tuple(x if bos is None or (x and x[0] == bos) else [bos] + x)
        new_a = [a for a in dict.fromkeys(answers) if a not in self._answers]
        if new_a:
            ids = self.tok([answer_text(self.tok, a) for a in new_a], add_special_tokens=False)["input_ids"]
            eos = self.tok.eos_token_id
            for a, x in zip(new_a, ids):
                self._answers[a] = tuple(x + [eos] if eos is not None else x)

    def encode(self, question: str, answer: str) -> Encoded:
        p, a = self.prompt(question), self.answer(answer)
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
