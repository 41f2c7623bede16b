"""Model and tokenizer loading: any Hugging Face causal LM (hub id or local path), or a tiny
model built in-process from a Llama- or Cohere-style config with a byte-level BPE tokenizer
trained locally on the benchmark text (so every script - Han, Arabic, Devanagari, Hangul,
Armenian... - is covered, with byte fallback for anything unseen).

Safetensors only; `trust_remote_code` is off unless the caller turns it on.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import AutoModelForCausalLM, AutoTokenizer, CohereConfig, LlamaConfig, PreTrainedTokenizerFast

SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>"]

# Tiny architectures used by the embedded default and the tests. "tiny" trains in about a
# minute on 2 CPU cores; "small" (~30M parameters with a 32k vocab) is for benchmarks.
TINY_SIZES: dict[str, dict[str, int]] = {
    "tiny": dict(
        hidden_size=128, intermediate_size=384, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2
    ),
    # 28.2M parameters with the vocab padded to 32k (Llama, untied): 2 x 8.2M embeddings + 12 x 1M.
    "small": dict(
        hidden_size=256, intermediate_size=1024, num_hidden_layers=12, num_attention_heads=4, num_key_value_heads=2
    ),
}


# The models built in-process by name (`--model tiny` / `tiny-cohere`) and their architecture.
TINY_BUILDERS: dict[str, str] = {"tiny": "llama", "tiny-cohere": "cohere"}

# Below this many parameters a model gets the tiny defaults (is_tiny_model). polyunlearn's tiny
# model has ~1.5M parameters (with its 4k vocabulary); the bench's "small" (28M) and every
# pretrained LM one would fine-tune (Pythia-14M and up) are above it and keep the full
# fine-tuning defaults.
TINY_MAX_PARAMETERS = 10_000_000


class ModelLoadError(ValueError):
    """A model or tokenizer could not be loaded; the message names the path or id."""


def train_tokenizer(texts: Iterable[str], vocab_size: int = 4096) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on `texts` (seconds for the bundled benchmark).

    Byte-level means no text is ever <unk>: a script missing from the training text falls back
    to bytes instead of being dropped.
    """
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer=trainer)
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )


def build_tiny_model(
    tokenizer: PreTrainedTokenizerFast, arch: str = "llama", size: str = "tiny", seed: int = 0
) -> torch.nn.Module:
    """A randomly initialised causal LM from a Llama-style or Cohere-style (Aya-Expanse) config."""
    if size not in TINY_SIZES:
        raise ModelLoadError(f"unknown tiny model size {size!r}; choose from {', '.join(TINY_SIZES)}")
    dims = TINY_SIZES[size]
    common = dict(
        vocab_size=len(tokenizer),
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **dims,
    )
    if arch == "llama":
        config = LlamaConfig(tie_word_embeddings=False, **common)
    elif arch == "cohere":
        # Cohere (Aya-Expanse) ties embeddings and multiplies the logits by logit_scale. Its
        # default (0.0625; Aya-Expanse-8B uses 0.125) suits 4096-8192-wide hidden states; at
        # width 128 it shrinks the logits so much that the tiny model learns the facts ~5x
        # slower than the Llama one, so the tiny model uses 1.0. Everything else stays Cohere.
        config = CohereConfig(logit_scale=1.0, **common)
    else:
        raise ModelLoadError(f"unknown tiny architecture {arch!r}; choose 'llama' or 'cohere'")
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    return model


def _dtype(name: str) -> torch.dtype:
    table = {
        "float32": torch.float32,
        "fp32": torch.float32,
        "bfloat16": torch.bfloat16,
        "bf16": torch.bfloat16,
        "float16": torch.float16,
        "fp16": torch.float16,
    }
    if name not in table:
        raise ModelLoadError(f"unknown dtype {name!r}; choose from {', '.join(table)}")
    return table[name]


def weights_dtype(bf16: bool, trains_weights: bool, dtype: str = "auto") -> str:
    """The dtype to load a model's weights in (the CLI's --dtype, given --bf16).

    "auto": bfloat16 under --bf16, except when the loaded weights themselves are trained (full
    fine-tuning, no LoRA). Those stay float32 master weights, and --bf16 only makes the compute
    bf16 (autocast). The reason: bf16 keeps ~3 significant digits, so an AdamW step of lr 1e-5
    on a weight of 0.02 (half a bf16 step there: 6e-5) is rounded away; after one such step on the tiny model
    86% of the bf16 weights had not moved, against 0.02% of fp32 ones (tests/e2e/test_real_models.py). A frozen LoRA base or an
    evaluated model has no such problem and takes half the memory in bf16. Under DeepSpeed
    (`accelerate launch` with a DeepSpeed config) bf16 weights are fine too: DeepSpeed keeps
    fp32 master weights in its optimizer. An explicit dtype always wins."""
    if dtype != "auto":
        _dtype(dtype)  # unknown names fail here, naming the choices
        return dtype
    deepspeed = os.environ.get("ACCELERATE_USE_DEEPSPEED", "false").lower() == "true"
    return "bfloat16" if bf16 and (not trains_weights or deepspeed) else "float32"


