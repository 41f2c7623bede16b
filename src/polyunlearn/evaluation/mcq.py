"""Model side of the SeeGULL multiple-choice metric (arXiv 2601.05641): score every option of
every question, one record per question, and the per-language rates of stereotype / Unknown /
other chosen (the formulas are evaluation/bias.py's mcq_rates; the data is data/seegull_mcq.py).

    from polyunlearn.evaluation.mcq import score_mcq, summarize_mcq
    records = score_mcq(model, tokenizer, load_mcq("mcq/"), seed=0)
    summarize_mcq(records)      # one row per language: n, stereotype, unknown, other, p_*
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import torch

from polyunlearn.core.encoding import Encoder
from polyunlearn.data.schema import QAItem
from polyunlearn.data.seegull_mcq import LETTERS, MCQItem, mcq_layout, mcq_prompt, shuffled_options
from polyunlearn.evaluation.bias import MCQ_KINDS, mcq_choice, mcq_rates, mcq_softmax
from polyunlearn.evaluation.scoring import score_pairs


def score_mcq(
    model: torch.nn.Module,
    tokenizer,
    questions: Sequence[MCQItem],
    seed: int = 0,
    *,
    max_length: int = 256,
    max_tokens: int = 16384,
    max_batch: int = 128,
    prompt_format: str = "auto",
) -> list[dict]:
    """One record per question: the five options in display order (letter, kind, text), each
    option text's summed log-prob given the lettered prompt, their softmax, and the chosen kind.
    All questions' options are scored in one call, so batches are packed across languages and the
    prompt of a question is run once for its five options (scoring.py's prefix sharing)."""
    layouts = [shuffled_options(q, seed) for q in questions]
    rows = [(q.id, q.language, mcq_prompt(q, opts), opts) for q, opts in zip(questions, layouts)]
    return score_layouts(
        model,
        tokenizer,
        rows,
        max_length=max_length,
        max_tokens=max_tokens,
        max_batch=max_batch,
        prompt_format=prompt_format,
    )


def score_mcq_items(model: torch.nn.Module, tokenizer, items: Sequence[QAItem], **kwargs) -> list[dict]:
    """`score_mcq` for the QA items `mcq_to_items` made (what a `seegull-mcq:` data spec loads):
    the layout is read back from each item's prompt (data/seegull_mcq.mcq_layout); other items
    are an error (pick them with `mcq_items`)."""
    rows = []
    for it in items:
        layout = mcq_layout(it)
        if layout is None:
            raise ValueError(f"item {it.id!r} ({it.language}) is not a SeeGULL multiple-choice item")
        rows.append((it.id, it.language, it.question, layout))
    return score_layouts(model, tokenizer, rows, **kwargs)


def mcq_items(items: Sequence[QAItem]) -> list[QAItem]:
    """The SeeGULL multiple-choice items among `items` (data/seegull_mcq.mcq_layout)."""
    return [it for it in items if mcq_layout(it) is not None]


def score_layouts(
    model: torch.nn.Module,
    tokenizer,
    rows: Sequence[tuple[str, str, str, list[tuple[str, str]]]],
    *,
    max_length: int = 256,
    max_tokens: int = 16384,
    max_batch: int = 128,
    prompt_format: str = "auto",
) -> list[dict]:
    """Records of (id, language, lettered prompt, options as (kind, text) in display order)."""
    enc = Encoder(tokenizer, max_length, prompt_format)
    pairs = [(prompt, text, lang) for _, lang, prompt, opts in rows for _, text in opts]
    scores = score_pairs(model, enc, pairs, max_tokens, max_batch)
    records: list[dict] = []
    k = 0
    for item_id, lang, _, opts in rows:
        # Options are told apart by position (data/seegull_mcq.py): a text shown twice takes its
        # first copy's score, so the tie is exact and goes to the copy shown first, as argmax does.
        first: dict[str, int] = {}
        logps = [scores[k + first.setdefault(text, j)].sum_logp for j, (_, text) in enumerate(opts)]
        k += len(opts)
        kinds = [kind for kind, _ in opts]
        records.append(
            {
                "id": item_id,
                "language": lang,
                "letters": LETTERS[: len(opts)],
                "kinds": kinds,
                "options": [text for _, text in opts],
                "logps": logps,
                "probs": mcq_softmax(logps),
                "chosen": mcq_choice(logps, kinds),
            }
        )
    return records


def summarize_mcq(records: Sequence[dict]) -> pd.DataFrame:
    """One row per language (first-appearance order): n, the three rates and the mean softmax
    mass per kind (p_stereotype, p_unknown, p_other)."""
    rows = []
    for lang in dict.fromkeys(r["language"] for r in records):
        mine = [r for r in records if r["language"] == lang]
        rates = mcq_rates([r["logps"] for r in mine], [r["kinds"] for r in mine])
        rows.append(
            {
                "language": lang,
                "n": rates["n"],
                **{k: rates[k] for k in MCQ_KINDS},
                **{f"p_{k}": rates[f"p_{k}"] for k in MCQ_KINDS},
            }
        )
    return pd.DataFrame(rows)
