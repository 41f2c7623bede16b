"""The report section of `polyunlearn attack` results (analysis/report.py calls `attack_section`):
for every unlearning run of a demo or grid folder that has RUN_DIR/attacks/attack.json, its
robustness table and, per probe, the recovery matrix of forget Prob as a table (n/a where
nothing was forgotten, * where the paired per-item test has BH q < 0.05) with the heatmaps of
recovery, raw values and wrong-language shares behind a click.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

import pandas as pd

from polyunlearn.core.atomic import read_json

ORDER = ("quant", "relearn", "xprompt_instructed", "xprompt_mixed", "jailbreak")
INTRO = (
    "<p>Each probe attacks the unlearned model and re-evaluates the forget facts in every language. Cell = recovered share of "
    "the forgetting, (m<sub>attacked</sub> &minus; m<sub>unlearned</sub>) / (m<sub>before</sub> &minus; m<sub>unlearned</sub>), "
    "with m the plain evaluation before and after unlearning: 0 = nothing came back, 1 = all of it. <b>n/a</b>: the language forgot "
    "less than the tolerance, so there is nothing to recover. <b>*</b>: paired Wilcoxon test per item (attacked vs unlearned), "
    "Benjamini-Hochberg q &lt; 0.05. Relearning is evaluated on the forget facts it did not train on. The raw tables (behind "
    "'heatmaps') also show the model before unlearning under the same prompt probe: the most that probe can reach.</p>"
)


def attack_manifests(folder: Path) -> list[Path]:
    """attack.json of every attacked run in a demo (unlearn/*), grid (runs/*) or run folder."""
    found = sorted(folder.glob("unlearn/*/attacks/attack.json")) + sorted(folder.glob("runs/*/attacks/attack.json"))
    own = folder / "attacks" / "attack.json"
    return [own, *found] if own.is_file() else found


def _cell(v: float, q: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:+.2f}" + ("*" if q is not None and not math.isnan(q) and q < 0.05 else "")


def starred_table(csv: Path) -> str:
    """A recovery matrix as an HTML table, n/a and stars written in."""
    m = pd.read_csv(csv, index_col=0)
    qpath = csv.with_name(csv.stem + "_q.csv")
    q = (
        pd.read_csv(qpath, index_col=0).reindex(index=m.index, columns=m.columns)
        if qpath.exists()
        else pd.DataFrame(index=m.index, columns=m.columns, dtype=float)
    )
    cells = pd.DataFrame(
        [[_cell(m.iloc[i, j], q.iloc[i, j]) for j in range(m.shape[1])] for i in range(m.shape[0])],
        index=m.index,
        columns=m.columns,
    )
    return cells.to_html(classes="t", border=0, escape=True)


def _img(path: Path) -> str:
    uri = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><img src="{uri}" alt="{html.escape(path.stem)}"><figcaption>{html.escape(path.stem)}</figcaption></figure>'


def _robustness(path: Path) -> str:
    if not path.exists():
        return ""
    df = pd.read_csv(path)
    cols = [c for c in ("language", "R", "Q", "robustness", "forget_quality", "model_utility") if c in df]
    return "<h4>Robustness (OpenUnlearning: R relearning, Q 4-bit NF4, their harmonic mean; on forget Prob)</h4>" + df[
        cols
    ].to_html(classes="t", border=0, index=False, na_rep="n/a", float_format=lambda x: f"{x:.3f}")


def attack_section(folder: str | Path) -> list[str]:
    """HTML parts of the section; empty when no run of `folder` was attacked."""
    manifests = attack_manifests(Path(folder))
    if not manifests:
        return []
    parts = ["<h2>Is it really gone? Adversarial probes</h2>", INTRO]
    for path in manifests:
        m, mat = read_json(path), path.parent / "matrices"
        run = Path(m["run"]).name
        how = m["unlearned_model"]["obtained"]
        parts.append(
            f"<h3>{html.escape(run)}: {html.escape(m['method'])} unlearned in ({html.escape(','.join(m['forget_langs']))})</h3>"
        )
        if how == "re-created":
            diff = m["unlearned_model"]["max_forget_prob_difference"]
            how = f"re-created (a re-run of the same unlearning, checked against the run: max forget Prob difference {diff:.1e})"
        parts.append(f'<p class="note">Unlearned model: {html.escape(how)}.</p>')
        parts.append(_robustness(path.parent / "robustness.csv"))
        names = sorted(
            {p.name.removesuffix("_forget_prob_recovery.csv") for p in mat.glob("*_forget_prob_recovery.csv")},
            key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER),
        )
        for name in names:
            parts.append(
                f"<h4>{html.escape(name)}: recovered share of forget Prob</h4>"
                + starred_table(mat / f"{name}_forget_prob_recovery.csv")
            )
            pngs = [
                mat / f"{name}_{kind}.png"
                for kind in ("forget_prob_recovery", "forget_prob_raw", "forget_rouge_l_recovery", "wrong_language")
            ]
            parts.append(
                "<details><summary>heatmaps (recovery, raw, ROUGE-L, wrong-language share)</summary>"
                + "".join(_img(p) for p in pngs if p.exists())
                + "</details>"
            )
        parts += [f'<p class="note">{html.escape(n)}</p>' for n in m.get("notes", [])]
    return parts
