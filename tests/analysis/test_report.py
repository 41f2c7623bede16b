"""`polyunlearn analyze` and `polyunlearn report` on a small demo-shaped folder whose numbers are
chosen by hand (no model: summaries, configs and heatmaps written by the project's own
functions), and the report rendered in headless Chromium: every embedded figure decodes."""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from helpers.cli import runner
from polyunlearn.analysis.analyze import analyze_dir
from polyunlearn.analysis.epoch_curves import write_curves
from polyunlearn.analysis.matrices import write_matrices, write_matrix
from polyunlearn.analysis.report import build_report
from polyunlearn.analysis.results import collect_results
from polyunlearn.cli import app
from polyunlearn.core.atomic import write_jsonl, write_table
from polyunlearn.core.rundir import RunFolder, canonical
from polyunlearn.pipeline.phases import UnlearnConfig
from polyunlearn.studies.demo import DemoConfig

LANGS = ["en", "fr", "hi"]  # two high-resource, one low-resource
BEFORE = {"en": 0.90, "fr": 0.80, "hi": 0.70}
# DROP[f][e]: how much forget Prob fell in eval language e after unlearning in f (before - after).
DROP = {
    "en": {"en": 0.50, "fr": 0.20, "hi": 0.05},
    "fr": {"en": 0.30, "fr": 0.60, "hi": 0.02},
    "hi": {"en": 0.04, "fr": 0.03, "hi": 0.40},
    "all": {"en": 0.60, "fr": 0.65, "hi": 0.50},
}
RETAIN_BEFORE = 0.85
RETAIN_LOSS = {"en": 0.02, "fr": 0.03, "hi": 0.10}  # in-language retain Prob loss of the single runs


def summary(forget: dict[str, float], retain: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "language": lang,
                "resource": "low" if lang == "hi" else "high",
                "forget_n": 10,
                "retain_n": 20,
                "forget_prob": forget[lang],
                "retain_prob": retain[lang],
                "forget_truth_ratio_score": 0.5 + (BEFORE[lang] - forget[lang]) / 2,
                "model_utility": retain[lang] / 2,
                "mia_loss_auc": round(forget[lang] + 0.1, 3),  # en: 1.0 before, 0.5 after npo__en
                "forget_quality": round(1 - forget[lang], 3),  # 0.1 before in en, 0.6 after npo__en
            }
            for lang in LANGS
        ]
    )


# Hand-made BH q-values of the forget_prob matrix (rows = forget sets, columns = LANGS): the
# headline table counts the cells below 0.05 in each run's row, e.g. npo__en: 2 of 3.
Q_FORGET = {"en": [0.01, 0.04, 0.50], "fr": [0.20, 0.001, 0.30], "hi": [0.9, 0.8, 0.7], "all": [0.01, 0.01, 0.01]}


def curves_of_npo_en() -> pd.DataFrame:
    """A hand-made per-epoch curve of run npo__en (epochs 0-3): forget Prob falls below the
    retain model's (0.5) at epoch 2, which is the run's selected epoch."""
    rows = []
    for epoch, (en, fr) in enumerate([(0.9, 0.8), (0.7, 0.75), (0.45, 0.7), (0.4, 0.6)]):
        rows += [
            {"epoch": epoch, "language": lang, "split": "forget", "metric": "prob", "value": v}
            for lang, v in (("en", en), ("fr", fr))
        ]
        rows += [
            {"epoch": epoch, "language": lang, "split": "retain", "metric": "prob", "value": 0.85 - 0.01 * epoch}
            for lang in ("en", "fr")
        ]
    return pd.DataFrame(rows)


