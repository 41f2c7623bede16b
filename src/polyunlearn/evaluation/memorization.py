"""MUSE-style verbatim memorization (VerbMem, Shi et al. 2024 "MUSE"): prompt the model with
the start of a passage of the forget corpus, let it continue greedily, and score the
continuation against the passage's true continuation with ROUGE-L F1 (metrics.rouge_l_f1:
rouge-score with the stemmer for English, as open-unlearning's `forget_verbmem_ROUGE`; MUSE's
own code scores without the stemmer and reports x100).

Which data has passages: MUSE's own (news / books corpora) and polyunlearn's bundled news
corpus of study A (data/news.py: real and fake news documents). The QA benchmarks (bundled
fictitious facts, TOFU) have questions and answers, not passages; their MUSE-style knowledge
memorization (KnowMem) is the `<split>_rouge_l_f1` summary column. Study A does not call
this yet (see the metrics table in the README).

    pairs = passages(tok, documents, prompt_tokens=32, continuation_tokens=128)
    scores = verbatim_memorization(model, tok, pairs, "en")
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from polyunlearn.data.schema import DataError
from polyunlearn.evaluation.metrics import rouge_l_f1
from polyunlearn.evaluation.scoring import generate_answers


class RawPrompts:
    """An `Encoder` stand-in for scoring.generate_answers: the prompt is the raw passage start
    (BOS + its tokens), not the question frame, since a passage is continued, not answered."""

    def __init__(self, tokenizer) -> None:
        self.tok = tokenizer

    def prompt(self, text: str) -> tuple[int, ...]:
        ids = self.tok(text, add_special_tokens=False)["input_ids"]
        bos = self.tok.bos_token_id
        return tuple([bos] + ids if bos is not None else ids)


def passages(
    tokenizer, texts: Sequence[str], prompt_tokens: int = 32, continuation_tokens: int = 128
) -> list[tuple[str, str]]:
    """(prompt, true continuation) per text: its first `prompt_tokens` tokens and the up to
    `continuation_tokens` after them, decoded. A text with no token after the prompt is an
    error naming it (it has nothing to continue)."""
    if prompt_tokens < 1 or continuation_tokens < 1:
        raise ValueError(
            f"prompt_tokens and continuation_tokens must be >= 1, got {prompt_tokens}, {continuation_tokens}"
        )
    out = []
    for k, text in enumerate(texts):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) <= prompt_tokens:
            raise DataError(
                f"passage {k} has {len(ids)} tokens: none left to continue after a {prompt_tokens}-token prompt"
            )
        rest = ids[prompt_tokens : prompt_tokens + continuation_tokens]
        out.append((tokenizer.decode(ids[:prompt_tokens]), tokenizer.decode(rest).strip()))
    return out


@torch.inference_mode()
def verbatim_memorization(
    model: torch.nn.Module,
    tokenizer,
    pairs: Sequence[tuple[str, str]],
    language: str,
    max_new_tokens: int = 128,
    max_batch: int = 16,
) -> list[float]:
    """ROUGE-L F1 of the greedy continuation of each prompt against its true continuation
    (MUSE: mean over passages = verbmem_f). `language` picks the ROUGE tokenizer."""
    prompts = [p for p, _ in pairs]
    generated = generate_answers(model, RawPrompts(tokenizer), prompts, max_new_tokens, max_batch)  # type: ignore[arg-type]
    return [rouge_l_f1(gen, gold, language) for gen, (_, gold) in zip(generated, pairs)]
