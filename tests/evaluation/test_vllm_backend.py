"""`--generation-backend vllm` (evaluation/vllm_backend.py): its greedy answers equal ours on a
saved tiny model (skipped without a CUDA GPU and vllm: CI has neither); the refusals that need
neither run everywhere, before any model work."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from helpers.cli import runner
from polyunlearn.core.encoding import Encoder
from polyunlearn.evaluation.records import EvalConfig, score_items
from polyunlearn.evaluation.scoring import generate_answers
from polyunlearn.evaluation.vllm_backend import check_vllm_usable

HAVE_VLLM = importlib.util.find_spec("vllm") is not None and torch.cuda.is_available()


@pytest.mark.skipif(not HAVE_VLLM, reason="needs a CUDA GPU and vllm (pip install 'polyunlearn[vllm]')")
def test_vllm_greedy_answers_equal_ours(learned, tokenizer, items, tmp_path):
    from polyunlearn.core.models import load_model, save_model

    save_model(learned, tokenizer, tmp_path / "model")
    model = load_model(str(tmp_path / "model"), "float32").to("cuda").eval()
    cfg = EvalConfig(max_new_tokens=24, generation_backend="vllm", model_source=str(tmp_path / "model"))
    theirs = [r["generated"] for r in score_items(model, tokenizer, items, cfg)]
    ours = generate_answers(model, Encoder(tokenizer), [it.question for it in items], 24)
    assert theirs == ours


def test_vllm_backend_needs_the_models_source(learned):
    with pytest.raises(ValueError, match="loaded from unchanged"):
        check_vllm_usable(learned, "")


def test_vllm_backend_refused_without_vllm_or_gpu_before_scoring(learned, tokenizer, items):
    if HAVE_VLLM:
        pytest.skip("vllm and a GPU are present")
    with pytest.raises(ValueError, match="vllm|GPU"):
        score_items(learned, tokenizer, items[:2], EvalConfig(generation_backend="vllm", model_source="some/model"))


def test_eval_cli_refuses_vllm_without_it_in_one_line(tmp_path):
    if HAVE_VLLM:
        pytest.skip("vllm and a GPU are present")
    from polyunlearn.cli import app

    res = runner.invoke(
        app, ["eval", "--model", str(tmp_path / "m"), "--out", str(tmp_path / "o"), "--generation-backend", "vllm"]
    )
    assert res.exit_code == 2 and "vllm" in res.output.lower() and "Traceback" not in res.output
