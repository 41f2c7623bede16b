"""Pins that make refactors provably safe: the bundled data sets hash exactly as generated when
this file was written, and the CLI keeps every command and option name. A change to either is
then a decision (update the pin here, say why in the commit), never an accident."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import typer

from polyunlearn.data.fictitious import BUNDLED_LANGUAGES, bundled_benchmark
from polyunlearn.data.news import bundled_news
from polyunlearn.data.stereotypes import bundled_stereotypes


def _digest(rows) -> str:
    blob = json.dumps(rows, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def test_bundled_benchmark_is_unchanged():
    items = bundled_benchmark(list(BUNDLED_LANGUAGES))
    assert len(items) == 16 * 120
    assert _digest([it.to_dict() for it in items]) == FICTITIOUS_SHA256


def test_bundled_news_is_unchanged():
    stories, qas = bundled_news()
    assert _digest([asdict(s) for s in stories] + [asdict(q) for q in qas]) == NEWS_SHA256


def test_bundled_stereotypes_are_unchanged():
    assert _digest([it.to_dict() for it in bundled_stereotypes()]) == STEREOTYPES_SHA256


def cli_interface() -> dict[str, list[str]]:
    """{command name: sorted option/argument names} of the `polyunlearn` CLI."""
    from polyunlearn.cli import app

    group = typer.main.get_command(app)  # typer vendors its own click: duck-typed below
    out = {}
    for name, cmd in sorted(group.commands.items()):
        names = []
        for p in cmd.params:
            names += (p.opts + p.secondary_opts) if p.param_type_name == "option" else [p.name]
        out[name] = sorted(names)
    return out


def test_cli_interface_is_unchanged():
    assert cli_interface() == CLI_INTERFACE


# sha256 of the canonical JSON of every bundled item, as generated on 2026-12-01 (before the text
# moved from Python literals to package data).
FICTITIOUS_SHA256 = "b010c88afe8bfc93f930120d3d7320921596cc6a958eece7f501b0c205bcabe9"
NEWS_SHA256 = "f67d896ecaa392a157d26d907570cf8376248bbe947052d569fc32603728bf7a"
STEREOTYPES_SHA256 = "c9f351bb02a53bfd7727068595117aeb7dbc120cfbaa75d9b402be6ffee9a279"

CLI_INTERFACE = {
    "analyze": ["--metric", "--minus", "--out", "--permutations", "folder"],
    "attack": [
        "--data",
        "--langid-candidates",
        "--langs",
        "--max-new-tokens",
        "--overwrite",
        "--paraphrases",
        "--probes",
        "--quant-backend",
        "--quant-formats",
        "--relearn-batch-size",
        "--relearn-epochs",
        "--relearn-fraction",
        "--relearn-langs",
        "--relearn-lr",
        "--relearn-on",
        "--relearn-text",
        "--retain-model",
        "--seed",
        "--threads",
        "--tolerance",
        "run_dir",
    ],
    "bench": [
        "--arch",
        "--batch-size",
        "--device",
        "--eval-batch-tokens",
        "--items-per-lang",
        "--json",
        "--languages",
        "--max-new-tokens",
        "--out",
        "--repeats",
        "--sizes",
        "--threads",
        "--unlearn-steps",
    ],
    "concept-demo": [
        "--alpha",
        "--arch",
        "--data",
        "--forget-sets",
        "--generate",
        "--languages",
        "--learn-epochs",
        "--max-new-tokens",
        "--methods",
        "--n-facts",
        "--no-generate",
        "--out",
        "--overwrite",
        "--prompt-format",
        "--seed",
        "--threads",
        "--unlearn-epochs",
        "--unlearn-lr",
    ],
    "data": ["--json", "--langs", "--strict", "spec"],
    "demo": [
        "--alpha",
        "--arch",
        "--attacks",
        "--curve-retain-items",
        "--data",
        "--eval-every",
        "--forget-sets",
        "--forget-target",
        "--languages",
        "--learn-epochs",
        "--max-new-tokens",
        "--methods",
        "--out",
        "--overwrite",
        "--retain-tolerance",
        "--seed",
        "--select",
        "--threads",
        "--unlearn-epochs",
        "--unlearn-lr",
        "--vocab-size",
    ],
    "eval": [
        "--baseline",
        "--bf16",
        "--data",
        "--dry-run",
        "--eval-batch-tokens",
        "--forget-langs",
        "--generate",
        "--generation-backend",
        "--langs",
        "--lm-eval",
        "--lm-eval-include",
        "--lm-eval-limit",
        "--max-batch",
        "--max-length",
        "--max-new-tokens",
        "--max-tokens",
        "--model",
        "--no-bf16",
        "--no-generate",
        "--no-prefix-sharing",
        "--no-trust-remote-code",
        "--out",
        "--overwrite",
        "--prefix-sharing",
        "--preset",
        "--prompt-format",
        "--retain-eval",
        "--threads",
        "--trust-remote-code",
    ],
    "grid": [
        "--address",
        "--attacks",
        "--claim-timeout",
        "--cpus-per-run",
        "--dry-run",
        "--executor",
        "--gpus-per-run",
        "--log-with",
        "--no-dry-run",
        "--no-progress",
        "--out",
        "--overwrite",
        "--progress",
        "--status",
        "--threads",
        "spec",
    ],
    "languages": [],
    "learn": [
        "--batch-size",
        "--bf16",
        "--data",
        "--dry-run",
        "--dtype",
        "--epochs",
        "--evaluate",
        "--grad-accum",
        "--langs",
        "--log-with",
        "--lora",
        "--lora-alpha",
        "--lora-dropout",
        "--lora-r",
        "--lora-targets",
        "--loss-limit",
        "--lr",
        "--max-grad-norm",
        "--max-new-tokens",
        "--model",
        "--no-bf16",
        "--no-evaluate",
        "--no-lora",
        "--no-retain-only",
        "--no-trust-remote-code",
        "--out",
        "--overwrite",
        "--preset",
        "--prompt-format",
        "--retain-only",
        "--schedule",
        "--seed",
        "--threads",
        "--trust-remote-code",
        "--vocab-size",
        "--warmup-ratio",
        "--weight-decay",
    ],
    "methods": [],
    "metrics": ["--full", "--no-full", "--split"],
    "presets": [],
    "report": ["--analysis", "--no-analysis", "--out", "folder"],
    "study-a": [
        "--batch-size",
        "--columns",
        "--data",
        "--doc-epochs",
        "--fake-lang",
        "--fake-langs",
        "--forget-sets",
        "--instruct-epochs",
        "--instruct-on",
        "--judge",
        "--languages",
        "--lora",
        "--lora-alpha",
        "--lora-dropout",
        "--lora-r",
        "--lora-targets",
        "--lr",
        "--max-new-tokens",
        "--method",
        "--model",
        "--no-lora",
        "--no-replace-real",
        "--out",
        "--overwrite",
        "--pack",
        "--preset",
        "--replace-real",
        "--seed",
        "--threads",
        "--unlearn-batch-size",
        "--unlearn-epochs",
        "--unlearn-lr",
        "--unlearn-on",
        "--vocab-size",
    ],
    "tofu-aggregate": ["--out", "--retain", "logs"],
    "translate": [
        "--batch-size",
        "--bf16",
        "--chunk-size",
        "--code-style",
        "--columns",
        "--data",
        "--device",
        "--max-new-tokens",
        "--model",
        "--no-bf16",
        "--no-roundtrip",
        "--no-trust-remote-code",
        "--num-beams",
        "--out",
        "--revision",
        "--roundtrip",
        "--source",
        "--threads",
        "--threshold",
        "--to",
        "--trust-remote-code",
    ],
    "unlearn": [
        "--alpha",
        "--alternate",
        "--ascent-weight",
        "--baseline",
        "--batch-size",
        "--beta",
        "--beta1",
        "--beta2",
        "--bf16",
        "--curve-generate",
        "--curve-retain-items",
        "--data",
        "--delta",
        "--dry-run",
        "--dtype",
        "--epochs",
        "--epsilon",
        "--eta",
        "--eval-every",
        "--evaluate",
        "--forget-langs",
        "--forget-loss",
        "--ga-epochs",
        "--gamma",
        "--grad-accum",
        "--ignore-first",
        "--kd-temperature",
        "--kl-text",
        "--kl-weight",
        "--langs",
        "--language-mix",
        "--log-with",
        "--lora",
        "--lora-alpha",
        "--lora-dropout",
        "--lora-r",
        "--lora-targets",
        "--loss-limit",
        "--lr",
        "--max-grad-norm",
        "--max-new-tokens",
        "--method",
        "--model",
        "--no-bf16",
        "--no-curve-generate",
        "--no-evaluate",
        "--no-lora",
        "--no-trust-remote-code",
        "--out",
        "--overwrite",
        "--preset",
        "--prompt-format",
        "--retain-eval",
        "--retain-langs",
        "--retain-loss",
        "--rmu-coeff",
        "--rmu-layer",
        "--rmu-seed",
        "--schedule",
        "--seed",
        "--select",
        "--task",
        "--threads",
        "--trust-remote-code",
        "--unknown-weight",
        "--warmup-ratio",
        "--weight-decay",
    ],
}
