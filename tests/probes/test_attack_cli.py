"""`polyunlearn attack` end to end on the tiny model: an unlearning run made with `polyunlearn
unlearn` (module fixture), every probe through the CLI, the run contract on RUN_DIR/attacks
(reuse, refusal naming the field, layout), the numbers of the matrices against their raw values,
relearning that raises forget Prob, the re-creation of an unsaved unlearned model (accepted when
it reproduces the run, refused when it does not), and the report section."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from helpers.cli import invoke
from polyunlearn.core.atomic import read_jsonl, write_jsonl
from polyunlearn.core.rundir import check_run_folder, run_folders


@pytest.fixture(scope="module")
def made(learned_folder):
    """The shared learned tiny model as a folder, a quick retain model (`learn --retain-only`),
    an unlearning run (`unlearn`, en forgotten, model saved) and every probe on it."""
    root = learned_folder("attack")
    code, text = invoke(
        "learn",
        "--model",
        root / "learned",
        "--data",
        root / "items.jsonl",
        "--retain-only",
        "--epochs",
        2,
        "--batch-size",
        16,
        "--lr",
        1e-3,
        "--no-evaluate",
        "--out",
        root / "retain",
    )
    assert code == 0, text
    code, text = invoke(
        "unlearn",
        "--model",
        root / "learned",
        "--data",
        root / "items.jsonl",
        "--forget-langs",
        "en",
        "--method",
        "grad_diff",
        "--epochs",
        4,
        "--batch-size",
        5,
        "--lr",
        1e-3,
        "--out",
        root / "u_en",
    )
    assert code == 0, text
    code, text = invoke("attack", root / "u_en", "--retain-model", root / "retain" / "model", "--relearn-lr", 6e-3)
    assert code == 0, text
    return root, text


PROBE_GROUPS = ("quant", "relearn", "xprompt_instructed", "xprompt_mixed", "jailbreak")


def test_attack_writes_every_probe_matrix_with_tests_and_heatmaps(made):
    root, text = made
    mat = root / "u_en" / "attacks" / "matrices"
    for group in PROBE_GROUPS:
        for suffix in (
            "_forget_prob_recovery.csv",
            "_forget_prob_recovery_p.csv",
            "_forget_prob_recovery_q.csv",
            "_forget_prob_recovery.png",
            "_forget_prob_raw.csv",
            "_forget_rouge_l_recovery.csv",
            "_wrong_language.csv",
        ):
            assert (mat / f"{group}{suffix}").is_file(), f"{group}{suffix}"
    manifest = json.loads((root / "u_en" / "attacks" / "attack.json").read_text())
    assert manifest["unlearned_model"]["obtained"] == "saved" and manifest["forget_langs"] == ["en"]
    assert "recovered share of the forget Prob" in text and "paraphrased question: unavailable" in text
    quant = pd.read_csv(mat / "quant_forget_prob_recovery.csv", index_col=0)
    assert list(quant.index) == ["int8", "nf4", "int4_g128"] and list(quant.columns) == ["en", "fr"]
    relearn = pd.read_csv(mat / "relearn_forget_prob_recovery.csv", index_col=0)
    assert list(relearn.index) == ["forget-en", "forget-fr", "retain"]
    xp = pd.read_csv(mat / "xprompt_instructed_forget_prob_recovery.csv", index_col=0)
    assert list(xp.index) == ["asked in en", "asked in fr"]


def test_recovery_cells_follow_from_the_raw_values(made):
    """Every recovery cell = (attacked - unlearned) / (before - unlearned) of the raw table, n/a
    (NaN) exactly where the language forgot less than the tolerance (0.05)."""
    root, _ = made
    mat = root / "u_en" / "attacks" / "matrices"
    for group in ("quant", "relearn", "jailbreak"):
        m = pd.read_csv(mat / f"{group}_forget_prob_recovery.csv", index_col=0)
        raw = pd.read_csv(mat / f"{group}_forget_prob_raw.csv", index_col=0)
        b, u = raw.loc["before (plain)"], raw.loc["unlearned (plain)"]
        for row in m.index:
            for lang in m.columns:
                if abs(b[lang] - u[lang]) < 0.05:
                    assert math.isnan(m.loc[row, lang])
                else:
                    assert m.loc[row, lang] == pytest.approx(
                        (raw.loc[row, lang] - u[lang]) / (b[lang] - u[lang]), abs=1e-9
                    )
    # en was unlearned: its cells are defined; fr kept its facts with grad_diff on en only (or not): both cases are checked above.
    assert not math.isnan(pd.read_csv(mat / "quant_forget_prob_recovery.csv", index_col=0).loc["nf4", "en"])


def test_robustness_and_layout(made):
    root, _ = made
    robust = pd.read_csv(root / "u_en" / "attacks" / "robustness.csv")
    assert list(robust["language"]) == ["en", "fr"]
    assert robust[["R", "Q"]].apply(lambda s: s.between(0, 1)).all().all()
    assert (
        robust["robustness"].notna().all() and robust["forget_quality"].isna().all()
    )  # the unlearn run had no --retain-eval
    folders = run_folders(root / "u_en")
    assert len(folders) >= 12  # the run, attacks/, plain x3, quant x3, relearn x3 + the retain model's, prompt probes
    problems = [p for f in folders for p in check_run_folder(f)]
    assert problems == []


def test_rerun_reuses_and_other_settings_are_refused(made):
    root, _ = made
    code, text = invoke(
        "attack", root / "u_en", "--probes", "quant", "--retain-model", root / "retain" / "model", "--relearn-lr", 6e-3
    )
    assert code == 0 and "skipping" in text
    code, text = invoke("attack", root / "u_en", "--probes", "quant", "--relearn-fraction", 0.5, "--relearn-lr", 6e-3)
    assert code == 2 and "settings.relearn_fraction: 0.3 -> 0.5" in text and "--overwrite" in text
    code, text = invoke("attack", root / "u_en", "--probes", "quantize")
    assert code == 2 and "unknown probe(s) quantize" in text
    code, text = invoke("attack", root / "learned")
    assert code == 2 and "not a run folder" in text


def test_relearning_raises_forget_prob(made, tokenizer):
    """One epoch on the 3 relearned English facts at lr 6e-3 raises their Prob (the relearn step
    itself, evaluated on what it trained on)."""
    from polyunlearn.core.models import load_model
    from polyunlearn.core.trainloop import TrainConfig
    from polyunlearn.data.loaders import load_items
    from polyunlearn.evaluation.records import EvalConfig, score_items
    from polyunlearn.probes.probe_steps import probe_evaluation, relearn_data, relearn_ids, relearn_run

    root, _ = made
    forget = [it for it in load_items(str(root / "items.jsonl")) if it.split == "forget" and it.language == "en"]
    ids = set(relearn_ids(forget, 0.3))
    items = [it for it in forget if it.id in ids]
    model = load_model(str(root / "u_en" / "model"))
    before = [r["prob"] for r in score_items(model, tokenizer, items, EvalConfig(generate=False))]
    ev = probe_evaluation(items, ["t"] * len(items), EvalConfig(generate=False), None)
    records, _ = relearn_run(
        root / "relearn_check",
        load=lambda: load_model(str(root / "u_en" / "model")),
        identity={"test": 1},
        tokenizer=tokenizer,
        data=relearn_data(tokenizer, items, None, 256),
        cfg=TrainConfig(lr=6e-3, epochs=1, batch_size=8),
        evaluation=ev,
    )
    after = [r["prob"] for r in records]
    assert sum(after) / len(after) > sum(before) / len(before) + 0.05, (before, after)
    assert check_run_folder(root / "relearn_check") == []


def test_unsaved_model_is_recreated_and_checked_against_the_run(made, tokenizer):
    """A run that saved no model (as the demo's): re-created through the same unlearning step and
    accepted when it reproduces the run's per-item forget Prob; a run whose records disagree is
    refused with one line saying to rerun with the model saved."""
    from polyunlearn.core.models import load_model
    from polyunlearn.core.rundir import data_fingerprint, model_fingerprint
    from polyunlearn.core.trainloop import TrainConfig
    from polyunlearn.data.loaders import load_items
    from polyunlearn.evaluation.records import EvalConfig
    from polyunlearn.pipeline.phases import UnlearnConfig
    from polyunlearn.pipeline.step import standard_evaluation, unlearn_step
    from polyunlearn.probes.attack import AttackConfig, run_attacks

    root, _ = made
    items = load_items(str(root / "items.jsonl"))
    for name in ("unsaved", "tampered"):
        unlearn_step(
            root / name,
            load=lambda: load_model(str(root / "learned")),
            identity={"model": model_fingerprint(str(root / "learned")), "data": data_fingerprint(items)},
            tokenizer=tokenizer,
            items=items,
            cfg=UnlearnConfig(
                method="grad_diff", forget_langs="en", train=TrainConfig(lr=1e-3, epochs=2, batch_size=5)
            ),
            evaluation=standard_evaluation(items, EvalConfig(generate=False)),
            info={"data": str(root / "items.jsonl")},
            progress=False,
        )
    assert not (root / "unsaved" / "model").exists()
    forget_en = [it for it in items if it.split == "forget" and it.language == "en"]
    paraphrases = [
        {"id": it.id, "language": "en", "paraphrased_question": f"Tell me: {it.question}"} for it in forget_en
    ]
    write_jsonl(root / "para.jsonl", paraphrases)
    cfg = AttackConfig(probes=("quant", "jailbreak"), quant_formats="int8", paraphrases=str(root / "para.jsonl"))
    manifest = run_attacks(root / "unsaved", cfg)
    assert manifest["unlearned_model"]["obtained"] == "re-created"
    assert manifest["unlearned_model"]["max_forget_prob_difference"] < 1e-4
    jail = pd.read_csv(root / "unsaved" / "attacks" / "matrices" / "jailbreak_forget_prob_raw.csv", index_col=0)
    assert "paraphrased_question" in jail.index and "before | paraphrased_question" in jail.index
    assert not math.isnan(jail.loc["paraphrased_question", "en"])
    assert math.isnan(jail.loc["paraphrased_question", "fr"])  # paraphrases given for en only
    records = read_jsonl(root / "tampered" / "eval" / "items.jsonl")
    first = next(r for r in records if r["split"] == "forget")
    first["prob"] += 0.01
    write_jsonl(root / "tampered" / "eval" / "items.jsonl", records)
    code, text = invoke("attack", root / "tampered", "--probes", "quant")
    assert code == 2 and "does not reproduce the run" in text and "with the model saved" in text


def test_report_section_renders_stars_and_na(made, tmp_path):
    """The section of an attacked run: its probes' tables; a hand-written matrix renders a
    significant cell with a star and an undefined one as n/a."""
    from polyunlearn.analysis.attack_report import attack_section, starred_table

    root, _ = made
    html = "".join(attack_section(root / "u_en"))
    assert (
        "Is it really gone?" in html
        and all(f"{g}: recovered share" in html for g in PROBE_GROUPS)
        and "Robustness" in html
    )
    pd.DataFrame({"en": [0.5, 0.1], "fr": [float("nan"), 0.2]}, index=["nf4", "int8"]).rename_axis(
        "quantized as"
    ).to_csv(tmp_path / "x_recovery.csv")
    pd.DataFrame({"en": [0.01, 0.3], "fr": [float("nan"), 0.04]}, index=["nf4", "int8"]).to_csv(
        tmp_path / "x_recovery_q.csv"
    )
    table = starred_table(tmp_path / "x_recovery.csv")
    assert "+0.50*" in table and "n/a" in table and "+0.10<" in table and "+0.20*" in table


def test_lora_run_quantizes_merged_and_adapter_and_relearns(made):
    """A LoRA unlearning run (adapter saved): quantization of the merged model and, separately,
    of the adapter only; relearning trains the adapters (the retain model gets fresh ones)."""
    root, _ = made
    code, text = invoke(
        "unlearn",
        "--model",
        root / "learned",
        "--data",
        root / "items.jsonl",
        "--forget-langs",
        "en",
        "--method",
        "grad_diff",
        "--lora",
        "--lora-r",
        4,
        "--epochs",
        2,
        "--batch-size",
        5,
        "--lr",
        1e-2,
        "--out",
        root / "u_lora",
    )
    assert code == 0, text
    assert (root / "u_lora" / "model" / "adapter_config.json").is_file()
    code, text = invoke(
        "attack",
        root / "u_lora",
        "--probes",
        "quant,relearn",
        "--relearn-langs",
        "en",
        "--retain-model",
        root / "retain" / "model",
        "--quant-formats",
        "nf4",
    )
    assert code == 0, text
    mat = root / "u_lora" / "attacks" / "matrices"
    assert list(pd.read_csv(mat / "quant_forget_prob_raw.csv", index_col=0).index)[2:] == ["merged-nf4", "adapter-nf4"]
    manifest = json.loads((root / "u_lora" / "attacks" / "attack.json").read_text())
    assert "lr 0.0002" in " ".join(manifest["notes"])  # LoRA relearning: twice the LoRA learning lr
    assert [p for f in run_folders(root / "u_lora") for p in check_run_folder(f)] == []
