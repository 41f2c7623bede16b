"""Evaluation settings (EvalConfig), in a module of their own so that the CLI can declare its
options from them without importing torch. records.py re-exports EvalConfig."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from polyunlearn.core.config import check_choice, check_number, setting
from polyunlearn.core.prompts import PROMPT_FORMATS, check_prompt_format

# The default greedy budget: the run's longest gold answer plus this margin (tokens), because
# ROUGE-L recall is measured against the gold answer; the margin leaves room for an answer
# worded longer than the gold one. More tokens can only raise recall (an LCS never shrinks
# when text is appended), so a model that rambles before it answers scores lower than at 200.
MARGIN_MIN, MARGIN_SHARE = 16, 0.25
# That rule in words, for every option and setting that declares a greedy budget (None / 0 = auto).
AUTO_BUDGET = f"the longest gold answer in tokens (EOS included) plus max({MARGIN_MIN}, a quarter of it, rounded up)"
GENERATION_BACKENDS = ("hf", "vllm")


def budget_setting() -> Any:
    """The greedy budget of a study or base config (demo, study-a, concept, the tiny base):
    None = auto, the rule above; one declaration, so every config says the same."""
    return setting(None, f"greedy answer length in tokens; none = auto: {AUTO_BUDGET}")


@dataclass(frozen=True)
class EvalConfig:
    """How a model is evaluated (part of every run's identity: other settings, other numbers)."""

    generate: bool = setting(True, "Greedy answers for ROUGE-L (off = likelihood metrics only, much faster).")
    max_new_tokens: int = setting(
        0,
        f"Greedy answer budget in new tokens; 0 = fit the run: {AUTO_BUDGET}.",
    )
    eval_batch_tokens: int = setting(
        32768,
        "Cap on cached token positions per batch (rows x (prompt + new tokens)), in scoring and generation alike: bounds evaluation peak memory (see docs/performance.md).",
    )
    max_batch: int = setting(128, "Rows per forward pass (scored continuations or generated answers).")
    max_length: int = setting(
        256, "Prompt + answer tokens per scored sequence (the prompt is cut from the left beyond it)."
    )
    prefix_sharing: bool | None = setting(
        None,
        "Run each question's prompt once for all its answers (and its greedy answer); None = wherever the model supports it, False = simple batching.",
    )
    generation_backend: str = setting(
        "hf",
        "Greedy answers by the in-process model ('hf') or by vLLM on a GPU ('vllm': optional extra, a saved model; see docs/real_scale.md).",
        choices=GENERATION_BACKENDS,
    )
    model_source: str = setting(
        "",
        "The folder or hub id the evaluated weights were loaded from unchanged (vLLM loads them itself); set by `eval`.",
        cli=False,
    )
    prompt_format: str = setting(
        "auto",
        "how questions are framed (core/prompts.py); use the format the model was trained in",
        choices=PROMPT_FORMATS,
    )

    def __post_init__(self) -> None:
        if self.max_new_tokens is None:  # the study commands' "auto" (None) is this config's 0
            object.__setattr__(self, "max_new_tokens", 0)
        check_number("max_new_tokens", self.max_new_tokens, minimum=0, integer=True)
        check_number("eval_batch_tokens", self.eval_batch_tokens, minimum=1, integer=True)
        check_number("max_batch", self.max_batch, minimum=1, integer=True)
        check_number("max_length", self.max_length, minimum=2, integer=True)
        check_choice("generation_backend", self.generation_backend, GENERATION_BACKENDS)
        check_prompt_format(self.prompt_format)