def make_demo_folder(root: Path) -> Path:
    """The layout run_demo writes: run.json, eval/before, unlearn/<method>__<set>/ (run folders), matrices/."""
    with RunFolder(
        root,
        DemoConfig(
            out=str(root), languages=",".join(LANGS), methods=("npo",), forget_sets=("en", "fr", "hi", "all")
        ).identity(),
        kind="demo",
    ):
        pass
    before = summary(BEFORE, dict.fromkeys(LANGS, RETAIN_BEFORE))
    write_table(root / "eval" / "before" / "summary.csv", before)
    # The retain model: its attack AUC is the target the report shows beside the runs'.
    write_table(root / "eval" / "retain_model" / "summary.csv", before.assign(mia_loss_auc=[0.55, 0.6, 0.45]))
    write_jsonl(
        root / "eval" / "before" / "items.jsonl", [{"id": "fact-090", "language": "en", "split": "forget", "prob": 0.9}]
    )
    runs = {}
    for fset, drops in DROP.items():
        run = root / "unlearn" / f"npo__{fset}"
        rf = RunFolder(
            run, {"unlearn": canonical(UnlearnConfig(method="npo", forget_langs=fset))}, kind="unlearn"
        ).__enter__()
        retain = {lang: RETAIN_BEFORE - (RETAIN_LOSS[lang] if lang == fset else 0.0) for lang in LANGS}
        runs[fset] = summary({lang: BEFORE[lang] - drops[lang] for lang in LANGS}, retain)
        write_table(run / "eval" / "summary.csv", runs[fset])
        write_jsonl(
            run / "eval" / "items.jsonl", [{"id": "fact-090", "language": "en", "split": "forget", "prob": 0.1}]
        )
        selection = {}
        if fset == "en":  # per-epoch curves, as unlearn --eval-every 1 --select first-below-retain writes them
            write_curves(run, curves_of_npo_en(), ["en"], "npo (en)", retain_forget_prob=0.5, selected=2)
            selection = {
                "select": "first-below-retain",
                "selected_epoch": 2,
                "selection_reason": "the first evaluated epoch whose mean forget Prob (0.45) is at or below the retain model's (0.5)",
                "curves": {"would_select": {"last": {"epoch": 3, "reason": "the last epoch"}}},
            }
        rf.finish(selection)
        rf.__exit__()
    write_matrices(root / "matrices", before, runs, "npo", {f: (LANGS if f == "all" else [f]) for f in runs})
    m = pd.read_csv(root / "matrices" / "npo_forget_prob.csv", index_col=0)
    q = pd.DataFrame([Q_FORGET[f] for f in m.index], index=m.index, columns=m.columns)
    write_matrix(
        root / "matrices",
        "npo_forget_prob",
        m,
        "npo: change in forget_prob",
        highlight={f: (LANGS if f == "all" else [f]) for f in runs},
        pq=(q, q),
    )
    return root


@pytest.fixture()
def demo_folder(tmp_path) -> Path:
    return make_demo_folder(tmp_path / "demo")


def test_collect_results_of_a_demo_folder(demo_folder):
    df, configs = collect_results(demo_folder)
    assert sorted(configs) == ["npo__all", "npo__en", "npo__fr", "npo__hi"]
    row = df[(df["run_id"] == "npo__en") & (df["language"] == "fr") & (df["metric"] == "forget_prob")].iloc[0]
    assert (row["forget_langs"], row["seed"], row["resource"]) == ("en", 0, "high")
    assert (
        row["before"] == pytest.approx(0.80)
        and row["value"] == pytest.approx(0.60)
        and row["delta"] == pytest.approx(-0.20)
    )


