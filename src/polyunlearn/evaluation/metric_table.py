"""The one metrics table of polyunlearn: every metric a summary reports, with its summary column,
split, direction, one-line description, formula, the name the reference projects give it
(TOFU's aggregate_eval_stat.py, open-unlearning's TOFU/MUSE configs, MUSE's eval.py) and
where polyunlearn differs from that reference and why ("" = the same value on the same
per-sample inputs, checked in tests/evaluation/test_reference_parity.py and tests/evaluation/test_tofu_logs.py).

Summaries keep the systematic `<split>_<metric>` columns (forget_prob, retain_rouge_l, ...);
this table maps each to the reference name, and `reference_names` / `export.py` write the
reference's own naming. Summaries (records.summarize), the transfer matrices (HEADLINE,
ITEM_METRIC), the console tables and the HTML report read this table.

    polyunlearn metrics                   # the table in the terminal
    from polyunlearn.evaluation.metric_table import lookup
    lookup("forget_prob").open_unlearning  # -> "forget_Q_A_Prob"
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from polyunlearn.data.schema import GENERAL_SPLITS


@dataclass(frozen=True)
class Metric:
    column: str  # summary column
    split: str | None  # split it is computed on; None = compares splits or models
    higher_is_better: bool | None  # for the unlearning goal; None = a target value, not a direction
    description: str
    formula: str
    tofu: str = ""  # name in TOFU's aggregate_eval_stat.py output
    open_unlearning: str = ""  # metric key in open-unlearning's evaluation summary
    muse: str = ""  # key in MUSE's eval.py output
    differs: str = ""  # where polyunlearn differs from the reference, and why
    item: str = ""  # per-item record key behind the column (the paired tests use it)
    direction: str = ""  # short phrase for plot titles


# Split names as the references spell them: TOFU's file labels, open-unlearning's key prefixes.
TOFU_SPLIT = {"forget": "Forget", "retain": "Retain", "real_authors": "Real Authors", "world_facts": "Real World"}
OU_PREFIX = {"forget": "forget", "retain": "retain", "real_authors": "ra", "world_facts": "wf"}
ROUGE_DIFF = (
    "English: none (rouge-score, use_stemmer=True). Other languages: a Unicode tokenizer (letter/mark/digit "
    "runs; characters for zh/ja), since rouge-score's tokenizer deletes every non [a-z0-9] character "
    "and scores such answers 0."
)
# open-unlearning (src/evals/metrics/memorization.py, truth_ratio) computes P = exp(-mean NLL) and
# tr = P_perturbed / (P_true + 1e-10): its tr is ours times P_true / (P_true + 1e-10), a relative
# error of about 1e-10 / P_true. That exceeds 1e-6 once P_true < 1e-4 (mean NLL of the true answer
# above ln(1e4) = 9.2), common on an unlearned forget set, and halves tr at a mean NLL of 23.
TR_EPS = (
    "open-unlearning computes tr = P_perturbed / (P_true + 1e-10) with P = exp(-mean NLL): a relative "
    "error of about 1e-10 / P_true in tr, which exceeds 1e-6 once P_true < 1e-4 (true answer's mean NLL "
    "above 9.2, common on an unlearned forget set) and halves tr at a mean NLL of 23; we compute tr exactly "
    "(in log space)."
)


def _ou(split: str, suffix: str) -> str:
    return f"{OU_PREFIX[split]}_{suffix}" if split in OU_PREFIX else ""


def _tofu(split: str, name: str) -> str:
    return f"{name} {TOFU_SPLIT[split]}" if split in TOFU_SPLIT else ""


def _prob(split: str) -> Metric:
    general = split in GENERAL_SPLITS
    return Metric(
        f"{split}_prob",
        split,
        split != "forget",
        "answer probability, length-normalized",
        "mean_i exp(-mean NLL of the answer tokens given the question, EOS included)",
        tofu="" if general else _tofu(split, "Prob."),
        open_unlearning=_ou(split, "Q_A_Prob"),
        item="prob",
        direction="lower is more forgetting" if split == "forget" else "higher is better",
        differs="" if split in OU_PREFIX else "no reference split",
    )


def _normalized_prob(split: str) -> Metric:
    return Metric(
        f"{split}_normalized_prob",
        split,
        True,
        "probability of the true answer among the true and the perturbed ones",
        "mean_i p_true / (p_true + sum_j p_perturbed_j), each p = exp(-mean NLL)",
        tofu=_tofu(split, "Prob."),
        open_unlearning=_ou(split, "Q_A_Prob_normalised"),
        item="normalized_prob",
        differs="computed as a softmax (exact when every p underflows); open-unlearning adds 1e-10 to the denominator."
        if split in OU_PREFIX
        else "bundled general set: no reference split",
    )


def _rouge(split: str) -> Metric:
    return Metric(
        f"{split}_rouge_l",
        split,
        split != "forget",
        "ROUGE-L recall of the greedy answer against the gold answer",
        "mean_i LCS(gold, greedy) / len(gold), in ROUGE tokens",
        tofu=_tofu(split, "ROUGE"),
        open_unlearning=_ou(split, "Q_A_ROUGE"),
        item="rouge_l",
        differs=ROUGE_DIFF,
    )


def _rouge_f1(split: str) -> Metric:
    muse = {"forget": "knowmem_f", "retain": "knowmem_r"}.get(split, "")
    return Metric(
        f"{split}_rouge_l_f1",
        split,
        split != "forget",
        "ROUGE-L F1 of the greedy answer (MUSE's knowledge memorization)",
        "mean_i F1(LCS precision, LCS recall) of greedy vs gold answer",
        muse=muse,
        open_unlearning=f"{split}_knowmem_ROUGE" if muse else "",
        item="rouge_l_f1",
        differs=(
            "MUSE asks with in-context QA examples and reports x100 without the stemmer; here the data's own "
            "question frame, in [0, 1], tokenized as ROUGE-L recall."
        )
        if muse
        else "no reference split",
    )


def _truth_ratio(split: str) -> Metric:
    forget = split == "forget"
    return Metric(
        f"{split}_truth_ratio_score",
        split,
        True,
        "Truth Ratio: can the model tell the true answer from the perturbed ones"
        + (" (1 = it cannot)" if forget else ""),
        ("mean_i min(tr, 1/tr)" if forget else "mean_i max(0, 1 - tr)")
        + "; tr = P_perturbed / P_true, P = exp(-mean NLL), "
        "P_perturbed = geometric mean over perturbed answers, true = the paraphrase where the item has one",
        tofu=_tofu(split, "Truth Ratio"),
        open_unlearning="forget_truth_ratio" if forget else _ou(split, "Truth_Ratio"),
        item="truth_ratio_score",
        direction="higher = closer to not knowing" if forget else "",
        differs=(
            TR_EPS
            + (
                " Its forget_truth_ratio uses aggregator closer_to_1_better (this formula); one later config "
                "uses prob_mean (mean tr), which we do not follow."
                if forget
                else ""
            )
        )
        if split in OU_PREFIX
        else "bundled general set: perturbed answers are in the paraphrase's frame, so true = paraphrase",
    )


def _memorization(split: str) -> list[Metric]:
    em = Metric(
        f"{split}_exact_memorization",
        split,
        split != "forget",
        "share of answer tokens that are the model's argmax (teacher forcing)",
        "mean_i mean_t [argmax p(. | q, a_<t) = a_t], EOS excluded",
        open_unlearning="exact_memorization" if split == "forget" else "",
        item="exact_memorization",
    )
    es = Metric(
        f"{split}_extraction_strength",
        split,
        split != "forget",
        "how short a gold prefix makes the model produce the rest",
        "mean_i 1 - k/n, k = first position from which every argmax matches the gold answer (n answer tokens, EOS excluded)",
        open_unlearning={"forget": "extraction_strength", "retain": "retain_extraction_strength"}.get(split, ""),
        item="extraction_strength",
        differs="as open-unlearning: k is searched in 0..n-1, so an item with no matching suffix scores 1/n, not 0."
        + (
            " The key depends on open-unlearning's version: its eval/tofu.yaml at commit 9f7a15d lists "
            "retain_extraction_strength (tofu_metrics/retain_extraction_strength.yaml, on retain_perturbed); "
            "others (e.g. 09aaf40) have no retain extraction strength, only extraction_strength on the forget split."
            if split == "retain"
            else ""
        ),
    )
    return [em, es]


def _split_metrics(split: str) -> list[Metric]:
    out = [_prob(split)]
    if split in GENERAL_SPLITS:
        out.append(_normalized_prob(split))
    out += [_rouge(split), _rouge_f1(split), _truth_ratio(split), *_memorization(split)]
    return out


MIA_DIFF = "open-unlearning negates the score and labels holdout 1: the same AUC."
CROSS_SPLIT = [
    Metric(
        "model_utility",
        None,
        True,
        "harmonic mean of retain and general-knowledge utility",
        "HM(retain Prob, ROUGE, Truth Ratio; per general set: normalized prob, ROUGE, Truth Ratio): 9 values on "
        "TOFU (retain, real_authors, world_facts), 6 on the bundled benchmark; model_utility_n says how many",
        tofu="Model Utility",
        open_unlearning="model_utility",
        direction="higher is better",
        differs="bundled benchmark: its one general set gives 6 values (TOFU has two general sets).",
    ),
    Metric(
        "forget_quality",
        None,
        True,
        "KS-test p-value of forget truth ratios vs the retain model's, per language",
        "scipy.stats.ks_2samp(tr_unlearned, tr_retain_model).pvalue over forget items",
        tofu="Forget Quality",
        open_unlearning="forget_quality",
        direction="higher = closer to the retain model",
        differs=(
            "TOFU's aggregate_eval_stat.py tests 1/tr = exp(perturbed loss - paraphrased loss); open-unlearning's "
            "ks_test tests tr as its truth_ratio gives it (P_perturbed / (P_true + 1e-10)), as we do. The KS "
            "p-value does not change when both samples are reversed (1/x is monotone); only the 1e-10 can differ "
            "(see the truth ratio's note)."
        ),
    ),
    Metric(
        "mia_loss_auc",
        None,
        None,
        "membership attack on the loss: ROC AUC forget (members) vs holdout",
        "AUC(-mean NLL, forget vs holdout); 0.5 = hidden, 1 = plain",
        open_unlearning="mia_loss",
        differs=MIA_DIFF,
    ),
    Metric(
        "mia_zlib_auc",
        None,
        None,
        "zlib attack: mean NLL / zlib bytes of the answer, ROC AUC forget vs holdout",
        "AUC(-(mean NLL / len(zlib(answer UTF-8))))",
        open_unlearning="mia_zlib",
        differs=MIA_DIFF + " zlib size of the answer text as in the data (open-unlearning: the decoded answer tokens).",
    ),
    Metric(
        "mia_min_k_auc",
        None,
        None,
        "Min-K% attack, k = 0.4, answer tokens without EOS: ROC AUC forget vs holdout",
        "AUC(mean of the lowest int(0.4 n) token log-probs)",
        open_unlearning="mia_min_k",
        differs=MIA_DIFF,
    ),
    Metric(
        "mia_min_k_plus_plus_auc",
        None,
        None,
        "Min-K%++ attack (Zhang et al. 2024), k = 0.4: ROC AUC forget vs holdout",
        "AUC(mean of the lowest int(0.4 n) z_t = (log p(x_t) - mu_t) / sigma_t), mu/sigma^2 over the vocabulary",
        open_unlearning="mia_min_k_plus_plus",
        differs=MIA_DIFF + " mu, sigma in float32 (open-unlearning: the model dtype).",
    ),
    Metric(
        "privleak",
        None,
        None,
        "MUSE's PrivLeak on Min-K% (k 0.4): ~0 = as private as the retain model, ~-100 = leaking",
        "100 (AUC_M - AUC_M,retain) / AUC_M,retain, AUC_M = 1 - mia_min_k_auc",
        muse="privleak",
        open_unlearning="privleak",
        differs="None when AUC_M,retain = 0 (open-unlearning adds 1e-10 to the denominator); MUSE divides by a fixed "
        "retrained-model AUC, here the retain model's in the same language.",
    ),
]

# Per-item record keys averaged per split by records.summarize (column `<split>_<key>`).
ITEM_MEANS = (
    "prob",
    "rouge_l",
    "rouge_l_f1",
    "truth_ratio_score",
    "normalized_prob",
    "exact_memorization",
    "extraction_strength",
)
# Membership attacks: name -> (per-item record key, sign that makes higher = member).
MIA_ATTACKS = {
    "loss": ("nll", -1.0),
    "zlib": ("zlib", -1.0),
    "min_k": ("min_k", 1.0),
    "min_k_plus_plus": ("min_k_plus_plus", 1.0),
}
SPLITS_REPORTED = ("forget", "retain", "real_authors", "world_facts", "general", "holdout")
METRICS: tuple[Metric, ...] = tuple(m for s in SPLITS_REPORTED for m in _split_metrics(s)) + tuple(CROSS_SPLIT)
_BY_COLUMN = {m.column: m for m in METRICS}
# Metrics that get a transfer matrix (heatmap), and the per-language console table, in order.
HEADLINE = ("forget_prob", "retain_prob", "forget_truth_ratio_score", "model_utility", "forget_quality")
CONSOLE = (
    "forget_prob",
    "retain_prob",
    "forget_rouge_l",
    "retain_rouge_l",
    "forget_truth_ratio_score",
    "model_utility",
    "forget_quality",
)


def lookup(column: str) -> Metric:
    """The table row of a summary column; lm-evaluation-harness columns (`lm_<task>_<metric>`)
    get a generic row. An unknown column is an error naming it (a typo, or a metric missing
    from the table)."""
    if column in _BY_COLUMN:
        return _BY_COLUMN[column]
    if column.startswith("lm_"):
        return Metric(
            column,
            None,
            None,
            f"lm-evaluation-harness score {column[3:]} (see lm_eval.csv)",
            "lm_eval.simple_evaluate on the same in-memory model",
            differs="none: lm-eval computes it",
        )
    raise KeyError(f"metric {column!r} is not in the metrics table (polyunlearn metrics lists them)")


def headline() -> dict[str, str]:
    """Metrics that get a transfer matrix, and which direction is good (plot titles)."""
    return {c: _BY_COLUMN[c].direction for c in HEADLINE}


def item_metrics() -> dict[str, tuple[str, str]]:
    """Headline metric -> (per-item record key, split) for the paired per-item tests."""
    rows = [_BY_COLUMN[c] for c in HEADLINE]
    return {m.column: (m.item, m.split) for m in rows if m.item and m.split}


def console_columns() -> list[str]:
    return list(CONSOLE)


def reference_names(style: str) -> dict[str, str]:
    """{summary column: reference name} for style 'tofu', 'open_unlearning' or 'muse'."""
    if style not in ("tofu", "open_unlearning", "muse"):
        raise ValueError(f"reference style {style!r}; expected tofu, open_unlearning or muse")
    return {m.column: getattr(m, style) for m in METRICS if getattr(m, style)}


def table_rows(columns: list[str] | None = None) -> list[dict]:
    """The table as plain rows (all metrics, or those of `columns` in that order)."""
    chosen = METRICS if columns is None else [lookup(c) for c in columns]
    return [asdict(m) for m in chosen]
