"""`polyunlearn eval --lm-eval` runs lm-evaluation-harness (lm_eval.simple_evaluate, HFLM around
the in-memory model) on the tiny learned model with local multiple-choice tasks: a task YAML
per language over a JSON file this test writes (no hub), and writes lm-eval's own numbers
beside the summary and as per-language summary columns."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from helpers.cli import runner
from helpers.lm_eval_tasks import write_tasks
from polyunlearn.cli import app
from polyunlearn.core.encoding import Encoder
from polyunlearn.core.models import save_model
from polyunlearn.data.loaders import save_items
from polyunlearn.evaluation.lm_eval_bridge import add_lm_eval_columns, task_language, tidy_results
from polyunlearn.evaluation.scoring import score_pairs


def expected_acc(model, tok, rows: list[dict]) -> float:
    """Accuracy as lm-eval defines `acc` for multiple choice: the choice with the highest summed
    log-likelihood given the context, here from polyunlearn's own scorer (answer tokens
    without the EOS it appends)."""
    enc = Encoder(tok)
    hits = 0
    for r in rows:
        scores = score_pairs(model, enc, [(r["question"], c) for c in r["choices"]])
        sums = [sum(s.content(s.token_logps)) for s in scores]
        hits += max(range(len(sums)), key=sums.__getitem__) == r["label"]
    return hits / len(rows)


def test_task_language():
    assert task_language("xnli_fr") == ("xnli", "fr")
    assert task_language("belebele_fra_Latn") == ("belebele", "fr")
    assert task_language("global_mmlu_zh") == ("global_mmlu", "zh")
    assert task_language("xcopa_ind") == ("xcopa", "id")
    assert task_language("hellaswag") == ("hellaswag", None) and task_language("arc_easy") == ("arc_easy", None)


def test_tidy_results_and_summary_columns():
    results = {
        "results": {
            "xnli_fr": {"alias": "xnli_fr", "acc,none": 0.5, "acc_stderr,none": 0.1},
            "belebele_fra_Latn": {"acc,none": 0.25, "acc_norm,none": 0.3, "acc_norm_stderr,none": "N/A"},
            "hellaswag": {"acc,none": 0.9},
        },
        "higher_is_better": {"xnli_fr": {"acc": True}},
    }
    table = tidy_results(results)
    assert len(table) == 4 and table.loc[0].to_dict() == {
        "task": "xnli_fr",
        "family": "xnli",
        "language": "fr",
        "metric": "acc",
        "filter": "none",
        "value": 0.5,
        "stderr": 0.1,
        "higher_is_better": True,
    }
    summary = pd.DataFrame({"language": ["en", "fr"], "forget_prob": [0.9, 0.8]})
    merged = add_lm_eval_columns(summary, table).set_index("language")
    assert merged.loc["fr", "lm_xnli_acc"] == 0.5 and merged.loc["fr", "lm_belebele_acc_norm"] == 0.3
    assert pd.isna(merged.loc["en", "lm_xnli_acc"]) and "lm_hellaswag_acc" not in merged  # not per language


def test_eval_lm_eval_on_the_tiny_model_with_local_tasks(learned, tokenizer, items, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf_cache"))  # lm-eval's datasets cache stays here
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model_dir = save_model(learned, tokenizer, tmp_path / "model")
    data = save_items(
        [it for it in items if it.id in ("fact-000", "fact-001", "fact-090", "fact-091")], tmp_path / "data.jsonl"
    )
    docs = write_tasks(tmp_path / "tasks", items)
    out = tmp_path / "eval"
    args = [
        "eval",
        "--model",
        str(model_dir),
        "--out",
        str(out),
        "--data",
        str(data),
        "--no-generate",
        "--lm-eval",
        "pu_qa_en,pu_qa_fr",
        "--lm-eval-include",
        str(tmp_path / "tasks"),
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    saved = json.loads((out / "lm_eval.json").read_text())
    assert set(saved["results"]) == {"pu_qa_en", "pu_qa_fr"} and saved["n-samples"]["pu_qa_en"]["effective"] == 10
    table = pd.read_csv(out / "lm_eval.csv").set_index("task")
    summary = pd.read_csv(out / "summary.csv").set_index("language")
    for lang in ("en", "fr"):
        acc = table.loc[f"pu_qa_{lang}", "value"]
        assert table.loc[f"pu_qa_{lang}", "language"] == lang and bool(table.loc[f"pu_qa_{lang}", "higher_is_better"])
        assert acc == saved["results"][f"pu_qa_{lang}"]["acc,none"] == summary.loc[lang, "lm_pu_qa_acc"]
        # lm-eval scored the model we loaded: the learned facts win (chance is 1/4), and its
        # accuracy is the one polyunlearn's own scorer gives on the same choices.
        assert acc >= 0.8 and acc == pytest.approx(expected_acc(learned, tokenizer, docs[lang]))
    assert "lm_pu_qa_acc" in res.output and {"forget_prob", "retain_prob"} <= set(summary.columns)


def test_unknown_lm_eval_task_fails_before_the_model_loads(tmp_path):
    (tmp_path / "tasks").mkdir()
    res = runner.invoke(
        app,
        [
            "eval",
            "--model",
            str(tmp_path / "no-model"),
            "--out",
            str(tmp_path / "o"),
            "--lm-eval",
            "pu_nope_xx",
            "--lm-eval-include",
            str(tmp_path / "tasks"),
        ],
    )
    assert res.exit_code == 2 and "unknown lm-eval task(s) pu_nope_xx" in res.output