def test_analyze_writes_the_hand_worked_effect(demo_folder):
    manifest = analyze_dir(demo_folder, n_permutations=99)
    out = demo_folder / "analysis"
    effect = pd.read_csv(out / "effect_npo.csv", index_col=0)
    assert list(effect.index) == LANGS and list(effect.columns) == LANGS  # 'all' has no single source language
    for f in LANGS:
        for e in LANGS:
            assert effect.loc[f, e] == pytest.approx(DROP[f][e])
    corr = pd.read_csv(out / "correlations_npo.csv")
    assert set(corr["kind"]) == {"syntactic", "genetic", "geographic", "phonological", "inventory", "featural"}
    assert (corr["n_pairs"] == 6).all() and corr["rank"].min() == 1  # 3 x 3 matrix: 6 off-diagonal cells
    asym = pd.read_csv(out / "asymmetry_npo.csv").set_index(["lang1", "lang2"])
    assert asym.loc[("en", "fr"), "asymmetry"] == pytest.approx(0.20 - 0.30)  # en->fr minus fr->en
    assert asym.loc[("en", "hi"), "asymmetry"] == pytest.approx(0.05 - 0.04)
    res = pd.read_csv(out / "resource_npo.csv").set_index(["quantity", "resource"])
    assert res.loc[("in_language_drop", "high"), "mean"] == pytest.approx((0.50 + 0.60) / 2)
    assert res.loc[("in_language_drop", "low"), "mean"] == pytest.approx(0.40)
    assert res.loc[("cross_lingual_drop_received", "low"), "mean"] == pytest.approx((0.05 + 0.02) / 2)  # into hi
    assert res.loc[("retain_prob_change_in_language", "low"), "mean"] == pytest.approx(-0.10)
    ranking = pd.read_csv(out / "ranking.csv")
    assert list(ranking["kind"]) == list(corr["kind"]) and set(ranking["group"]) == {"npo"}
    assert manifest["groups"]["npo"]["top_kind"] == corr.iloc[0]["kind"]
    for kind in corr["kind"]:
        assert (out / f"scatter_npo_{kind}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_analyze_minus_retain_subtracts_the_general_damage(demo_folder, tmp_path):
    # Only the in-language retain Prob changed (RETAIN_LOSS), so only the diagonal moves.
    manifest = analyze_dir(demo_folder, tmp_path / "sel", n_permutations=99, minus="retain_prob")
    effect = pd.read_csv(tmp_path / "sel" / "effect_npo.csv", index_col=0)
    for f in LANGS:
        for e in LANGS:
            assert effect.loc[f, e] == pytest.approx(DROP[f][e] - (RETAIN_LOSS[f] if e == f else 0.0))
    assert manifest["minus"] == "retain_prob" and "before - after of retain_prob" in manifest["effect"]
    with pytest.raises(ValueError, match="metric 'nope' is not in the results"):
        analyze_dir(demo_folder, tmp_path / "bad", minus="nope")


def test_analyze_minus_without_out_keeps_the_plain_analysis(demo_folder):
    from polyunlearn.analysis.analyze import default_analysis_dir

    analyze_dir(demo_folder, n_permutations=99)
    plain = (demo_folder / "analysis" / "effect_npo.csv").read_text()
    analyze_dir(demo_folder, n_permutations=99, minus="retain_prob")
    assert (demo_folder / "analysis" / "effect_npo.csv").read_text() == plain  # not overwritten
    assert (demo_folder / "analysis_minus_retain_prob" / "effect_npo.csv").is_file()
    assert default_analysis_dir(demo_folder, "rouge", "retain_prob") == demo_folder / "analysis_rouge_minus_retain_prob"
    assert default_analysis_dir(demo_folder) == demo_folder / "analysis"


def test_analyze_without_single_language_runs_says_why(demo_folder):
    for fset in LANGS:
        shutil.rmtree(demo_folder / "unlearn" / f"npo__{fset}")
    with pytest.raises(ValueError, match="forget_sets: \\[each\\]"):
        analyze_dir(demo_folder)


def image_sources(page: str) -> list[str]:
    return re.findall(r'<img src="([^"]*)"', page)


def test_report_is_one_self_contained_page(demo_folder):
    path = build_report(demo_folder)
    assert path == demo_folder / "report.html"
    page = path.read_text(encoding="utf-8")
    srcs = image_sources(page)
    heatmaps = len(list((demo_folder / "matrices").glob("*.png")))
    assert heatmaps == 5  # forget_prob, retain_prob, forget_truth_ratio_score, model_utility, forget_quality
    assert (
        len(srcs) == heatmaps + 4 + 1 + 6
    )  # + one bar chart per run + npo__en's curves + one scatter per distance kind
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r'(src|href)="(https?:|//|file:)', page) and "<script" not in page and "<link" not in page
    assert "Computed for this report" in page and "syntactic" in page
    assert "npo__en" in page and "&quot;forget_langs&quot;: &quot;en&quot;" in page  # run configs, escaped
    assert (
        not list(demo_folder.rglob("*.tmp*")) and not (demo_folder / "analysis").exists()
    )  # report writes only its page
    # pandas parses the HTML table back (lxml, installed with sacrebleu); first column = run
    mia = pd.read_html(io.StringIO(page[page.index('<section id="s-membership') :]), index_col=0)[0]
    assert list(mia.columns) == LANGS and list(mia.index[:2]) == ["before unlearning", "retain model (target)"]
    assert sorted(mia.index[2:]) == ["npo__all", "npo__en", "npo__fr", "npo__hi"]
    assert mia.loc["retain model (target)", "hi"] == pytest.approx(0.45)
    assert mia.loc["before unlearning", "en"] == pytest.approx(1.0) and mia.loc["npo__en", "en"] == pytest.approx(0.5)
    assert mia.loc["npo__fr", "fr"] == pytest.approx(0.80 - 0.60 + 0.1)


