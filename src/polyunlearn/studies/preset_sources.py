"""The papers' own values, transcribed from the authors' code with the file and line each comes
from, so a preset (studies/presets.py) can be checked against them value for value
(tests/studies/test_presets.py): a preset value must equal the authors' value here, or the preset must
state the difference (Preset.differences, printed by `polyunlearn presets`).

    AUTHORS["amnesia"]          # alirezafarashah/multilingual_unlearning
    AUTHORS["learn-unlearn"]    # TaiMingLu/learn-unlearn

Each entry: the preset section it belongs to ("learn", "unlearn", "unlearn:concept", "eval",
"study-a"), the option it corresponds to (a method hyperparameter as "method.param"; a value no
option of ours expresses keeps a descriptive name, and the preset must list it as a
difference), the value, and its source. ONE_EPOCH stands for "warmup of one epoch". Values set by
Hugging Face `TrainingArguments` defaults (the authors pass no value) cite the call that leaves
them at their default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ONE_EPOCH = "one epoch"  # the same marker as studies.presets.ONE_EPOCH

AMNESIA_REPO = "alirezafarashah/multilingual_unlearning"
LEARN_UNLEARN_REPO = "TaiMingLu/learn-unlearn"


@dataclass(frozen=True)
class AuthorValue:
    section: str
    option: str
    value: Any
    source: str  # "file:line" in the authors' repository


_FT = "config/finetune.yaml"
_FG = "config/forget.yaml"
_EV = "config/eval_everything/eval_everything_en.yaml"
_TR = "code/train.py"

AUTHORS: dict[str, tuple[AuthorValue, ...]] = {
    "amnesia": (
        # Fine-tuning (finetune.py with config/finetune.yaml)
        AuthorValue("learn", "model", "CohereForAI/aya-expanse-8b", "config/model_config.yaml:2"),
        AuthorValue("learn", "lr", 2e-5, f"{_FT}:7"),
        AuthorValue("learn", "epochs", 5, f"{_FT}:6"),
        AuthorValue("learn", "batch_size", 12, f"{_FT}:4"),
        AuthorValue("learn", "weight_decay", 0.01, f"{_FT}:10"),
        AuthorValue("learn", "seed", 42, f"{_FT}:11 (set_seed and TrainingArguments, finetune.py:20)"),
        AuthorValue("learn", "warmup_ratio", ONE_EPOCH, "finetune.py:54 (warmup_steps = max_steps // num_epochs)"),
        AuthorValue("learn", "schedule", "linear", "finetune.py:50 (TrainingArguments default lr_scheduler_type)"),
        AuthorValue("learn", "prompt_format", "amnesia", "config/model_config.yaml:3-24 (per-language tags)"),
        AuthorValue("learn", "lora", False, "finetune.py:73 (the full model is trained, no adapters)"),
        AuthorValue("learn", "train_max_length", 500, "finetune.py:35"),
        # Unlearning (forget.py with config/forget.yaml)
        AuthorValue("unlearn", "data", "tofu:forget01", f"{_FG}:8-9"),
        AuthorValue("unlearn", "lr", 2e-5, f"{_FG}:4"),
        AuthorValue("unlearn", "epochs", 5, f"{_FG}:22"),
        AuthorValue("unlearn", "batch_size", 6, f"{_FG}:20"),
        AuthorValue("unlearn", "weight_decay", 0.01, f"{_FG}:28"),
        AuthorValue("unlearn", "seed", 42, f"{_FG}:32 (set_seed, forget.py:45; TrainingArguments, forget.py:91)"),
        AuthorValue("unlearn", "warmup_ratio", ONE_EPOCH, "forget.py:74 (warmup_steps = steps_per_epoch)"),
        AuthorValue("unlearn", "schedule", "linear", "forget.py:70 (TrainingArguments default lr_scheduler_type)"),
        AuthorValue("unlearn", "gamma", 1.0, f"{_FG}:25"),
        AuthorValue("unlearn", "npo.beta", 1.0, f"{_FG}:24"),
        AuthorValue("unlearn", "curve_retain_items", 300, f"{_FG}:60 (eval.ds_size, in-training evaluation)"),
        AuthorValue("unlearn", "eval_every", 0, f"{_FG}:30 (eval_while_train: false)"),
        AuthorValue("unlearn", "train_max_length", 500, "forget.py:60"),
        AuthorValue("unlearn", "generation_max_length", 200, f"{_FG}:55 (prompt + answer tokens)"),
        # Evaluation (evaluate_util.py with config/eval_everything/)
        AuthorValue("eval", "data", "tofu:forget01", f"{_EV}:9-10"),
        AuthorValue("eval", "prompt_format", "amnesia", "config/model_config.yaml:3-24"),
        AuthorValue(
            "eval", "max_length", 200, f"{_EV}:55 (also the scored sequence length: evaluate_util.py get_dataloader)"
        ),
        AuthorValue("eval", "generation_max_length", 200, f"{_EV}:55 (prompt + answer tokens, max_new_tokens: null)"),
        # Concept unlearning (their seegull/ scripts)
        AuthorValue(
            "unlearn:concept",
            "batch_size",
            6,
            "seegull/data_utils.py (hard-coded; as the project's issue reports it, not re-read here)",
        ),
        AuthorValue(
            "unlearn:concept",
            "kl_text",
            "truthfulqa/truthful_qa",
            "seegull/ scripts (TruthfulQA generation/validation; as the project's issue reports it)",
        ),
    ),
    "learn-unlearn": (
        AuthorValue("study-a", "model", "meta-llama/Meta-Llama-3.1-8B", f"{_TR}:30"),
        AuthorValue("study-a", "data", "TaiMingLu/news-truthful", f"{_TR}:32"),
        AuthorValue("study-a", "lr", 2e-4, f"{_TR}:22"),
        AuthorValue("study-a", "unlearn_lr", 2e-4, f"{_TR}:22 (the same script with --unlearn)"),
        AuthorValue("study-a", "doc_epochs", 1, f"{_TR}:17"),
        AuthorValue("study-a", "instruct_epochs", 1, f"{_TR}:17"),
        AuthorValue("study-a", "unlearn_epochs", 1, f"{_TR}:17"),
        AuthorValue("study-a", "batch_size", 1, f"{_TR}:19"),
        AuthorValue("study-a", "unlearn_batch_size", 1, f"{_TR}:19"),
        AuthorValue("study-a", "lora", True, f"{_TR}:69-76"),
        AuthorValue("study-a", "lora_r", 2048, f"{_TR}:33"),
        AuthorValue("study-a", "lora_alpha", 64.0, f"{_TR}:35"),
        AuthorValue("study-a", "lora_dropout", 0.1, f"{_TR}:37"),
        AuthorValue("study-a", "lora_targets", "q_proj,k_proj,v_proj", f"{_TR}:73"),
        AuthorValue("study-a", "pack", 1024, f"{_TR}:88-89"),
        AuthorValue("study-a", "unlearn_pack", 1024, f"{_TR}:79-89 (the same packed trainer with --unlearn)"),
        AuthorValue("study-a", "unlearn_on", "text", f"{_TR}:86 (dataset_text_field)"),
        AuthorValue("study-a", "method", "grad_ascent", "code/trainer/gradient_ascent.py:23 (loss = -loss)"),
        AuthorValue("study-a", "warmup_ratio", 0.0, f"{_TR}:57 (TrainingArguments default warmup 0)"),
        AuthorValue("study-a", "weight_decay", 0.0, f"{_TR}:57 (TrainingArguments default weight_decay 0.0)"),
        AuthorValue("study-a", "seed", 42, f"{_TR}:57 (TrainingArguments default seed 42)"),
        AuthorValue("study-a", "unlearn_schedule", "linear", f"{_TR}:57 (TrainingArguments default lr_scheduler_type)"),
    ),
}

REPOS = {"amnesia": AMNESIA_REPO, "learn-unlearn": LEARN_UNLEARN_REPO}
