"""The two papers' protocols as presets: every hyperparameter, prompt format and split choice of a
paper in one word, as data in one place. `--preset NAME` on a command sets these options; an
option given on the command line wins, and the console says which (cli/options.with_preset).
The preset's name is recorded in the run's identity, and every value it set is in the identity
anyway (they are config fields).

    polyunlearn learn --preset amnesia --data "tofu:forget01 + tofu:amnesia/:forget01" --out runs/aya
    polyunlearn unlearn --preset amnesia --method npo --model runs/aya/model --forget-langs en --out runs/npo-en
    polyunlearn study-a --preset learn-unlearn --data TaiMingLu/news-truthful --fake-lang en
    polyunlearn presets                      # every preset, and our defaults beside the papers'

A preset maps a command (or "command:task", e.g. "unlearn:concept") to {option: value}, with the
options named as the command's parameters (`lr`, `batch_size`, `prompt_format`...). Method
hyperparameters sit under "method_params" per method, and apply only when that method runs
(NPO's beta 1.0 is not a GradDiff setting). The value ONE_EPOCH means "warmup of one epoch":
1 / epochs, computed from the run's final epochs.

What a preset cannot set is in its `notes` (printed with it): the authors' data itself, the
methods they compare (a run is one method), and what the papers do not state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ONE_EPOCH = "one epoch"  # warmup_ratio = 1 / epochs


@dataclass(frozen=True)
class Preset:
    name: str
    paper: str
    commands: Mapping[str, Mapping[str, Any]]
    notes: tuple[str, ...] = ()
    sources: Mapping[str, str] = field(
        default_factory=dict
    )  # option -> where the value comes from, when not the paper itself


_AMNESIA_TRAIN = {
    "lr": 2e-5,
    "epochs": 5,
    "weight_decay": 0.01,
    "warmup_ratio": ONE_EPOCH,
    "schedule": "linear",
    "prompt_format": "amnesia",
    "lora": False,
}

PRESETS: dict[str, Preset] = {
    "amnesia": Preset(
        "amnesia",
        "arXiv 2601.05641 (Multilingual Amnesia), the authors' code and settings",
        {
            "learn": {
                "model": "CohereLabs/aya-expanse-8b",
                "data": "tofu:forget01",
                **_AMNESIA_TRAIN,
                "batch_size": 12,
            },
            "unlearn": {
                "data": "tofu:forget01",
                **_AMNESIA_TRAIN,
                "batch_size": 6,
                "language_mix": "concat",
                "method_params": {"npo": {"beta": 1.0}},
            },
            "unlearn:concept": {
                "method": "concept_mcq",
                "lr": 1e-6,
                "epochs": 1,
                "alpha": 1.0,
                "prompt_format": "amnesia-concept",
                "lora": False,
                "method_params": {"concept_mcq": {"ascent_weight": 0.25, "unknown_weight": 0.5, "beta": 1.0}},
            },
            "eval": {"data": "tofu:forget01", "prompt_format": "amnesia"},
        },
        notes=(
            (
                "data: their translations are local folders; combine them with English from the hub, e.g. "
                "--data 'tofu:forget01 + tofu:DIR:forget01' (DIR holds their <config>_<lang>/ folders)"
            ),
            (
                "methods: they compare GradDiff, GradDiff-KL and NPO; pick one per run with --method. Their GradDiff-KL takes its KL on "
                "TruthfulQA best answers: --method grad_diff_kl_text --kl-text truthfulqa/truthful_qa (grad_diff_kl here is spec.md's, "
                "KL on retain tokens)"
            ),
            "concept unlearning (--task concept): their MCQ files are --data seegull-mcq:DIR; their batch size there is not stated (ours: 8)",
            "the reference model is a frozen copy of the model before unlearning (full fine-tuning); retain and forget weights stay 1",
        ),
        sources={
            "schedule": "not stated in the paper; TOFU's finetune.py / forget.py (which their TOFU code follows) use HF Trainer's default, linear decay",
            "unlearn.warmup_ratio": "not stated for unlearning; TOFU's forget.py warms up for one epoch",
            "model": "CohereLabs/aya-expanse-8b (formerly CohereForAI/aya-expanse-8b)",
        },
    ),
    "learn-unlearn": Preset(
        "learn-unlearn",
        "arXiv 2406.13748 (Learn and Unlearn), the authors' settings",
        {
            "study-a": {
                "model": "meta-llama/Llama-3.1-8B",
                "data": "TaiMingLu/news-truthful",
                "lora": True,
                "lora_r": 2048,
                "lora_alpha": 64.0,
                "lora_dropout": 0.1,
                "lora_targets": "q_proj,k_proj,v_proj",
                "lr": 2e-4,
                "doc_epochs": 1,
                "instruct_epochs": 1,
                "batch_size": 1,
                "pack": 1024,
                "unlearn_on": "text",
                "method": "grad_ascent",
                "unlearn_lr": 2e-4,
                "unlearn_epochs": 1,
                "unlearn_batch_size": 1,
            },
        },
        notes=(
            "unlearning is plain gradient ascent on the fake articles (no retain term); --unlearn-on qa --method npo is ours",
            "their data is English; make the other languages with `polyunlearn translate --data news:HUB_ID_OR_FILE` and combine them with ' + '",
            (
                "the learning-rate schedule is not stated (ours: linear decay after 5% warmup); packing applies to phase 1, text-level "
                "unlearning takes one fake article per sequence"
            ),
        ),
    ),
}


def preset_names() -> list[str]:
    return sorted(PRESETS)


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(preset_names())}")
    return PRESETS[name]


def preset_values(name: str, command: str, task: str | None = None) -> dict[str, Any]:
    """The option values preset `name` sets on `command` (its "command:task" section when there is
    one), "method_params" still nested; an error naming the commands it has otherwise."""
    preset = get_preset(name)
    key = f"{command}:{task}" if task and f"{command}:{task}" in preset.commands else command
    if key not in preset.commands:
        have = sorted({k.split(":")[0] for k in preset.commands})
        raise ValueError(f"preset {name!r} has no settings for `{command}`; it applies to {', '.join(have)}")
    return dict(preset.commands[key])


def resolve_values(values: Mapping[str, Any], final: Mapping[str, Any]) -> dict[str, Any]:
    """Preset `values` with ONE_EPOCH turned into a warmup ratio (1 / the run's final epochs;
    `final` holds the options after the preset was applied; Study A's phases: doc_epochs)."""
    out = {}
    for k, v in values.items():
        if v == ONE_EPOCH:
            epochs = final.get("epochs") or final.get("doc_epochs") or 1
            v = 1.0 / epochs
        out[k] = v
    return out


# Our defaults beside the papers' protocols, and why ours differ: (setting, ours, Study B authors,
# Study A authors, why). `polyunlearn presets` prints it; README's table is this table.
DEFAULTS_VS_PAPERS: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "model",
        "tiny (built in-process)",
        "Aya-Expanse-8B",
        "Llama-3.1-8B",
        "runs on a laptop CPU in minutes with no download; any HF id works with --model",
    ),
    (
        "learning lr (full / LoRA)",
        "1e-5 / 1e-4 (tiny: 3e-3)",
        "2e-5 (full)",
        "2e-4 (LoRA)",
        "TOFU's and open-unlearning's full fine-tuning default; a tiny model from scratch needs large steps",
    ),
    (
        "learning epochs, batch",
        "5, 8 (CLI learn: linear decay, 5% warmup)",
        "5, 12, warmup 1 epoch",
        "1, 1, packed 1024 tokens",
        "batch 8 fits one GPU for an 8B model without accumulation",
    ),
    (
        "unlearning lr, epochs, batch",
        "1e-5 / 1e-4 / 5e-4 (tiny), 5, 8",
        "2e-5, 5, 6",
        "2e-4, 1, 1",
        "the lr rule is the learning one; 5 epochs as TOFU",
    ),
    ("NPO beta", "0.1", "1.0", "-", "NPO paper's and open-unlearning's default; --beta 1.0 or the preset for theirs"),
    (
        "GradDiff-KL KL set",
        "retain tokens (spec.md)",
        "TruthfulQA best answers",
        "-",
        "no extra data to download; grad_diff_kl_text --kl-text for theirs",
    ),
    (
        "prompt",
        "chat template if the tokenizer has one, else 'Question: ...\\nAnswer:'",
        "per-language tags, no template",
        "not stated",
        "the frame instruction-tuned models expect; --prompt-format amnesia for theirs",
    ),
    (
        "LoRA",
        "r 8, alpha 16, dropout 0, all linear layers",
        "-",
        "r 2048, alpha 64, dropout 0.1, q/k/v",
        "peft's usual small adapter; the knobs are options",
    ),
    (
        "Study A unlearning",
        "NPO on fake-answer Q&A, retain = instruction pairs",
        "-",
        "gradient ascent on the fake text, no retain",
        "a bounded objective with a retain term keeps QR; --unlearn-on text --method grad_ascent for theirs",
    ),
    (
        "multi-language forget set",
        "concat (every item in every language)",
        "concat",
        "concat",
        "as both papers; --language-mix interleave is the follow-up's choice",
    ),
    (
        "generation length",
        "auto: longest gold answer + max(16, 25%) tokens",
        "not stated",
        "not stated",
        "a fixed cap cut long answers (Hindi most), so ROUGE differed by language",
    ),
)
