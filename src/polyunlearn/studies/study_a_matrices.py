"""Study A's matrices (study_a.run_study_a, step 5): the spread of fake claims before
unlearning (fake-news language x query language, absolute and vs the clean model) and, per fake
language, the forget-set x query-language matrices after unlearning, absolute and as change.
The change matrices of metrics with per-question values (OF, nll_gap) also get paired tests
per cell (significance.py): `<name>_p.csv`, `<name>_q.csv` and stars in the heatmap. Also the
study's result file and console tables (`write_report`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from polyunlearn.analysis.matrices import console_table, transfer_matrix, write_matrix
from polyunlearn.core.atomic import write_json
from polyunlearn.core.rundir import ITEMS_FILE, SUMMARY_FILE, read_eval_items
from polyunlearn.evaluation.significance import transfer_pvalues

# Summary columns with a per-item value that significance.py can pair by (language, id).
ITEM_METRICS = {"OF": "of", "nll_gap": "nll_gap"}


def item_values(records: Sequence[dict]) -> list[dict]:
    """Per fake-story question: `of` = 1 if the answer was judged to state the fake claim (the
    items OF averages) and `nll_gap` = real_nll - fake_nll, keyed by id and language."""
    out = []
    for r in records:
        if not r["has_fake"]:
            continue
        row = {"id": r["id"], "language": r["language"], "split": "fake", "of": float(r["verdict"] == "fake")}
        if r.get("real_nll") is not None and r.get("fake_nll") is not None:
            row["nll_gap"] = r["real_nll"] - r["fake_nll"]
        out.append(row)
    return out


def _write_matrix(
    m: pd.DataFrame,
    d: Path,
    name: str,
    title: str,
    ylabel: str,
    highlight: dict | None = None,
    paired: tuple[list[dict], dict[str, list[dict]], str] | None = None,
) -> None:
    """analysis.matrices.write_matrix; given `paired` = (item values of the reference model,
    {row: item values of that row's model}, metric), with the paired tests (significance.py)."""
    pq = (
        transfer_pvalues(paired[0], paired[1], ITEM_METRICS[paired[2]], "fake", languages=list(m.columns))
        if paired is not None
        else None
    )
    write_matrix(d, name, m, title, highlight=highlight, ylabel=ylabel, pq=pq)


def _stack(summaries: dict[str, pd.DataFrame], metric: str, langs: Sequence[str], index: str) -> pd.DataFrame:
    rows = {label: s.set_index("language")[metric].reindex(langs) for label, s in summaries.items()}
    return pd.DataFrame(rows).T.rename_axis(index=index, columns="query_lang")


def write_study_matrices(
    out: Path,
    method: str,
    langs: Sequence[str],
    fake_langs: Sequence[str],
    sets: dict[str, list[tuple[str, list[str]]]],
    clean: pd.DataFrame,
    before: dict[str, pd.DataFrame],
    after: dict[str, dict[str, pd.DataFrame]],
    metrics: Sequence[str] = ("OF", "QR", "nll_gap"),
) -> list[str]:
    """Write every matrix under out/matrices; returns their names. `before` maps "fake-XX" to
    the contaminated model's summary, `after[XX][label]` the summary after unlearning `label`
    (`method`: the run folders' name, out/unlearn/fake-XX/<method>__<label>); the per-question
    records are read from the run folders beside them. `metrics`: summary columns to map."""
    items = {
        name: item_values(read_eval_items(out / "eval" / name))
        for name in ["clean", *(f"fake-{fl}" for fl in fake_langs)]
    }
    run_items = {
        fl: {
            label: item_values(read_eval_items(out / "unlearn" / f"fake-{fl}" / f"{method}__{label}" / "eval"))
            for label in after[fl]
        }
        for fl in after
    }
    mdir = out / "matrices"
    written = []
    for metric in metrics:
        test = metric in ITEM_METRICS
        spread = _stack({fl: before[f"fake-{fl}"] for fl in fake_langs}, metric, langs, "fake_lang")
        _write_matrix(
            spread,
            mdir,
            f"spread_{metric}",
            f"{metric} before unlearning (rows: fake-news language)",
            "fake news in",
            {fl: [fl] for fl in fake_langs},
        )
        change = transfer_matrix(clean, {fl: before[f"fake-{fl}"] for fl in fake_langs}, metric).reindex(columns=langs)
        _write_matrix(
            change.rename_axis(index="fake_lang"),
            mdir,
            f"spread_{metric}_vs_clean",
            f"{metric}: contaminated minus clean model",
            "fake news in",
            {fl: [fl] for fl in fake_langs},
            (items["clean"], {fl: items[f"fake-{fl}"] for fl in fake_langs}, metric) if test else None,
        )
        written += [f"spread_{metric}", f"spread_{metric}_vs_clean"]
        for fl in (f for f in fake_langs if f in after):  # no forget sets: the spread matrices only
            hl = {label: fls for label, fls in sets[fl]}
            absolute = _stack({"before": before[f"fake-{fl}"], **after[fl]}, metric, langs, "forget_langs")
            _write_matrix(
                absolute,
                mdir,
                f"after_fake-{fl}_{method}_{metric}",
                f"{metric} after {method} (fake news in {fl})",
                "unlearned in",
                hl,
            )
            delta = transfer_matrix(before[f"fake-{fl}"], after[fl], metric).reindex(columns=langs)
            _write_matrix(
                delta,
                mdir,
                f"after_fake-{fl}_{method}_{metric}_change",
                f"change in {metric} after {method} (fake news in {fl})",
                "unlearned in",
                hl,
                (items[f"fake-{fl}"], run_items[fl], metric) if test else None,
            )
            written += [f"after_fake-{fl}_{method}_{metric}", f"after_fake-{fl}_{method}_{metric}_change"]

    return written


def write_report(
    out: Path, cfg, langs, fake_langs, sets, clean, before, after, written, t0: float, console: Console
) -> dict:
    """Step 6 of study_a.run_study_a: study_a_result.json and the console tables. Per fake language, one row per query
    language and one column per model ("-en": after unlearning in en): fits a terminal better
    than 9 language columns."""
    of_tables = {}
    for fl in fake_langs:
        models = {
            "clean": clean,
            "contaminated": before[f"fake-{fl}"],
            **{f"-{label}": s for label, s in after.get(fl, {}).items()},
        }
        of_tables[fl] = [
            {"query_lang": lang, **{n: float(s.set_index("language")["OF"].get(lang)) for n, s in models.items()}}
            for lang in langs
        ]
    checks = [_check(fl, clean, before[f"fake-{fl}"], after.get(fl, {}), dict(sets[fl])) for fl in fake_langs]
    result = {
        "out": str(out.resolve()),
        "minutes": round((time.time() - t0) / 60, 2),
        "languages": langs,
        "fake_langs": fake_langs,
        "method": cfg.method,
        "forget_sets": {fl: dict(sets[fl]) for fl in fake_langs},
        "checks": checks,
        "OF": of_tables,
        "matrices": [f"matrices/{n}.csv" for n in written],
    }
    write_json(out / "study_a_result.json", result)
    for fl, rows in of_tables.items():
        console.print(console_table(rows, f"OF (share of fake-story answers judged 'fake'), fake news in {fl}"))
    console.print(
        console_table(
            [{k: v for k, v in c.items() if k != "unlearn"} for c in checks], "contamination in the fake language"
        )
    )
    console.print(
        f"results written under [bold]{out.resolve()}[/bold]: eval/*/{SUMMARY_FILE}, */{ITEMS_FILE}, matrices/*.csv|png ({result['minutes']} min)"
    )
    return result


def _check(
    fl: str, clean: pd.DataFrame, before: pd.DataFrame, after: dict[str, pd.DataFrame], sets: dict[str, list[str]]
) -> dict:
    """The numbers the paper's claims are about, read off the summaries (reported, not enforced)."""
    c, b = clean.set_index("language")["OF"], before.set_index("language")["OF"]
    # "others": mean over the query languages other than the fake one (where it could spread to)
    row: dict[str, Any] = {
        "fake_lang": fl,
        "OF_clean": float(c[fl]),
        "OF_contam": float(b[fl]),
        "OF_others_clean": float(c.drop(fl).mean()) if len(c) > 1 else float("nan"),
        "OF_others_contam": float(b.drop(fl).mean()) if len(b) > 1 else float("nan"),
        "unlearn": {},
    }
    for label, summary in after.items():
        a = summary.set_index("language")["OF"]
        row["unlearn"][label] = {
            "OF_forget_langs_before": float(b[sets[label]].mean()),
            "OF_forget_langs_after": float(a[sets[label]].mean()),
            "QR_mean_after": float(summary["QR"].mean()),
        }
    return row
