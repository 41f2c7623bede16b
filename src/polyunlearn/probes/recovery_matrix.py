"""The one writer of a probe's results: per group of records (a probe condition per row), the
recovery matrix (evaluation/recovery.py: (m_attacked - m_unlearned) / (m_before - m_unlearned)
per evaluation language, n/a where nothing was forgotten) with its paired per-item tests
(Wilcoxon attacked vs unlearned, BH q), the raw metric, and the share of answers in a wrong
language; plus the console summary of every group.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from polyunlearn.analysis.matrices import console_table, write_matrix
from polyunlearn.evaluation import recovery as rec
from polyunlearn.evaluation.significance import transfer_pvalues

# (summary metric, per-item record field) of the recovery matrices; higher = more knowledge.
METRICS = (("forget_prob", "prob"), ("forget_rouge_l", "rouge_l"))


def write_group(folder: Path, name: str, group: dict, ctx: Any) -> list[str]:
    """The recovery and raw matrices of one probe group (rows = its conditions), per metric, and
    its wrong-language matrix; returns the file names written."""
    langs, keys, tol = ctx.target.languages, group.get("keys"), ctx.cfg.tolerance
    base_u = _keep(ctx.plain["unlearned"], keys)
    written: list[str] = []
    for metric, item in METRICS:
        if not all(any(r.get(item) is not None for r in recs) for recs in group["rows"].values()):
            continue
        u, b = rec.item_means(base_u, item), rec.item_means(_keep(ctx.plain["before"], keys), item)
        m = pd.DataFrame(
            {row: rec.recovery_row(rec.item_means(recs, item), u, b, langs, tol) for row, recs in group["rows"].items()}
        ).T
        m = m.rename_axis(index=group["ylabel"], columns="eval_lang")
        pq = transfer_pvalues(base_u, group["rows"], item, "forget", languages=langs)
        title = f"{ctx.target.cfg.method} ({','.join(ctx.target.forget_langs)}): {group['title']}, recovered share of the {metric} forgotten"
        written += [
            p.name
            for p in write_matrix(
                folder,
                f"{name}_{metric}_recovery",
                m,
                title,
                highlight=group.get("highlight"),
                ylabel=group["ylabel"],
                pq=pq,
            )
        ]
        raw = {"before (plain)": b, "unlearned (plain)": u} | {
            row: rec.item_means(recs, item) for row, recs in group["rows"].items()
        }
        raw |= {f"before | {row}": rec.item_means(recs, item) for row, recs in group.get("before_rows", {}).items()}
        raw_m = pd.DataFrame(raw).T.reindex(columns=langs).rename_axis(index=group["ylabel"], columns="eval_lang")
        written += [
            p.name
            for p in write_matrix(
                folder, f"{name}_{metric}_raw", raw_m, f"{group['title']}: {metric} (raw)", ylabel=group["ylabel"]
            )
        ]
    if all(any(r.get("wrong_language") is not None for r in recs) for recs in group["rows"].values()):
        wl = pd.DataFrame(
            {"unlearned (plain)": rec.item_means(base_u, "wrong_language")}
            | {row: rec.item_means(recs, "wrong_language") for row, recs in group["rows"].items()}
        ).T.reindex(columns=langs)
        pq = transfer_pvalues(base_u, group["rows"], "wrong_language", "forget", languages=langs)
        written += [
            p.name
            for p in write_matrix(
                folder,
                f"{name}_wrong_language",
                wl.rename_axis(index=group["ylabel"], columns="eval_lang"),
                f"{group['title']}: share of answers in a wrong language",
                ylabel=group["ylabel"],
                pq=(pq[0].reindex(wl.index), pq[1].reindex(wl.index)),
            )
        ]
    return written


def _keep(records: Sequence[dict], keys: set[tuple[str, str]] | None) -> list[dict]:
    return list(records) if keys is None else [r for r in records if (r["id"], r["language"]) in keys]


def summary_table(manifest: dict, groups: dict[str, dict], ctx: Any):
    """Console table: per probe condition, the mean recovered share of forget Prob over the
    unlearned languages and over the others."""
    langs, forget = ctx.target.languages, set(ctx.target.forget_langs)
    u, b = rec.item_means(ctx.plain["unlearned"], "prob"), rec.item_means(ctx.plain["before"], "prob")
    rows = []
    for name, group in groups.items():
        for row, recs in group["rows"].items():
            keys = group.get("keys")
            r = rec.recovery_row(
                rec.item_means(recs, "prob"),
                rec.item_means(_keep(ctx.plain["unlearned"], keys), "prob") if keys else u,
                rec.item_means(_keep(ctx.plain["before"], keys), "prob") if keys else b,
                langs,
                ctx.cfg.tolerance,
            )
            mine, other = r[[x for x in langs if x in forget]], r[[x for x in langs if x not in forget]]
            rows.append(
                {"probe": name, "condition": row, "unlearned langs": _nanmean(mine), "other langs": _nanmean(other)}
            )
    title = f"{manifest['method']} ({','.join(manifest['forget_langs'])}): recovered share of the forget Prob forgotten (mean over languages; n/a = nothing forgotten)"
    return console_table(rows, title)


def _nanmean(s: pd.Series) -> float | None:
    s = s.dropna()
    return float(s.mean()) if len(s) else None