def looks_like_path(name: str) -> bool:
    # Hub ids are "name" or "org/name"; anything else with a slash, or starting like a path,
    # is meant as a local folder and must not silently turn into a hub download.
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or Path(name).exists()


def is_tiny_model(name_or_path: str, _depth: int = 0) -> bool:
    """Whether a model gets the tiny defaults (pipeline.phases.default_lr: large steps, as a small
    model trained from scratch needs), decided by what the model IS, not how it is named:

    - 'tiny' / 'tiny-cohere' (built in-process): yes;
    - a local folder: yes when its weights hold fewer than TINY_MAX_PARAMETERS parameters, counted
      from the safetensors headers (exact, whatever the architecture, without loading a weight).
      So `learn --model tiny` 's OUT/model is tiny however the folder is named or moved, and so
      is a user's own small HF model folder under 10M parameters; anything bigger is not;
    - a peft adapter folder: as its base model (adapter_config.json's base_model_name_or_path);
    - a hub id (or a folder without safetensors weights): no, the full fine-tuning defaults.
    """
    if name_or_path in TINY_BUILDERS:
        return True
    path = Path(name_or_path).expanduser()
    if not path.is_dir():
        return False
    adapter = path / "adapter_config.json"
    if adapter.is_file():
        import json

        try:
            base = json.loads(adapter.read_text(encoding="utf-8")).get("base_model_name_or_path")
        except (OSError, ValueError):
            return False
        return isinstance(base, str) and bool(base) and _depth < 4 and is_tiny_model(base, _depth + 1)
    count = safetensors_parameters(path)
    return count is not None and count < TINY_MAX_PARAMETERS


def safetensors_parameters(folder: Path) -> int | None:
    """The number of parameters in a folder's *.safetensors files, read from their headers only
    (8 bytes of header length, then the JSON table of tensor shapes); None without such files or
    when one cannot be read."""
    import json
    import math
    import struct

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        return None
    total = 0
    try:
        for f in files:
            with f.open("rb") as fh:
                (size,) = struct.unpack("<Q", fh.read(8))
                if size > 100_000_000:  # not a safetensors header
                    return None
                header = json.loads(fh.read(size))
            total += sum(math.prod(v["shape"]) for k, v in header.items() if k != "__metadata__")
    except (OSError, ValueError, KeyError, TypeError, struct.error):
        return None
    return total


def load_tokenizer(name_or_path: str, trust_remote_code: bool = False) -> PreTrainedTokenizerFast:
    if looks_like_path(name_or_path) and not Path(name_or_path).expanduser().exists():
        raise ModelLoadError(f"model path not found: {name_or_path}")
    try:
        tok = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
    except Exception as e:  # noqa: BLE001 - re-raised with the path named
        raise ModelLoadError(f"could not load tokenizer from {name_or_path!r}: {e}") from e
    if tok.pad_token is None:
        # Causal LMs often ship without a pad token; padding positions are masked anyway.
        tok.pad_token = tok.eos_token
    return tok


def default_device() -> str:
    """Where single-process evaluation runs: the GPU when there is one (training placement is
    Accelerate's job)."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_model(
    name_or_path: str, dtype: str = "float32", trust_remote_code: bool = False, device: str | None = "auto"
) -> torch.nn.Module:
    """Load a causal LM from a hub id or local folder, safetensors weights only.

    A peft adapter folder (adapter_config.json) is loaded on top of its base model.
    """
    path = Path(name_or_path).expanduser()
    if looks_like_path(name_or_path) and not path.exists():
        raise ModelLoadError(f"model path not found: {name_or_path}")
    kwargs = dict(dtype=_dtype(dtype), use_safetensors=True, trust_remote_code=trust_remote_code)
    try:
        if (path / "adapter_config.json").exists():
            from peft import AutoPeftModelForCausalLM

            model = AutoPeftModelForCausalLM.from_pretrained(str(path), is_trainable=True, **kwargs)
        else:
            model = AutoModelForCausalLM.from_pretrained(str(path) if path.exists() else name_or_path, **kwargs)
    except Exception as e:  # noqa: BLE001
        raise ModelLoadError(f"could not load model from {name_or_path!r}: {e}") from e
    if device:
        model.to(default_device() if device == "auto" else device)
    return model


def check_vocab(model: torch.nn.Module, tokenizer, name: str) -> None:
    """A tokenizer with more tokens than the model has embedding rows would index past the
    embedding table (an IndexError deep in the forward pass): refuse it with one line."""
    emb = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    rows = getattr(emb, "num_embeddings", None)
    if rows is not None and len(tokenizer) > rows:
        raise ModelLoadError(
            f"{name}: the tokenizer has {len(tokenizer)} tokens but the model's embedding has {rows} rows (tokenizer and weights do not belong together)"
        )


# The LoRA target modules by default (peft: every linear layer but the output head).
ALL_LINEAR = "all-linear"
LORA_TARGETS_HELP = f"LoRA target modules: '{ALL_LINEAR}' or a comma list (e.g. q_proj,k_proj,v_proj)"


@dataclass(frozen=True)
class LoraSettings:
    """LoRA adapter settings (peft), checked when built. target_modules 'all-linear' works for
    Llama and Cohere; Study A's authors adapt q_proj, k_proj, v_proj (rank 2048, alpha 64,
    dropout 0.1). The update is scaled by alpha / r."""

    r: int = 8
    alpha: float = 16
    dropout: float = 0.0
    target_modules: str | tuple[str, ...] = ALL_LINEAR

    def __post_init__(self) -> None:
        from polyunlearn.core.config import check_number

        check_number("lora_r", self.r, minimum=1, integer=True)
        check_number("lora_alpha", self.alpha, minimum=0, strict=True)
        check_number("lora_dropout", self.dropout, minimum=0)
        if self.dropout >= 1:
            raise ValueError(f"lora_dropout must be < 1, got {self.dropout:g}")
        if not self.target_modules or (not isinstance(self.target_modules, str) and not all(self.target_modules)):
            raise ValueError(
                f"lora_targets is empty ({self.target_modules!r}); give '{ALL_LINEAR}' or module names such as q_proj,k_proj,v_proj"
            )

    @classmethod
    def from_options(cls, r: int, alpha: float = 16, dropout: float = 0.0, targets: str = ALL_LINEAR) -> LoraSettings:
        """From the CLI's --lora-r/--lora-alpha/--lora-dropout/--lora-targets (ALL_LINEAR or a comma list)."""
        names = tuple(t.strip() for t in targets.split(",") if t.strip())
        return cls(r, alpha, dropout, targets.strip() if names == (ALL_LINEAR,) else names)

    def identity(self) -> dict[str, Any]:
        targets = self.target_modules if isinstance(self.target_modules, str) else list(self.target_modules)
        return {"r": self.r, "alpha": self.alpha, "dropout": self.dropout, "target_modules": targets}