def test_report_opens_with_the_headline_table_and_links_that_resolve(demo_folder):
    """Headline numbers, hand-worked from the fixture: means over the languages each run
    unlearned. npo__en: forget Prob 0.90 -> 0.90 - 0.50 = 0.40; retain Prob 0.85 -> 0.85 - 0.02 =
    0.83; FQ 1 - 0.40 = 0.6; MU 0.85 / 2 = 0.425 -> 0.83 / 2 = 0.415; forget_prob q row en =
    (0.01, 0.04, 0.50): 2 of 3 below 0.05. npo__all: forget Prob mean(0.90, 0.80, 0.70) = 0.80 ->
    mean(0.30, 0.15, 0.20) = 0.217 (retain unchanged, 0.85); FQ mean(0.7, 0.85, 0.8) = 0.783;
    q row all: 3 of 3."""
    page = build_report(demo_folder).read_text(encoding="utf-8")
    assert page.index('id="headline-table"') < page.index('<nav class="toc">') < page.index('<section id="s-npo">')
    table = pd.read_html(io.StringIO(page), attrs={"id": "headline-table"})[0].set_index("run")
    assert sorted(table.index) == ["npo__all", "npo__en", "npo__fr", "npo__hi"]

    def pair(text: str) -> tuple[float, float]:
        a, b = text.split("→")
        return float(a), float(b)

    en, everywhere = table.loc["npo__en"], table.loc["npo__all"]
    assert pair(en["forget Prob before → after"]) == pytest.approx((0.90, 0.40), abs=5e-4)
    assert pair(en["retain Prob before → after"]) == pytest.approx((0.85, 0.83), abs=5e-4)
    assert float(en["Forget Quality"]) == pytest.approx(0.6, abs=5e-4)
    assert pair(en["Model Utility before → after"]) == pytest.approx((0.425, 0.415), abs=5e-4)
    assert "forget_prob 2/3" in en["significant cells (q < 0.05)"]
    assert en["result epoch"] == "2 (first-below-retain)" and table.loc["npo__fr", "result epoch"] == "–"
    assert pair(everywhere["forget Prob before → after"]) == pytest.approx((0.80, (0.30 + 0.15 + 0.20) / 3), abs=5e-4)
    assert pair(everywhere["retain Prob before → after"]) == pytest.approx((0.85, 0.85), abs=5e-4)
    assert float(everywhere["Forget Quality"]) == pytest.approx((0.7 + 0.85 + 0.8) / 3, abs=5e-4)
    assert (
        "forget_prob 3/3" in everywhere["significant cells (q < 0.05)"]
        and "forget_prob 0/3" in table.loc["npo__hi", "significant cells (q < 0.05)"]
    )
    # The numbers equal the summaries the runs wrote (not only the hand-worked ones).
    after = pd.read_csv(demo_folder / "unlearn" / "npo__fr" / "eval" / "summary.csv").set_index("language")
    assert pair(table.loc["npo__fr", "forget Prob before → after"])[1] == pytest.approx(
        after.loc["fr", "forget_prob"], abs=5e-4
    )
    # Navigation: every in-page link has its target; every run and section is linked.
    targets = re.findall(r'href="#([^"]+)"', page)
    ids = set(re.findall(r'id="([^"]+)"', page))
    assert targets and set(targets) <= ids
    assert {"run-npo__en", "run-npo__all", "s-npo", "s-run_configs"} <= set(targets)
    # Each figure says what it shows; the selected epoch of the curves is named.
    captions = re.findall(r"<figcaption>([^<]*)</figcaption>", page)
    assert len(captions) == len(image_sources(page)) and all(c.strip().endswith(".") for c in captions)
    assert any(
        "epoch 2, the run&#x27;s result (first-below-retain" in c and "last would pick epoch 3" in c for c in captions
    )


