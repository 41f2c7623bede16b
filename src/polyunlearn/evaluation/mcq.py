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
from polyunlearn.data.seegull_mcq import LETTERS, MCQItem, mcq_prompt, shuffled_options
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
    enc = Encoder(tokenizer, max_length, prompt_format)
    layouts = [shuffled_options(q, seed) for q in questions]
    pairs = [(mcq_prompt(q, opts), text, q.language) for q, opts in zip(questions, layouts) for _, text in opts]
    scores = score_pairs(model, enc, pairs, max_tokens, max_batch)
    records: list[dict] = []
    k = 0
    for q, opts in zip(questions, layouts):
        logps = [scores[k + j].sum_logp for j in range(len(opts))]
        k += len(opts)
        kinds = [kind for kind, _ in opts]
        records.append(
            {
                "id": q.id,
                "language": q.language,
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
