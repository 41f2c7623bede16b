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
methods they compare (a run is one method), and what the papers do not state. Every value of the
authors' code is transcribed with its file and line in studies/preset_sources.AUTHORS; a preset
sets each one an option expresses, and `differences` says, for every other one (and for any
value the preset sets otherwise), ours, theirs and why (tests/studies/test_presets.py holds them to it).
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
    # "section.option" -> "ours X, theirs Y (file:line), because ...": every value of the authors'
    # code (studies/preset_sources.AUTHORS) that the preset does not reproduce
    differences: Mapping[str, str] = field(default_factory=dict)


_AMNESIA_TRAIN = {
    "lr": 2e-5,
    "epochs": 5,
    "weight_decay": 0.01,
    "warmup_ratio": ONE_EPOCH,
    "schedule": "linear",
    "seed": 42,
    "prompt_format": "amnesia",
    "lora": False,
}
_TRAIN_LENGTH = (
    "ours 256 tokens, theirs 500 ({src}), because no option sets the training sequence length here "
    "(core/encoding.Encoder); only a question + answer longer than 256 tokens is cut (its prompt from the left)"
)
_GENERATION = (
    "ours a budget of new tokens (--max-new-tokens; default the longest gold answer + a quarter, at least 16), theirs "
    "max_length 200 for prompt + answer together ({src}), because a total length is not a fixed number of new tokens (it depends "
    "on each prompt's length, longer in some scripts), so ours gives every language the same room for its answer"
)

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
                "gamma": 1.0,
                "language_mix": "concat",
                "eval_every": 0,
                "curve_retain_items": 300,
                "method_params": {"npo": {"beta": 1.0}},
            },
            "unlearn:concept": {
                "method": "concept_mcq",
                "lr": 1e-6,
                "epochs": 1,
                "alpha": 1.0,
                "batch_size": 6,
                "seed": 42,
                "prompt_format": "amnesia-concept",
                "lora": False,
                "method_params": {"concept_mcq": {"ascent_weight": 0.25, "unknown_weight": 0.5, "beta": 1.0}},
            },
            "eval": {"data": "tofu:forget01", "prompt_format": "amnesia", "max_length": 200},
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
            "concept unlearning (--task concept): their MCQ files are --data seegull-mcq:DIR",
            "the reference model is a frozen copy of the model before unlearning (full fine-tuning); retain and forget weights stay 1",
        ),
        sources={
            "schedule": "not stated in the paper; their finetune.py:50 and forget.py:70 leave HF TrainingArguments' default, linear decay",
            "unlearn.warmup_ratio": "not stated in the paper; their forget.py:74 warms up for one epoch (warmup_steps = steps_per_epoch)",
            "model": "CohereLabs/aya-expanse-8b (formerly CohereForAI/aya-expanse-8b)",
            "unlearn.curve_retain_items": "their in-training evaluation's ds_size (it runs only with --eval-every, as theirs only with eval_while_train)",
        },
        differences={
            "learn.model": (
                "ours CohereLabs/aya-expanse-8b, theirs CohereForAI/aya-expanse-8b (config/model_config.yaml:2), because "
                "it is the same hub repository under its owner's new name (the old id redirects)"
            ),
            "learn.train_max_length": _TRAIN_LENGTH.format(src="finetune.py:35"),
            "unlearn.train_max_length": _TRAIN_LENGTH.format(src="forget.py:60"),
            "unlearn.generation_max_length": _GENERATION.format(src="config/forget.yaml:55"),
            "eval.generation_max_length": _GENERATION.format(src="config/eval_everything/eval_everything_en.yaml:55"),
            "unlearn:concept.kl_text": (
                "ours no KL term on a general text set (concept_mcq's retain term is on the retain batch), theirs a KL "
                "term on TruthfulQA generation/validation (their seegull/ scripts), because concept_mcq takes no --kl-text"
            ),
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
                "warmup_ratio": 0.0,
                "weight_decay": 0.0,
                "seed": 42,
            },
        },
        notes=(
            "unlearning is plain gradient ascent on the fake articles (no retain term); --unlearn-on qa --method npo is ours",
            "their data is English; make the other languages with `polyunlearn translate --data news:HUB_ID_OR_FILE` and combine them with ' + '",
            "their code leaves the schedule, warmup, weight decay and seed at Hugging Face TrainingArguments' defaults "
            "(linear decay, no warmup, 0.0, 42): the preset sets the last three; learning decays linearly as theirs "
            "(unlearning: see differs)",
        ),
        differences={
            "study-a.model": (
                "ours meta-llama/Llama-3.1-8B, theirs meta-llama/Meta-Llama-3.1-8B (code/train.py:30), because it is the "
                "same hub repository under its new name"
            ),
            "study-a.unlearn_pack": (
                "ours one fake article per sequence when unlearning, theirs the packed 1024-token blocks of learning "
                "(code/train.py:79-89, one trainer for both), because --pack applies to phase 1 only"
            ),
            "study-a.unlearn_schedule": (
                "ours a constant learning rate when unlearning, theirs linear decay (TrainingArguments' default, "
                "code/train.py:57), because study-a has no option for the unlearning schedule"
            ),
        },
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
        "5, 12, linear decay, warmup 1 epoch",
        "1, 1, packed 1024 tokens, linear decay, no warmup",
        "batch 8 fits one GPU for an 8B model without accumulation",
    ),
    (
        "weight decay, seed",
        "0.01, 0",
        "0.01, 42",
        "0.0, 42 (TrainingArguments' defaults)",
        "0.01 as TOFU and open-unlearning; any fixed seed (the presets set 42)",
    ),
    (
        "training sequence length",
        "256 tokens (not an option)",
        "500 tokens",
        "packed blocks of 1024 tokens (learning and unlearning)",
        "TOFU-style question + answer pairs fit in 256; --pack 1024 packs study A's documents (phase 1)",
    ),
    (
        "unlearning lr, epochs, batch",
        "1e-5 / 1e-4 / 5e-4 (tiny), 5, 8",
        "2e-5, 5, 6",
        "2e-4, 1, 1 (linear decay)",
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
        "gradient ascent on the fake text (packed 1024), no retain",
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
        "auto: longest gold answer + max(16 tokens, 25%)",
        "prompt + answer <= 200 tokens (also the scored length)",
        "not stated (no evaluation code)",
        "a fixed cap cut long answers (Hindi most), so ROUGE differed by language",
    ),
)