def test_report_and_analyze_commands(demo_folder, tmp_path):
    res = runner.invoke(app, ["analyze", str(demo_folder), "--permutations", "99"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "syntactic" in res.output and (demo_folder / "analysis" / "analysis.json").exists()
    res = runner.invoke(app, ["report", str(demo_folder), "--out", str(tmp_path / "r.html")], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert str((tmp_path / "r.html").resolve()) in res.output.replace("\n", "")
    assert "written by <code>polyunlearn analyze</code>" in (tmp_path / "r.html").read_text(encoding="utf-8")
    res = runner.invoke(app, ["report", str(tmp_path / "nothing_here")], catch_exceptions=False)
    assert res.exit_code == 2 and "neither a grid folder" in res.output.replace("\n", "")


# ----------------------------------------------------------------------------- headless Chromium


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium; installed with apt-get when missing (as .ci/run does)."""
    exe = shutil.which("chromium")
    if exe:
        return exe
    if not shutil.which("apt-get"):
        pytest.skip("chromium is not installed and apt-get is not available to install it")
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=900, env=os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
        )
        assert done.returncode == 0, f"{' '.join(cmd)} failed: {done.stderr[-2000:]}"
    exe = shutil.which("chromium")
    assert exe, "apt-get installed chromium but it is not on PATH"
    return exe


# Runs at the load event (after every image decoded or failed) and writes a marker the DOM dump shows.
CHECK = """<script>window.addEventListener('load', () => {
  const imgs = [...document.images];
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0).length;
  const d = document.createElement('div'); d.id = 'render-check';
  const links = [...document.querySelectorAll('a[href^="#"]')];
  const found = links.filter(a => document.getElementById(decodeURIComponent(a.getAttribute('href').slice(1)))).length;
  d.textContent = 'images-ok ' + ok + '/' + imgs.length + ' h2 ' + document.querySelectorAll('h2').length + ' links-ok ' + found + '/' + links.length;
  document.body.appendChild(d);
});</script>"""


def render(chromium: str, page: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            *extra,
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_report_renders_in_headless_chromium(demo_folder, chromium, tmp_path):
    page = build_report(demo_folder).read_text(encoding="utf-8")
    n = len(image_sources(page))
    checked = tmp_path / "checked.html"
    checked.write_text(page.replace("</body>", CHECK + "</body>"), encoding="utf-8")
    done = render(chromium, checked, tmp_path, "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    marker = re.search(r'<div id="render-check">([^<]*)</div>', done.stdout)
    assert marker, "the check script did not run: " + done.stdout[-500:]
    links = page.count('href="#')
    assert links > 0 and marker.group(1) == f"images-ok {n}/{n} h2 {page.count('<h2>')} links-ok {links}/{links}"
    # The check itself can fail: a corrupt image is counted as not rendered.
    broken = tmp_path / "broken.html"
    broken.write_text(
        page.replace("data:image/png;base64,", "data:image/png;base64,AAAA", 1).replace("</body>", CHECK + "</body>"),
        encoding="utf-8",
    )
    marker = re.search(r'<div id="render-check">([^<]*)</div>', render(chromium, broken, tmp_path, "--dump-dom").stdout)
    assert marker and marker.group(1).startswith(f"images-ok {n - 1}/{n}")
    shot = tmp_path / "page.png"
    done = render(chromium, checked, tmp_path, f"--screenshot={shot}", "--window-size=1280,2000")
    assert done.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
