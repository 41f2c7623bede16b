"""`polyunlearn grid`: a 2-run grid on a tiny setting (en + fr slice, tiny model learned in-process)
gives the tidy results table; a rerun trains nothing; a run interrupted by Ctrl-C resumes from
its epoch checkpoint; a learned model folder works as the base; bad specs name the field."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import polyunlearn.core.trainloop as train_mod
from helpers.cli import cli
from helpers.items import small_items
from polyunlearn.core.atomic import read_json
from polyunlearn.core.rundir import check_run_folder
from polyunlearn.data.loaders import save_items
from polyunlearn.studies.grid import GridSpecError, load_spec, parse_spec

# Demo, grid and study runs on the tiny model: tens of seconds each on CPU.
pytestmark = pytest.mark.slow

FORGET_EPOCHS = 3
SPEC = {
    "base": {
        "data": None,  # filled in: the en+fr slice of conftest (20 retain + 10 forget facts each)
        "languages": "en,fr",
        "model": "tiny",
        "vocab_size": 600,
        "learn": {"epochs": 30, "lr": 3.0e-3, "batch_size": 16},
        "eval": {"generate": False},  # likelihood metrics only: the slow greedy decoding is not under test
    },
    "grid": {
        "methods": ["npo"],
        "forget_sets": ["each"],
        "seeds": [0],
        "params": {"lr": 1.0e-3, "epochs": FORGET_EPOCHS, "batch_size": 8, "gamma": [1.0]},
    },
}


def run(*args: str):
    return cli(*args, catch_exceptions=False)


def write_spec(path, spec: dict):
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def grid_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("grid")
    spec = copy.deepcopy(SPEC)
    spec["base"]["data"] = str(save_items(small_items(("en", "fr")), root / "data.jsonl"))
    path = write_spec(root / "grid.yaml", spec)
    out = root / "out"
    res = run("grid", str(path), "--out", str(out), "--no-progress")
    assert res.exit_code == 0, res.output
    return root, spec, out, res.output


def test_results_table(grid_dir):
    _, _, out, output = grid_dir
    assert "2 to run" in output
    df = pd.read_parquet(out / "results.parquet")
    csv = pd.read_csv(out / "results.csv")
    cols = [
        "run_id",
        "method",
        "forget_langs",
        "seed",
        "lr",
        "epochs",
        "batch_size",
        "gamma",
        "language",
        "resource",
        "metric",
        "value",
        "before",
        "delta",
    ]
    assert list(df.columns) == cols and list(csv.columns) == cols
    metrics = set(df["metric"])
    assert {
        "forget_prob",
        "retain_prob",
        "forget_truth_ratio_score",
        "retain_truth_ratio_score",
        "forget_quality",
    } <= metrics
    assert not any(m.endswith("_n") for m in metrics)  # item counts are not metrics
    assert len(df) == 2 * 2 * len(metrics)  # 2 runs x 2 languages x every metric
    assert sorted(df["forget_langs"].unique()) == ["en", "fr"] and set(df["resource"]) == {"high"}
    assert df.groupby(["run_id", "language"]).size().eq(len(metrics)).all()
    assert np.allclose(df["delta"], df["value"] - df["before"], equal_nan=True)
    before = pd.read_csv(out / "base" / "eval" / "before" / "summary.csv").set_index("language")
    for _, r in df[df["metric"] == "forget_prob"].iterrows():
        assert r["before"] == pytest.approx(before.loc[r["language"], "forget_prob"])
        after = pd.read_csv(out / "runs" / r["run_id"] / "eval" / "summary.csv").set_index("language")
        assert r["value"] == pytest.approx(after.loc[r["language"], "forget_prob"])
    fp = df[df["metric"] == "forget_prob"].set_index(["forget_langs", "language"])["delta"]
    assert fp[("en", "en")] < 0 and fp[("fr", "fr")] < 0  # NPO lowered forget Prob where it unlearned
    # each run: its own run folder named by its id, identity + environment, no checkpoint left
    for rid in df["run_id"].unique():
        assert len(rid) == 12 and int(rid, 16) >= 0
        run = read_json(out / "runs" / rid / "run.json")
        assert (
            run["info"]["run_id"] == rid
            and "torch" in run["environment"]
            and run["identity"]["unlearn"]["method"] == "npo"
        )
        assert not (out / "runs" / rid / "ckpt").exists()
        assert check_run_folder(out / "runs" / rid) == []
    matrix = pd.read_csv(out / "matrices" / "npo_forget_prob.csv", index_col=0)
    assert list(matrix.index) == ["en", "fr"] and list(matrix.columns) == ["en", "fr"]
    assert matrix.loc["en", "en"] == pytest.approx(fp[("en", "en")])
    assert (out / "matrices" / "npo_forget_prob.png").stat().st_size > 1000
    # Paired per-item tests beside the matrix, from the runs' and the base's items.jsonl.
    from polyunlearn.core.atomic import read_jsonl
    from polyunlearn.evaluation.significance import paired_change

    p = pd.read_csv(out / "matrices" / "npo_forget_prob_p.csv", index_col=0)
    en_run = df[(df["forget_langs"] == "en")]["run_id"].iloc[0]
    direct = paired_change(
        read_jsonl(out / "base" / "eval" / "before" / "items.jsonl"),
        read_jsonl(out / "runs" / en_run / "eval" / "items.jsonl"),
    )
    assert p.loc["en", "en"] == pytest.approx(direct.set_index("language").loc["en", "p_value"])
    assert (out / "matrices" / "npo_forget_prob_q.csv").exists()
    assert not list(out.rglob("*.tmp*"))


def test_rerun_skips_finished_runs(grid_dir, monkeypatch):
    root, _, out, _ = grid_dir
    calls = []
    import polyunlearn.pipeline.step as step_mod

    monkeypatch.setattr(
        step_mod, "unlearn", lambda *a, **k: calls.append(1) or pytest.fail("a finished run was retrained")
    )
    monkeypatch.setattr(
        step_mod, "learn", lambda *a, **k: calls.append(1) or pytest.fail("a learned base was retrained")
    )
    stamps = {
        p: p.stat().st_mtime_ns
        for p in [
            *out.glob("runs/*/eval/summary.csv"),
            out / "base" / "models" / "learned" / "model" / "model.safetensors",
        ]
    }
    res = run("grid", str(root / "grid.yaml"), "--out", str(out), "--no-progress")
    assert res.exit_code == 0, res.output
    assert "2 finished, 0 to run" in res.output and "skipping" in res.output
    assert calls == []
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert len(pd.read_parquet(out / "results.parquet")) == len(pd.read_csv(out / "results.csv"))


def test_interrupted_run_resumes(grid_dir, monkeypatch, tmp_path):
    root, spec, out, _ = grid_dir
    spec = copy.deepcopy(spec)
    spec["grid"]["seeds"] = [0, 1]  # two new runs; the two finished ones keep their ids
    path = write_spec(tmp_path / "grid2.yaml", spec)
    original = train_mod._save_checkpoint

    def interrupt_after_first_epoch(acc, ckpt, epoch, history, cfg):
        original(acc, ckpt, epoch, history, cfg)
        raise KeyboardInterrupt  # Ctrl-C right after epoch 1 was saved

    monkeypatch.setattr(train_mod, "_save_checkpoint", interrupt_after_first_epoch)
    res = run("grid", str(path), "--out", str(out), "--no-progress")
    assert res.exit_code == 130 and "rerun the same command to resume" in res.output.replace("\n", " ")
    new = [r for r in load_spec(path).runs if r.seed == 1]
    first = out / "runs" / new[0].run_id
    state = read_json(first / "ckpt" / "state" / "trainer_state.json")
    assert state["epoch"] == 1 and not (first / "eval").exists()
    epoch1 = state["history"]

    saved: dict[str, list[int]] = {}

    def record(acc, ckpt, epoch, history, cfg):
        saved.setdefault(ckpt.parent.name, []).append(epoch)
        original(acc, ckpt, epoch, history, cfg)

    monkeypatch.setattr(train_mod, "_save_checkpoint", record)
    res = run("grid", str(path), "--out", str(out), "--no-progress")
    assert res.exit_code == 0, res.output
    assert "2 finished, 2 to run" in res.output and "resuming" in res.output
    # The interrupted run went on from epoch 2; the other new run trained from the start;
    # the finished seed-0 runs were not touched.
    assert saved == {new[0].run_id: list(range(2, FORGET_EPOCHS + 1)), new[1].run_id: list(range(1, FORGET_EPOCHS + 1))}
    history = read_json(first / "history.json")
    assert history[: len(epoch1)] == epoch1 and {h["epoch"] for h in history} == set(range(1, FORGET_EPOCHS + 1))
    assert len(history) == FORGET_EPOCHS * len(epoch1)
    df = pd.read_parquet(out / "results.parquet")
    assert df["run_id"].nunique() == 4 and sorted(df["seed"].unique()) == [0, 1]


def test_edited_data_file_is_refused(grid_dir, tmp_path):
    """A grid identifies its data by content: after the file is edited, the finished runs are
    not reused (they were made from other data)."""
    root, spec, out, _ = grid_dir
    data = Path(spec["base"]["data"])
    original = data.read_text()
    try:
        lines = original.splitlines()
        first = json.loads(lines[0]) | {"answer": "An edited answer."}
        data.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
        res = run("grid", str(root / "grid.yaml"), "--out", str(out), "--no-progress")
        assert res.exit_code == 2 and "base.data:" in " ".join(res.output.split())
    finally:
        data.write_text(original)


def test_grid_folder_is_shared_not_locked(grid_dir):
    """The grid folder itself is not locked for the whole grid: two grid processes share its
    runs, each run under its own claim (tests/e2e/test_grid_ray.py), so a held grid-folder lock no
    longer refuses a second grid."""
    import os

    from polyunlearn.core.rundir import lock_folder

    root, _, out, _ = grid_dir
    fd = lock_folder(out)
    try:
        res = run("grid", str(root / "grid.yaml"), "--out", str(out), "--no-progress")
        assert res.exit_code == 0 and "2 finished, 0 to run" in res.output
    finally:
        os.close(fd)


def test_learned_model_folder_as_base(grid_dir, tmp_path):
    """A path base (e.g. from `polyunlearn learn` or the demo) with given retain/baseline evals."""
    _, spec, out, _ = grid_dir
    base = out / "base"
    spec = {
        "base": {
            "data": spec["base"]["data"],
            "languages": "en,fr",
            "model": str(base / "models" / "learned" / "model"),
            "retain_eval": str(base / "eval" / "retain_model"),
            "baseline_eval": str(base / "eval" / "before"),
            "eval": {"generate": False},
        },
        "grid": {"methods": ["grad_diff"], "forget_sets": ["en"], "params": {"lr": 1.0e-3, "epochs": 1}},
    }
    res = run("grid", str(write_spec(tmp_path / "p.yaml", spec)), "--out", str(tmp_path / "o"), "--no-progress")
    assert res.exit_code == 0, res.output
    df = pd.read_csv(tmp_path / "o" / "results.csv")
    assert set(df["method"]) == {"grad_diff"} and set(df["language"]) == {"en", "fr"}
    assert "forget_quality" in set(df["metric"])  # from the given retain model's records
    before = pd.read_csv(base / "eval" / "before" / "summary.csv").set_index("language")
    row = df[(df["metric"] == "retain_prob") & (df["language"] == "fr")].iloc[0]
    assert row["before"] == pytest.approx(before.loc["fr", "retain_prob"])


def test_run_ids_are_stable_and_follow_the_config():
    spec = {
        "base": {"languages": "en,fr", "eval": {"generate": False}},
        "grid": {
            "methods": ["npo", "grad_diff_kl"],
            "forget_sets": ["each", "all", "fr,en"],
            "params": {"lr": "3e-4", "alpha": [1, 5]},
        },
    }
    a, b = parse_spec(spec), parse_spec(copy.deepcopy(spec))
    assert [r.run_id for r in a.runs] == [r.run_id for r in b.runs]
    assert len(a.runs) == 2 * 4 * 2 and len({r.run_id for r in a.runs}) == 16
    assert [r.forget_label for r in a.runs[:8:2]] == ["en", "fr", "all", "fr,en"]
    r = a.runs[0]
    assert r.unlearn.train.lr == 3e-4 and r.params == {"lr": 3e-4, "alpha": 1.0}  # YAML's "3e-4" string read as a float
    assert r.unlearn.params["beta"] == 0.1 and "beta" not in a.runs[8].unlearn.params  # the method's default, recorded
    spec["base"]["eval"]["generate"] = True  # other eval settings: other results, so other ids
    assert parse_spec(spec).runs[0].run_id != r.run_id


@pytest.mark.parametrize(
    "change, message",
    [
        ({"bsae": {}}, "spec: unknown key(s) 'bsae'"),
        ({"base": {"modle": "tiny"}}, "base: unknown key(s) 'modle'"),
        ({"base": {"languages": "en,xx"}}, "base.languages: unknown language code 'xx'"),
        (
            {"grid": {"methods": ["npo", "forgetall"], "forget_sets": ["en"]}},
            "grid.methods: unknown unlearning method 'forgetall'",
        ),
        (
            {"grid": {"methods": ["npo"], "forget_sets": ["en", "de"]}},
            "grid.forget_sets[1]: language 'de' is not available",
        ),
        (
            {"grid": {"methods": ["npo"], "forget_sets": ["en"], "params": {"lr": "fast"}}},
            "grid.params.lr: expected float, got 'fast'",
        ),
        (
            {"grid": {"methods": ["npo"], "forget_sets": ["en"], "params": {"lrate": 1.0}}},
            "grid.params: unknown hyperparameter 'lrate'",
        ),
        (
            {"grid": {"methods": ["npo"], "forget_sets": ["en"], "params": {"seed": [1, 2]}}},
            "grid.params.seed: a grid axis",
        ),
        (
            {"grid": {"methods": ["npo"], "forget_sets": ["en"], "params": {"retain_loss": "mse"}}},
            "grid.params: retain_loss is 'mse'; choose from nll, kl",
        ),
        (
            {"grid": {"methods": ["npo"], "forget_sets": ["en"], "params": {"epochs": 0}}},
            "grid.params: epochs must be >= 1",
        ),
        ({"base": {"retain_eval": "x"}}, "base.retain_eval: only for a model path"),
        ({"base": {"learn": {"epochs": "many"}}}, "base.learn.epochs: expected int"),
        ({"base": {"eval": {"generat": False}}}, "base.eval: unknown key(s) 'generat'"),
        ({"grid": {"methods": [], "forget_sets": ["en"]}}, "grid.methods: needs at least one value"),
    ],
)
def test_bad_spec_names_the_field(tmp_path, change, message):
    spec = {"base": {"languages": "en,fr"}, "grid": {"methods": ["npo"], "forget_sets": ["en"]}}
    for key, value in change.items():
        spec[key] = value if key not in spec else {**spec[key], **value}
    path = write_spec(tmp_path / "bad.yaml", spec)
    with pytest.raises(GridSpecError) as err:
        load_spec(path)
    assert message in str(err.value) and "bad.yaml" in str(err.value)


def test_bad_spec_on_the_command_line(tmp_path):
    path = write_spec(
        tmp_path / "bad.yaml", {"base": {"languages": "en"}, "grid": {"methods": ["npo"], "forget_sets": ["klingon"]}}
    )
    res = run("grid", str(path), "--out", str(tmp_path / "o"))
    assert res.exit_code == 2
    assert "grid.forget_sets[0]" in res.output.replace("\n", "") and "klingon" in res.output
    assert not (tmp_path / "o").exists()  # nothing was trained or written


def test_spec_yaml_cannot_run_code(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("base: !!python/object/apply:os.system ['echo pwned > " + str(tmp_path / "pwned") + "']\n")
    with pytest.raises(GridSpecError, match="not valid \\(safe\\) YAML"):
        load_spec(path)
    assert not (tmp_path / "pwned").exists()


def test_shipped_example_spec_is_valid():
    from importlib.resources import files

    path = files("polyunlearn") / "configs" / "grids" / "study_b_tiny.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# polyunlearn grid src/polyunlearn/configs/grids/study_b_tiny.yaml")
    spec = load_spec(str(path))
    labels = list(dict.fromkeys(r.forget_label for r in spec.runs))
    assert labels == ["en", "fr", "ja", "fa", "hi", "all"]
    assert {r.method for r in spec.runs} == {"npo", "grad_diff_kl"} and len(spec.runs) == 36  # x 3 seeds
    assert json.loads(json.dumps(spec.runs[0].config, default=str))["base"]["model"] == "tiny"


def test_report_on_the_grid_folder(grid_dir, tmp_path):
    """The report reads a grid folder too; 2 languages leave 2 off-diagonal cells: too few to
    correlate, and the page says so instead of failing."""
    from polyunlearn.analysis.report import build_report

    _, _, out, _ = grid_dir
    page = build_report(out, tmp_path / "report.html").read_text(encoding="utf-8")
    n_runs = pd.read_csv(out / "results.csv")["run_id"].nunique()
    assert page.count('<img src="data:image/png;base64,') == len(list((out / "matrices").glob("*.png"))) + n_runs
    assert "need at least 3 to correlate" in page and "grid.json" in page


def test_group_pvalues_average_seeds_per_item(tmp_path):
    """Two seeds of one forget set: each item's after-value is the mean over seeds, so the
    test sees 6 paired items, not 12 draws. Seed 0 lowers item k by 0.1 (k + 1), seed 1 raises
    it by 0.05 (k + 1): means -0.025 (k + 1), all down, so p = 2/64 (exact signed-rank)."""
    from polyunlearn.analysis.results import group_pvalues
    from polyunlearn.core.atomic import write_jsonl

    def recs(values):
        return [{"id": f"f{k}", "language": "en", "split": "forget", "prob": v} for k, v in enumerate(values)]

    write_jsonl(tmp_path / "runs" / "r0" / "eval" / "items.jsonl", recs([0.9 - 0.1 * (k + 1) for k in range(6)]))
    write_jsonl(tmp_path / "runs" / "r1" / "eval" / "items.jsonl", recs([0.9 + 0.05 * (k + 1) for k in range(6)]))
    group = pd.DataFrame({"run_id": ["r0", "r1"], "forget_langs": ["en", "en"], "metric": "forget_prob"})
    p, q = group_pvalues(group, "forget_prob", tmp_path, recs([0.9] * 6), ["en"])
    assert p.loc["en", "en"] == pytest.approx(2 / 64) and q.loc["en", "en"] == pytest.approx(2 / 64)


def test_grid_attacks_every_finished_run(grid_dir):
    """`grid --attacks quant`: the finished runs are reused, each run (no model saved) is
    re-created and checked, attacked, and the report gets the attack section."""
    root, _, out, _ = grid_dir
    res = run("grid", str(root / "grid.yaml"), "--out", str(out), "--no-progress", "--attacks", "quant")
    assert res.exit_code == 0, res.output
    finished = [out / "runs" / r["run_id"] for r in read_json(out / "grid.json")["config"]["runs"]]
    finished = [d for d in finished if (d / "done.json").is_file()]  # other tests leave runs of other specs here
    assert len(finished) == 2
    for run_dir in finished:
        manifest = read_json(run_dir / "attacks" / "attack.json")
        assert manifest["unlearned_model"]["obtained"] == "re-created"
        assert (run_dir / "attacks" / "matrices" / "quant_forget_prob_recovery.csv").is_file()
    assert "Is it really gone?" in (out / "report.html").read_text(encoding="utf-8")
