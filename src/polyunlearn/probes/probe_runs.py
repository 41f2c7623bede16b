"""What the probes of `polyunlearn attack` (probes/attack.py) share: the plain evaluations every
recovery is measured against, the prompt-probe group (unlearned and before model under one
probe), and the relearning / quantization robustness table.

A group is {"rows": {row label: per-item records}, "ylabel", "title", optionally "keys" (the
(id, language) items it covers: the held-out ones for relearning), "highlight" and
"before_rows" (the model before unlearning under the same probe, for the raw tables)}.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd

from polyunlearn.core.models import load_model
from polyunlearn.core.rundir import (
    data_fingerprint,
)
from polyunlearn.evaluation import recovery as rec
from polyunlearn.probes.probe_steps import (
    PLAIN,
    probe_evaluation,
)


def plain_evaluations(ctx: Any) -> None:
    """The forget items asked plainly, for the unlearned model, the model before unlearning and
    (when known) the retain model: the m_unlearned and m_before of every recovery."""
    forget = ctx.forget
    ev = probe_evaluation(forget, [PLAIN] * len(forget), ctx.ecfg, ctx.candidates)
    roles = {
        "unlearned": (ctx.load_unlearned, ctx.unlearned),
        "before": (lambda: ctx.target.load_before(), ctx.target.before),
    }
    if ctx.target.retain is not None:
        roles["retain_model"] = (lambda: load_model(str(ctx.target.retain), ctx.target.dtype), ctx.target.retain)
    else:
        ctx.notes.append("no retain model found (give --retain-model): relearning robustness R is not computed")
    for role, (load, path) in roles.items():
        ctx.plain[role] = ctx.evaluate(ctx.top / "plain" / role, load, path, {"data": data_fingerprint(forget)}, ev)


def prompt_group(
    ctx: Any,
    name: str,
    items: list,
    conds: list[str],
    row_of: Callable[[str], str],
    expected: list[str] | None = None,
    prefixes: dict[str, str] | None = None,
) -> tuple[dict[str, list[dict]], dict[str, list[dict]]]:
    """Evaluate the unlearned and the before model on prompt-probe `items`; records grouped into
    rows by row_of(condition)."""
    ev = probe_evaluation(
        items, conds, ctx.ecfg, ctx.candidates, expected=expected, prefixes=prefixes, what={"probe": name}
    )
    out = []
    for role, load, path in (
        ("unlearned", ctx.load_unlearned, ctx.unlearned),
        ("before", lambda: ctx.target.load_before(), ctx.target.before),
    ):
        records = ctx.evaluate(ctx.top / name / role, load, path, {"data": data_fingerprint(items), "probe": name}, ev)
        grouped: dict[str, list[dict]] = {}
        for r in records:
            grouped.setdefault(row_of(r["condition"]), []).append(r)
        out.append(grouped)
    return out[0], out[1]


def robustness(ctx: Any, groups: dict[str, dict]) -> pd.DataFrame | None:
    """Per language: OpenUnlearning's R (relearning on the run's own forget set, unlearned vs
    retain model, held-out forget Prob), Q (NF4, forget Prob) and their harmonic mean, beside the
    run's Forget Quality and Model Utility."""
    quant, relearn = groups.get("quant"), groups.get("relearn")
    if quant is None and relearn is None:
        return None
    u_all = rec.item_means(ctx.plain["unlearned"], "prob")
    nf4 = next((recs for row, recs in (quant or {}).get("rows", {}).items() if row in ("nf4", "merged-nf4")), None)
    q_means = rec.item_means(nf4, "prob") if nf4 is not None else pd.Series(dtype=float)
    r_means = {}
    if relearn and relearn["own"] in relearn["rows"] and relearn["own"] in relearn.get("retain_rows", {}):
        keys = relearn["keys"]

        def held(recs: list[dict]) -> pd.Series:
            return rec.item_means([r for r in recs if (r["id"], r["language"]) in keys], "prob")

        r_means = {
            "ub": held(ctx.plain["unlearned"]),
            "ua": held(relearn["rows"][relearn["own"]]),
            "rb": held(ctx.plain["retain_model"]),
            "ra": held(relearn["retain_rows"][relearn["own"]]),
        }
    summary = ctx.target.run_summary.set_index("language") if ctx.target.run_summary is not None else pd.DataFrame()
    rows = []
    for lang in ctx.target.languages:
        r = (
            rec.relearn_robustness(*(r_means[k].get(lang, math.nan) for k in ("ub", "ua", "rb", "ra")))
            if r_means
            else math.nan
        )
        q = rec.quantization_robustness(u_all.get(lang, math.nan), q_means.get(lang, math.nan))
        rows.append(
            {
                "method": ctx.target.cfg.method,
                "forget_langs": ",".join(ctx.target.forget_langs),
                "language": lang,
                "R": r,
                "Q": q,
                "robustness": rec.harmonic(r, q),
                "forget_quality": _get(summary, lang, "forget_quality"),
                "model_utility": _get(summary, lang, "model_utility"),
                "R_relearned_on": relearn["own"] if r_means else None,
                "Q_format": "nf4" if nf4 is not None else None,
                "metric": "forget_prob",
            }
        )
    return pd.DataFrame(rows)


def _get(df: pd.DataFrame, lang: str, col: str) -> float:
    return (
        float(df.loc[lang, col]) if lang in df.index and col in df.columns and pd.notna(df.loc[lang, col]) else math.nan
    )