def add_lora(model: torch.nn.Module, settings: LoraSettings) -> torch.nn.Module:
    from peft import LoraConfig, get_peft_model

    targets = settings.target_modules if isinstance(settings.target_modules, str) else list(settings.target_modules)
    cfg = LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, cfg)


def is_peft(model: torch.nn.Module) -> bool:
    return hasattr(model, "disable_adapter") and hasattr(model, "peft_config")


def save_model(model: torch.nn.Module, tokenizer, path: str | Path, merge_lora: bool = False) -> Path:
    """Save in standard HF / peft format (safetensors), atomically: write to a temp folder,
    then rename, so an interrupted save never leaves a half-written model behind."""
    from polyunlearn.core.atomic import WriteError

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    to_save = model.merge_and_unload() if (merge_lora and is_peft(model)) else model
    try:
        if tmp.exists():
            shutil.rmtree(tmp)
        to_save.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except OSError as e:  # read-only folder, full disk: one line naming the folder
        shutil.rmtree(tmp, ignore_errors=True)
        raise WriteError(f"could not save the model to {path}: {e.strerror or e}") from None
    except BaseException:
        # Ctrl-C mid-save: leave nothing half-written behind (an old `path` stays).
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def format_prompt(tokenizer, question: str, fmt: str = "auto", language: str | None = None) -> str:
    """The prompt a question is asked with in prompt format `fmt` (core/prompts.py): by default
    the model's chat template when it has one, else a plain 'Question: ...\\nAnswer:' frame."""
    from polyunlearn.core.prompts import prompt_text

    return prompt_text(tokenizer, question, fmt, language)


def answer_text(tokenizer, answer: str, fmt: str = "auto", language: str | None = None) -> str:
    """Answer continuation as appended to the prompt (leading space for the plain frame)."""
    from polyunlearn.core.prompts import answer_text as _answer_text

    return _answer_text(tokenizer, answer, fmt, language)


def describe(model: torch.nn.Module) -> dict[str, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"parameters": total, "trainable": trainable}


def load_weights(model: torch.nn.Module, folder: str | Path) -> torch.nn.Module:
    """Put the weights save_model wrote into `folder` back into `model` (the same architecture),
    in place: a peft model takes the adapter weights, a plain one every saved tensor (shards
    included). Weights save_pretrained leaves out because they are tied to a saved one stay
    tied. Anything else missing, or a tensor the model lacks, is an error naming the folder."""
    from safetensors.torch import load_file

    folder = Path(folder)
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ModelLoadError(f"{folder}: no safetensors weights")
    state: dict[str, torch.Tensor] = {}
    for f in files:
        state.update(load_file(str(f)))
    if is_peft(model):
        from peft import set_peft_model_state_dict

        unexpected = set_peft_model_state_dict(model, state).unexpected_keys
        missing: list[str] = []
    else:
        own = model.state_dict()
        loaded = {own[k].data_ptr() for k in state if k in own}
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if own[k].data_ptr() not in loaded]  # tied to a loaded weight: fine
    if missing or unexpected:
        raise ModelLoadError(
            f"{folder}: weights do not fit the model (missing {missing[:3]}, unexpected {list(unexpected)[:3]})"
        )
    return model
