"""Per-epoch evaluation and checkpoint selection (`unlearn --eval-every N --select RULE`): the
selection rules on hand-made sequences, the config checks, and end to end on the tiny model: the
curves table and PNG, the selected epoch's weights being what the run saves and evaluates, a
resumed run equal to an uninterrupted one, and the refusal without a retain evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

import polyunlearn.core.trainloop as train_mod
import polyunlearn.pipeline.epoch_eval as curves_mod
from helpers.cli import invoke
from polyunlearn.analysis.epoch_curves import curve_table, final_selection, forget_means, select_epoch
from polyunlearn.core.models import LoraSettings, add_lora, build_tiny_model, load_weights, save_model
from polyunlearn.core.rundir import check_run_folder
from polyunlearn.pipeline.phases import UnlearnConfig

EPOCHS = 3


def summaries(values: dict[int, dict[str, dict[str, float]]]) -> dict[int, pd.DataFrame]:
    """{epoch: per-language summary} from {epoch: {language: {column: value}}}."""
    return {
        e: pd.DataFrame([{"language": lang, "forget_n": 10, **cols} for lang, cols in langs.items()])
        for e, langs in values.items()
    }


# ----------------------------------------------------------------------------- the rules, by hand

# forget Prob per epoch in en, fr (the forget languages) and ja (not unlearned; must not count).
FORGET_PROB = {
    0: (0.95, 0.90, 0.9),
    1: (0.60, 0.50, 0.0),
    2: (0.30, 0.20, 0.0),
    3: (0.10, 0.30, 0.0),
    4: (0.05, 0.05, 0.0),
}


def forget_curve() -> pd.DataFrame:
    return curve_table(
        summaries(
            {
                e: {"en": {"forget_prob": en}, "fr": {"forget_prob": fr}, "ja": {"forget_prob": ja}}
                for e, (en, fr, ja) in FORGET_PROB.items()
            }
        )
    )


def test_first_below_retain_picks_the_first_epoch_at_or_below_the_retain_model():
    """Mean forget Prob over en and fr: epoch 0 (0.95 + 0.90) / 2 = 0.925 (the model before
    unlearning, never a candidate), 1: 0.55, 2: 0.25, 3: 0.20, 4: 0.05. Target 0.25 (the retain
    model's): epoch 2, since 'at or below'; target 0.2499: epoch 3 (0.20; epoch 2's 0.25 is above);
    target 0.6: epoch 1; target 0.01: no epoch reaches it, and once training is over the last
    epoch (4) is the result, the reason says so. ja, not unlearned, is 0.0 from epoch 1 on and
    would make epoch 1 qualify for any target if it were counted."""
    means = forget_means(forget_curve(), ["en", "fr"])
    assert means["forget_prob"].round(6).to_dict() == {0: 0.925, 1: 0.55, 2: 0.25, 3: 0.2, 4: 0.05}
    assert select_epoch("first-below-retain", means, 0.25).epoch == 2
    assert select_epoch("first-below-retain", means, 0.2499).epoch == 3
    assert select_epoch("first-below-retain", means, 0.6).epoch == 1
    assert select_epoch("first-below-retain", means, 0.95).epoch == 1  # epoch 0 is never the result
    none = select_epoch("first-below-retain", means, 0.01)
    assert (
        none.epoch is None and "no evaluated epoch reached" in none.reason and "lowest 0.0500 at epoch 4" in none.reason
    )
    last = final_selection("first-below-retain", means, 0.01, last_epoch=4)
    assert last.epoch == 4 and "the last epoch (4) is the result" in last.reason
    # While training (epochs 0-1 evaluated) nothing qualifies yet for 0.25; epoch 2 then does.
    assert select_epoch("first-below-retain", means.loc[[0, 1]], 0.25).epoch is None
    assert select_epoch("last", means, None).epoch == 4 and select_epoch("last", means.loc[[0]], None).epoch is None


def test_best_fq_mu_takes_the_harmonic_mean_of_mean_fq_and_mean_mu():
    """Mean over en and fr of FQ and MU, then HM(a, b) = 2ab / (a + b):
    epoch 1: FQ (0.001 + 0.003) / 2 = 0.002, MU 0.6  -> 2 * 0.002 * 0.6 / 0.602 = 0.003987
    epoch 2: FQ (0.2 + 0.4) / 2 = 0.3,       MU 0.3  -> 0.3
    epoch 3: FQ 0.5,                         MU 0.1  -> 2 * 0.05 / 0.6 = 0.1667
    epoch 4: FQ 0.3,                         MU 0.3  -> 0.3 (a tie with epoch 2: the earliest wins)
    -> epoch 2. The arithmetic mean (open-unlearning #187) would pick epoch 1 (0.301 > 0.3): the
    epoch that has not forgotten yet."""
    fq = {1: (0.001, 0.003), 2: (0.2, 0.4), 3: (0.5, 0.5), 4: (0.3, 0.3)}
    mu = {1: (0.6, 0.6), 2: (0.3, 0.3), 3: (0.1, 0.1), 4: (0.3, 0.3)}
    table = curve_table(
        summaries(
            {
                e: {
                    lang: {"forget_quality": fq[e][k], "model_utility": mu[e][k], "forget_prob": 0.5}
                    for k, lang in enumerate(("en", "fr"))
                }
                for e in fq
            }
        )
    )
    sel = select_epoch("best-fq-mu", forget_means(table, ["en", "fr"]))
    assert sel.epoch == 2 and sel.score == pytest.approx(0.3)
    assert "0.3" in sel.reason and "harmonic mean" in sel.reason
    assert select_epoch("best-fq-mu", forget_means(table, ["en", "fr"]).drop(index=[2, 4])).score == pytest.approx(
        2 * 0.05 / 0.6
    )
    with pytest.raises(ValueError, match="best-fq-mu needs model_utility"):
        select_epoch("best-fq-mu", forget_means(forget_curve(), ["en"]).assign(forget_quality=0.5))


def test_curve_table_is_tidy():
    """2 epochs x 2 languages x 4 metric columns = 16 rows; counts (forget_n) are not metrics;
    forget_prob -> split forget, metric prob; model_utility (across splits) -> split ''."""
    s = summaries(
        {
            e: {
                lang: {"forget_prob": 0.1 * e, "retain_prob": 0.9, "forget_quality": 0.5, "model_utility": 0.4}
                for lang in ("en", "fr")
            }
            for e in (0, 1)
        }
    )
    t = curve_table(s)
    assert list(t.columns) == ["epoch", "language", "split", "metric", "value"] and len(t) == 16
    assert set(zip(t["split"], t["metric"], strict=True)) == {
        ("forget", "prob"),
        ("retain", "prob"),
        ("", "forget_quality"),
        ("", "model_utility"),
    }
    assert t[(t.epoch == 1) & (t.language == "fr") & (t.metric == "prob") & (t.split == "forget")][
        "value"
    ].item() == pytest.approx(0.1)


def test_config_checks():
    with pytest.raises(
        ValueError, match="select first-below-retain picks among per-epoch evaluations: set eval_every >= 1"
    ):
        UnlearnConfig(select="first-below-retain")
    with pytest.raises(ValueError, match="select best-fq-mu needs Model Utility"):
        UnlearnConfig(eval_every=1, select="best-fq-mu", curve_generate=False)
    with pytest.raises(ValueError, match="select is 'best'; choose from last, first-below-retain, best-fq-mu"):
        UnlearnConfig(eval_every=1, select="best")
    with pytest.raises(ValueError, match="eval_every must be >= 0"):
        UnlearnConfig(eval_every=-1)
    # curve_generate is resolved when built, so the saved config says what ran.
    assert UnlearnConfig(eval_every=1, select="best-fq-mu").curve_generate is True
    assert UnlearnConfig(eval_every=2).curve_generate is False


def test_load_weights_puts_saved_weights_back(tokenizer, tmp_path):
    """save_model then load_weights restores the saved tensors into a model that moved on: a
    plain model (tied embeddings: cohere), and a LoRA model (the adapter only)."""
    for arch, lora in (("cohere", False), ("llama", True)):
        model = build_tiny_model(tokenizer, arch, seed=1)
        model = add_lora(model, LoraSettings(r=2)) if lora else model
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.01)
        saved = {k: v.clone() for k, v in model.state_dict().items()}
        save_model(model, tokenizer, tmp_path / arch)
        with torch.no_grad():
            for p in model.parameters():
                if p.requires_grad:
                    p.mul_(3.0)
        load_weights(model, tmp_path / arch)
        assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items()), arch
    with pytest.raises(ValueError, match="weights do not fit the model"):
        load_weights(build_tiny_model(tokenizer, "llama"), tmp_path / "cohere")


# ----------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def files(learned_folder):
    """The shared learned tiny model (model folder), its data (en + fr slice), and a real retain
    model (`learn --retain-only`: never saw the forget split) with its evaluation."""
    root = learned_folder("curves")
    code, text = invoke(
        "learn",
        "--model",
        "tiny",
        "--data",
        root / "items.jsonl",
        "--retain-only",
        "--epochs",
        30,
        "--batch-size",
        16,
        "--lr",
        3e-3,
        "--vocab-size",
        600,
        "--out",
        root / "retain",
    )
    assert code == 0, text
    return root


def unlearn_args(files: Path, out: Path, *extra) -> list:
    return [
        "unlearn",
        "--model",
        files / "learned",
        "--data",
        files / "items.jsonl",
        "--forget-langs",
        "en",
        "--epochs",
        EPOCHS,
        "--batch-size",
        5,
        "--lr",
        1e-3,
        "--eval-every",
        1,
        "--out",
        out,
        *extra,
    ]


@pytest.fixture(scope="module")
def selected_run(files):
    """`unlearn --eval-every 1 --select first-below-retain --retain-eval DIR` on the tiny model."""
    out = files / "u_first"
    code, text = invoke(
        *unlearn_args(files, out, "--select", "first-below-retain", "--retain-eval", files / "retain" / "eval")
    )
    assert code == 0, text
    return out, text


def test_curves_are_written_and_the_selected_epoch_is_the_result(selected_run, files):
    out, text = selected_run
    curves = pd.read_csv(out / "curves.csv", keep_default_na=False)
    assert list(curves.columns) == ["epoch", "language", "split", "metric", "value"]
    # epochs 0 (before unlearning) .. 3, both languages, forget and retain, likelihood metrics (no generation):
    # prob, truth_ratio_score, exact_memorization, extraction_strength per split, plus forget_quality.
    assert sorted(set(curves["epoch"])) == list(range(EPOCHS + 1)) and set(curves["language"]) == {"en", "fr"}
    per_epoch = curves.groupby("epoch").size()
    assert (per_epoch == 2 * (2 * 4 + 1)).all(), per_epoch.to_dict()
    assert set(curves.loc[curves["split"] == "", "metric"]) == {"forget_quality"} and "rouge_l" not in set(
        curves["metric"]
    )
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The selection, worked out from the curves and the retain model's own summary.
    retain = pd.read_csv(files / "retain" / "eval" / "summary.csv").set_index("language")
    target = retain.loc["en", "forget_prob"]
    en = curves[(curves.language == "en") & (curves.split == "forget") & (curves.metric == "prob")].set_index("epoch")[
        "value"
    ]
    expected = next((e for e in range(1, EPOCHS + 1) if en[e] <= target), EPOCHS)
    done = json.loads((out / "done.json").read_text())
    assert done["select"] == "first-below-retain" and done["selected_epoch"] == expected
    assert done["curves"]["retain_model_forget_prob"] == pytest.approx(target)
    assert done["curves"]["would_select"]["last"]["epoch"] == EPOCHS and f"epoch {expected} selected" in text
    assert expected < EPOCHS, (
        f"the tiny model should reach the retain model's forget Prob early (en: {en.to_dict()}, target {target})"
    )
    # What the run saved and evaluated is the selected epoch's model, not the last one.
    final = pd.read_csv(out / "eval" / "summary.csv").set_index("language")
    chosen = pd.read_csv(out / "curves" / f"epoch_{expected}" / "summary.csv").set_index("language")
    last = pd.read_csv(out / "curves" / f"epoch_{EPOCHS}" / "summary.csv").set_index("language")
    for lang in ("en", "fr"):
        assert final.loc[lang, "forget_prob"] == pytest.approx(chosen.loc[lang, "forget_prob"], abs=1e-6)
        assert final.loc[lang, "forget_prob"] != pytest.approx(last.loc[lang, "forget_prob"], abs=1e-4)
    assert check_run_folder(out) == [] and not (out / "selected").exists() and not (out / "ckpt").exists()


def test_resumed_run_equals_uninterrupted(selected_run, files, monkeypatch):
    """Interrupted twice (Ctrl-C right after epoch 1's checkpoint, before its evaluation; then
    while saving the selected candidate), then finished: the same curves, the same selection and
    the same saved weights as the uninterrupted run."""
    reference, _ = selected_run
    out = files / "u_resumed"
    args = unlearn_args(files, out, "--select", "first-below-retain", "--retain-eval", files / "retain" / "eval")
    save_checkpoint, store = train_mod._save_checkpoint, curves_mod.save_model

    def stop_after_epoch_1(acc, ckpt, epoch, history, cfg):
        save_checkpoint(acc, ckpt, epoch, history, cfg)
        if epoch == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(train_mod, "_save_checkpoint", stop_after_epoch_1)
    assert invoke(*args)[0] != 0
    assert (out / "curves" / "epoch_0" / "summary.csv").exists() and not (out / "curves" / "epoch_1").exists()
    monkeypatch.setattr(train_mod, "_save_checkpoint", save_checkpoint)

    def stop_while_storing(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(curves_mod, "save_model", stop_while_storing)
    assert invoke(*args)[0] != 0
    assert not (out / "selected" / "selected.json").exists() and not (out / "done.json").exists()
    monkeypatch.setattr(curves_mod, "save_model", store)
    code, text = invoke(*args)
    assert code == 0, text
    assert (out / "curves.csv").read_bytes() == (reference / "curves.csv").read_bytes()
    a, b = json.loads((out / "done.json").read_text()), json.loads((reference / "done.json").read_text())
    assert {k: a[k] for k in ("selected_epoch", "selection_reason", "curves")} == {
        k: b[k] for k in ("selected_epoch", "selection_reason", "curves")
    }
    assert (out / "model" / "model.safetensors").read_bytes() == (
        reference / "model" / "model.safetensors"
    ).read_bytes()
    assert (out / "eval" / "summary.csv").read_bytes() == (reference / "eval" / "summary.csv").read_bytes()
    assert check_run_folder(out) == []


def test_select_without_a_retain_evaluation_is_refused_before_the_model_loads(files, monkeypatch):
    import polyunlearn.pipeline.runs as runs

    def no_loading(*a, **k):
        raise AssertionError("a model or tokenizer was loaded")

    monkeypatch.setattr(runs, "load_tokenizer", no_loading)
    for rule in ("first-below-retain", "best-fq-mu"):
        out = files / f"refused_{rule}"
        code, text = invoke(*unlearn_args(files, out, "--select", rule))
        assert code == 2 and f"--select {rule} needs the retain model's evaluation: give --retain-eval DIR" in text, (
            text
        )
        assert not out.exists()
    code, text = invoke(
        *[
            a
            for a in unlearn_args(files, files / "refused", "--select", "first-below-retain")
            if a not in ("--eval-every", 1)
        ]
    )
    assert code == 2 and "set eval_every >= 1 (--eval-every)" in text, text
    code, text = invoke(
        *unlearn_args(
            files,
            files / "refused",
            "--select",
            "best-fq-mu",
            "--retain-eval",
            files / "retain" / "eval",
            "--no-curve-generate",
        )
    )
    assert code == 2 and "select best-fq-mu needs Model Utility" in text, text
    assert not (files / "refused").exists()
    # best-fq-mu on data whose forget items have no paraphrase (no truth ratio, so no Forget Quality).
    rows = [json.loads(line) for line in (files / "items.jsonl").read_text().splitlines()]
    (files / "no_paraphrase.jsonl").write_text(
        "".join(json.dumps({k: v for k, v in r.items() if k != "paraphrased_answer"}) + "\n" for r in rows)
    )
    args = [
        a if a != files / "items.jsonl" else files / "no_paraphrase.jsonl"
        for a in unlearn_args(files, files / "refused", "--select", "best-fq-mu")
    ]
    code, text = invoke(*args, "--retain-eval", files / "retain" / "eval")
    assert (
        code == 2 and "--select best-fq-mu needs truth ratios" in text and "forget en: no paraphrased_answer" in text
    ), text
    assert not (files / "refused").exists()


def test_grid_keys_and_refusal():
    from polyunlearn.studies.grid import GridSpecError, parse_spec

    spec = {
        "base": {"languages": "en,fr"},
        "grid": {
            "methods": ["npo"],
            "forget_sets": ["en"],
            "params": {"eval_every": [0, 2], "select": "last", "curve_retain_items": 5},
        },
    }
    runs = parse_spec(spec).runs
    assert [(r.unlearn.eval_every, r.unlearn.curve_retain_items) for r in runs] == [(0, 5), (2, 5)] and runs[
        0
    ].run_id != runs[1].run_id
    spec["grid"]["params"] = {"eval_every": 1, "select": "first-below-retain"}
    assert parse_spec(spec).runs[0].unlearn.select == "first-below-retain"  # the tiny base has its retain model
    spec["base"]["model"] = "org/some-model"
    with pytest.raises(
        GridSpecError, match="first-below-retain needs the retain model's evaluation: set base.retain_eval"
    ):
        parse_spec(spec)
