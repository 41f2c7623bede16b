"""Weight quantization as an attack on unlearning: quantize a model's weights and dequantize them
back (the numbers a quantized deployment computes with), so the full evaluation can run on the
result. Zhang et al. (ICLR 2025, arXiv 2410.16454) found that 4-bit quantization brings back most
of what utility-constrained unlearning removed; this module lets every language be checked.

Formats (each a quantize-dequantize in plain torch, documented and tested against hand-worked
values in tests/probes/test_attack_pieces.py; on a GPU with bitsandbytes / torchao installed the same
formats can come from those libraries instead, see `backend`):

- ``int8``: symmetric per output row (absmax): s = max|w_row| / 127, q = round(w / s) in
  [-127, 127], w' = q * s. This is how bitsandbytes stores LLM.int8() weights (Int8Params,
  row-wise absmax); its outlier decomposition concerns activations, not the stored weights.
- ``nf4``: 4-bit NormalFloat (QLoRA, Dettmers et al. 2023, as bitsandbytes' quant_type "nf4"):
  the flattened weight is cut into blocks of 64, each block is divided by its absmax, every
  value goes to the nearest of the 16 NF4 code values, w' = code * absmax. No double
  quantization of the absmax (transformers' default, bnb_4bit_use_double_quant=False).
- ``int4_g128``: asymmetric 4-bit with a zero point per group of 128 consecutive input weights
  of a row (as GPTQ / AWQ / torchao int4 weight-only use groups of 128), GPTQ's quantizer: with
  lo = min(min(g), 0) and hi = max(max(g), 0), s = (hi - lo) / 15, z = round(-lo / s),
  q = clamp(round(w / s) + z, 0, 15), w' = (q - z) * s; an all-zero group stays zero.
  A row whose length is not a multiple of 128 ends with one shorter group.

What is quantized: the weight of every nn.Linear but the output head (lm_head), as bitsandbytes
does through transformers (the head and the embeddings stay in full precision). For a LoRA
model, ``target="merged"`` merges the adapters first and quantizes the merged Linear weights;
``target="adapter"`` quantizes only the adapter matrices (lora_A / lora_B) and keeps the base.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch

# The 16 NF4 code values: quantiles of N(0, 1) normalised to [-1, 1] with an exact 0 (QLoRA,
# Appendix E; the table bitsandbytes ships).
NF4_CODE = (
    -1.0,
    -0.6961928009986877,
    -0.5250730514526367,
    -0.39491748809814453,
    -0.28444138169288635,
    -0.18477343022823334,
    -0.09105003625154495,
    0.0,
    0.07958029955625534,
    0.16093020141124725,
    0.24611230194568634,
    0.33791524171829224,
    0.44070982933044434,
    0.5626170039176941,
    0.7229568362236023,
    1.0,
)
NF4_BLOCK = 64
INT4_GROUP = 128
FORMATS = ("int8", "nf4", "int4_g128")
TARGETS = ("full", "merged", "adapter")


def int8_rowwise(w: torch.Tensor) -> torch.Tensor:
    """Quantize-dequantize a 2-D weight (out, in) to int8 with one absmax scale per row."""
    x = w.detach().float()
    scale = x.abs().amax(dim=-1, keepdim=True) / 127.0  # (out, 1)
    safe = torch.where(scale == 0, torch.ones_like(scale), scale)  # an all-zero row stays zero
    q = torch.clamp(torch.round(x / safe), -127, 127)
    return (q * safe).to(w.dtype)


def nf4_blockwise(w: torch.Tensor, block: int = NF4_BLOCK) -> torch.Tensor:
    """Quantize-dequantize any tensor to NF4 in blocks of `block` values of its flattened form."""
    x = w.detach().float().reshape(-1)
    n = x.numel()
    pad = (-n) % block
    blocks = torch.cat([x, x.new_zeros(pad)]).reshape(-1, block)  # (n_blocks, block)
    absmax = blocks.abs().amax(dim=1, keepdim=True)
    safe = torch.where(absmax == 0, torch.ones_like(absmax), absmax)
    code = torch.tensor(NF4_CODE, dtype=torch.float32, device=x.device)
    # Nearest code value; ties go to the lower index (argmin's first), as a threshold table would.
    idx = (blocks / safe).unsqueeze(-1).sub(code).abs().argmin(dim=-1)
    out = (code[idx] * safe).reshape(-1)[:n]
    return out.reshape(w.shape).to(w.dtype)


def int4_groupwise(w: torch.Tensor, group: int = INT4_GROUP) -> torch.Tensor:
    """Quantize-dequantize a 2-D weight (out, in) to asymmetric int4 per group of `group` inputs."""
    x = w.detach().float()
    cols = []
    for start in range(0, x.shape[-1], group):
        g = x[..., start : start + group]
        # GPTQ's convention: the range always includes 0, so that 0 (and the zero point) is exact.
        lo, hi = g.amin(dim=-1, keepdim=True).clamp(max=0), g.amax(dim=-1, keepdim=True).clamp(min=0)
        scale = (hi - lo) / 15.0
        flat = scale == 0  # an all-zero group: nothing to quantize
        safe = torch.where(flat, torch.ones_like(scale), scale)
        zero = torch.clamp(torch.round(-lo / safe), 0, 15)
        q = torch.clamp(torch.round(g / safe) + zero, 0, 15)
        cols.append(torch.where(flat, g, (q - zero) * safe))
    return torch.cat(cols, dim=-1).to(w.dtype)


def quantizer(fmt: str) -> Callable[[torch.Tensor], torch.Tensor]:
    table = {"int8": int8_rowwise, "nf4": nf4_blockwise, "int4_g128": int4_groupwise}
    if fmt not in table:
        raise ValueError(f"quantization format {fmt!r} unknown; choose from {', '.join(FORMATS)}")
    return table[fmt]


def _is_head(model: torch.nn.Module, module: torch.nn.Module) -> bool:
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    return head is not None and module is head


def _bnb_quantizer(fmt: str) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The same format from bitsandbytes on a GPU (None when unavailable or not that format)."""
    if fmt not in ("nf4", "int8") or not torch.cuda.is_available():
        return None
    try:
        import bitsandbytes.functional as bnbf
    except ImportError:
        return None

    def q(w: torch.Tensor) -> torch.Tensor:
        x = w.detach().to("cuda", torch.float32)
        if fmt == "nf4":
            packed, state = bnbf.quantize_4bit(x, blocksize=NF4_BLOCK, quant_type="nf4")
            return bnbf.dequantize_4bit(packed, state).to(w.device, w.dtype)
        return int8_rowwise(x).to(w.device, w.dtype)  # bnb's row-wise absmax int8 is this formula

    return q


