"""Peak memory of NPO unlearning with LoRA (the reference is the same weights with the adapters
disabled) vs full fine-tuning against a frozen full copy (the reference is a deep copy), on the
same model, for a few optimizer steps.

    nice -n 10 .venv/bin/python benchmarks/lora_memory.py                    # tiny + small, 4 steps
    nice -n 10 .venv/bin/python benchmarks/lora_memory.py --sizes small --steps 8 --batch-size 16

Every (size, mode) runs in a fresh subprocess, so one run's allocator caches never count against
another. What is measured:
- CPU: peak resident set size of that process (resource.getrusage ru_maxrss), in total and above
  the process's peak right after `import torch, transformers, peft` (the interpreter baseline).
- GPU (when CUDA is available): torch.cuda.max_memory_allocated over model build + training.
- "param state": the bytes that must be live at once by construction (weights, plus the frozen
  copy, plus grads and AdamW's two moments of the trainable parameters), activations excluded.
Weights are random (memory does not depend on what the model knows); the "small" model's vocab
is padded to 32k like a real tokenizer's, as in polyunlearn.tools.bench.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

SIZES = ("tiny", "small")
MODES = ("lora", "full")  # lora: reference = adapters off; full: reference = frozen deep copy
SMALL_VOCAB = 32000


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def child(size: str, mode: str, steps: int, batch_size: int, device: str) -> dict:
    """One configuration in this (fresh) process; returns the numbers as a dict."""
    import torch

    torch.set_num_threads(1)
    import peft  # noqa: F401 - imported before the baseline so both modes pay for it
    import transformers  # noqa: F401

    base_rss = _rss_mib()
    from polyunlearn.core.languages import STUDY_B
    from polyunlearn.core.models import LoraSettings, add_lora, build_tiny_model, describe, is_peft, train_tokenizer
    from polyunlearn.core.trainloop import TrainConfig
    from polyunlearn.data.fictitious import bundled_benchmark
    from polyunlearn.studies.phases import UnlearnConfig, unlearn

    dev = torch.device(
        "cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device)
    )
    items = bundled_benchmark(list(STUDY_B))
    # Exactly `steps` forget batches in one epoch; retain items of every language are paired in.
    forget = [it for it in items if it.split == "forget"][: steps * batch_size]
    if len(forget) < steps * batch_size:
        raise SystemExit(f"only {len(forget)} forget items: lower --steps or --batch-size")
    data = forget + [it for it in items if it.split == "retain"]
    texts = [t for it in items for t in (it.question, it.answer)]
    tok = train_tokenizer(texts, 4096)
    model = build_tiny_model(tok, "llama", size)
    if size != "tiny" and len(tok) < SMALL_VOCAB:
        model.resize_token_embeddings(SMALL_VOCAB, mean_resizing=False)
    # Move before the reference is made, so a full copy lands where the model trains.
    model.to(dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    if mode == "lora":
        model = add_lora(model, LoraSettings(r=8))
    info = describe(model)
    # Parameter state that must live at once: weights (+ the frozen copy), grads and AdamW's two
    # moments of the trainable ones. Activations come on top.
    nbytes = sum(p.numel() * p.element_size() for p in model.parameters())
    trainable_bytes = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    state_mib = (nbytes * (1 if is_peft(model) else 2) + 3 * trainable_bytes) / 2**20
    cfg = UnlearnConfig(
        method="npo",
        forget_langs="all",
        retain_langs="all",
        train=TrainConfig(lr=1e-4 if mode == "lora" else 1e-5, epochs=1, batch_size=batch_size),
    )
    build_rss = _rss_mib()
    t0 = time.perf_counter()
    _, hist = unlearn(model, tok, data, cfg, progress=False)
    seconds = time.perf_counter() - t0
    out = {
        "size": size,
        "mode": mode,
        "device": dev.type,
        "parameters": info["parameters"],
        "trainable": info["trainable"],
        "reference": "adapters off" if is_peft(model) else "frozen copy",
        "steps": len(hist),
        "param_state_mib": state_mib,
        "base_rss_mib": base_rss,
        "build_rss_mib": build_rss,
        "peak_rss_mib": _rss_mib(),
        "seconds": seconds,
    }
    if dev.type == "cuda":
        out["cuda_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def run_child(size: str, mode: str, args: argparse.Namespace) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        size,
        mode,
        "--steps",
        str(args.steps),
        "--batch-size",
        str(args.batch_size),
        "--device",
        args.device,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{size}/{mode} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def table(rows: list[dict]) -> str:
    gpu = any("cuda_peak_mib" in r for r in rows)
    head = (
        [
            "size",
            "params",
            "mode",
            "reference",
            "trainable",
            "steps",
            "param state MiB",
            "peak RSS MiB",
            "above base MiB",
        ]
        + (["GPU peak MiB"] if gpu else [])
        + ["s"]
    )
    lines = [head]
    for r in rows:
        lines.append(
            [
                r["size"],
                f"{r['parameters'] / 1e6:.1f}M",
                r["mode"],
                r["reference"],
                f"{r['trainable'] / 1e6:.2f}M",
                str(r["steps"]),
                f"{r['param_state_mib']:.0f}",
                f"{r['peak_rss_mib']:.0f}",
                f"{r['peak_rss_mib'] - r['base_rss_mib']:.0f}",
                *([f"{r['cuda_peak_mib']:.0f}"] if gpu else []),
                f"{r['seconds']:.1f}",
            ]
        )
    by = {(r["size"], r["mode"]): r for r in rows}
    ratios = []
    for size in dict.fromkeys(r["size"] for r in rows):
        lo, fu = by.get((size, "lora")), by.get((size, "full"))
        if lo and fu:
            key = "cuda_peak_mib" if gpu else None
            above = (fu["peak_rss_mib"] - fu["base_rss_mib"]) / (lo["peak_rss_mib"] - lo["base_rss_mib"])
            text = f"{size}: full/LoRA peak RSS {fu['peak_rss_mib'] / lo['peak_rss_mib']:.2f}x total, {above:.2f}x above the interpreter baseline"
            if key:
                text += f"; GPU peak {fu[key] / lo[key]:.2f}x"
            ratios.append(text)
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    fmt = lambda row: "  ".join(c.rjust(w) for c, w in zip(row, widths))  # noqa: E731
    return "\n".join([fmt(lines[0]), fmt(["-" * w for w in widths]), *map(fmt, lines[1:]), "", *ratios])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", nargs=2, metavar=("SIZE", "MODE"), help=argparse.SUPPRESS)
    ap.add_argument("--sizes", default=",".join(SIZES), help="comma list of: tiny, small")
    ap.add_argument("--steps", type=int, default=4, help="optimizer steps per configuration")
    # Small batches by default: with a 32k vocab the logits of a batch of 8 outweigh a 28M model's
    # weights, and the allocator then reuses freed activation pages for the optimizer state, which
    # hides part of the difference in peak RSS. Real-scale runs are the weight-dominated case.
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--device", default="auto", help="auto (cuda when available), cpu or cuda")
    ap.add_argument("--json", help="also write the rows to this JSON file")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.steps, args.batch_size, args.device)))
        return
    rows = []
    for size in args.sizes.split(","):
        for mode in MODES:
            print(f"running {size}/{mode}...", file=sys.stderr, flush=True)
            rows.append(run_child(size, mode, args))
    print(table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
