"""Probe `quant`: the unlearned model's weights quantized (int8, NF4, int4 group 128; a LoRA run
on the merged model and, separately, on the adapter only), the forget items asked plainly again
in every language (arXiv 2410.16454: quantization can bring forgotten knowledge back).

    polyunlearn attack RUN_DIR --probes quant --quant-formats int8,nf4
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from polyunlearn.core.config import check_choice, setting
from polyunlearn.core.quantize import FORMATS, backend_for, quantize_model
from polyunlearn.core.rundir import data_fingerprint
from polyunlearn.probes.catalog import Probe, register
from polyunlearn.probes.probe_steps import probe_evaluation

QUANT_BACKENDS = ("torch", "auto")


@dataclass(frozen=True)
class Params:
    quant_formats: str = setting("int8,nf4,int4_g128", "quantization formats (comma list of int8, nf4, int4_g128)")
    quant_backend: str = setting(
        "torch",
        "who quantizes: torch (the documented formulas, CPU or GPU) or auto (bitsandbytes NF4 on a GPU where installed)",
        choices=QUANT_BACKENDS,
    )

    def __post_init__(self) -> None:
        for f in _formats(self.quant_formats):
            check_choice("quant_formats", f, FORMATS)
        check_choice("quant_backend", self.quant_backend, QUANT_BACKENDS)


def _formats(text: str) -> list[str]:
    return [f.strip() for f in text.split(",") if f.strip()]


def run_quant(ctx: Any, _langs: Sequence[str]) -> dict[str, dict]:
    """Each format (LoRA runs: on the merged model and, separately, on the adapter only)."""
    forget = ctx.forget
    lora = (ctx.unlearned / "adapter_config.json").is_file()
    targets = ("merged", "adapter") if lora else ("full",)
    rows = {}
    for fmt in _formats(ctx.cfg.quant_formats):
        backend = backend_for(fmt, ctx.cfg.quant_backend)[0]
        for tgt in targets:
            label = fmt if tgt == "full" else f"{tgt}-{fmt}"
            what = {"probe": "quant", "format": fmt, "target": tgt, "backend": backend}
            ev = probe_evaluation(forget, [label] * len(forget), ctx.ecfg, ctx.candidates, what=what)

            def load(fmt=fmt, tgt=tgt):
                return quantize_model(ctx.load_unlearned(), fmt, tgt, ctx.cfg.quant_backend, copy_first=False)[0]

            rows[label] = ctx.evaluate(
                ctx.top / "quant" / label, load, ctx.unlearned, {"data": data_fingerprint(forget), "quant": what}, ev
            )
    return {"quant": {"rows": rows, "ylabel": "quantized as", "title": "weight quantization"}}


register(Probe("quant", run_quant, "weight quantization (int8, NF4, int4 group 128)", params=Params, rank=10))