def backend_for(fmt: str, backend: str) -> tuple[str, Callable[[torch.Tensor], torch.Tensor]]:
    """(name of what quantizes, the function): 'torch' always the documented torch formula;
    'auto' bitsandbytes for nf4 on a GPU where it is installed, else torch."""
    if backend not in ("torch", "auto"):
        raise ValueError(f"quantization backend {backend!r} unknown; choose torch or auto")
    if backend == "auto" and (bnb := _bnb_quantizer(fmt)) is not None:
        return "bitsandbytes", bnb
    return "torch", quantizer(fmt)


@torch.no_grad()
def quantize_model(
    model: torch.nn.Module, fmt: str, target: str = "full", backend: str = "torch", copy_first: bool = True
) -> tuple[torch.nn.Module, dict]:
    """A quantized-dequantized copy of `model` (the original is left as it is, unless
    `copy_first` is False) and a note of what was done: {"format", "target", "backend",
    "tensors", "values"}. `target`: "full" (a plain model), "merged" (a LoRA model, adapters
    merged first) or "adapter" (only lora_A / lora_B)."""
    if target not in TARGETS:
        raise ValueError(f"quantization target {target!r} unknown; choose from {', '.join(TARGETS)}")
    name, fn = backend_for(fmt, backend)
    m = (
        copy.deepcopy(model) if copy_first else model
    )  # copy_first=False: a model loaded for this only (an 8B copy is 16 GB)
    is_lora = hasattr(m, "peft_config")
    if target == "adapter" and not is_lora:
        raise ValueError("quantization target 'adapter' needs a LoRA model (this one has no adapters)")
    if target == "merged" and is_lora:
        m = m.merge_and_unload()
    tensors = values = 0
    for mod_name, mod in m.named_modules():
        if target == "adapter":
            if not any(part in mod_name.split(".") for part in ("lora_A", "lora_B")) or not isinstance(
                mod, torch.nn.Linear
            ):
                continue
        elif not isinstance(mod, torch.nn.Linear) or _is_head(m, mod) or "lora_" in mod_name:
            continue
        mod.weight.copy_(fn(mod.weight))
        tensors += 1
        values += mod.weight.numel()
    if tensors == 0:
        raise ValueError(f"nothing to quantize in {type(model).__name__} (target {target!r})")
    return m, {"format": fmt, "target": target, "backend": name, "tensors": tensors, "values": values}
