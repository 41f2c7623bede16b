"""Multi-process check of the training loop: unlearn a small saved model in N processes
(Accelerate data parallel; gloo on CPU, NCCL on GPUs) and write the forget/retain Prob per
language, to compare with a single-process run of the same *global* batch
(N processes x batch b == 1 process x batch N*b). tests/tools/test_distributed_check.py runs it.

    # a small learned model to start from (tiny Llama, en + fr)
    polyunlearn learn --model tiny --langs en,fr --epochs 30 --out runs/tiny --no-evaluate
    # 1 process x batch 4
    python -m polyunlearn.tools.distributed_check --model runs/tiny/model --langs en,fr --batch-size 4 --out runs/check-1
    # 2 CPU processes x batch 2. `accelerate launch --cpu` starts ONE process unless MPI is set
    # up, so use torchrun and tell Accelerate to stay on the CPU:
    ACCELERATE_USE_CPU=1 python -m torch.distributed.run --standalone --nproc_per_node 2 \\
        -m polyunlearn.tools.distributed_check --model runs/tiny/model --langs en,fr --batch-size 2 --out runs/check-2
    # on GPUs
    accelerate launch --config_file src/polyunlearn/configs/accelerate/ddp.yaml --num_processes 2 \\
        -m polyunlearn.tools.distributed_check --model runs/tiny/model --langs en,fr --batch-size 2 --out runs/check-2

The run goes through the same path as `polyunlearn unlearn`: pipeline.unlearn trains in every
process, then only the main process returns (the others exit 0) and evaluates and writes
OUT/result.json.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch


def run_check(
    model: str,
    out: str | Path,
    data: str = "bundled",
    langs: str | None = "en,fr",
    method: str = "npo",
    forget_langs: str = "all",
    batch_size: int = 4,
    epochs: int = 2,
    lr: float = 3e-4,
    seed: int = 0,
    lora: bool = False,
    alpha: float = 1.0,
) -> dict:
    """Unlearn `model` (a saved folder) and return/write {num_processes, global_batch, losses,
    summary: {lang: {forget_prob, retain_prob}}}. Returns only on the main process. A rerun with
    the same OUT resumes from OUT/ckpt (a finished run is not trained again)."""
    from accelerate import PartialState

    from polyunlearn.core.atomic import write_json
    from polyunlearn.core.models import LoraSettings, add_lora, load_model, load_tokenizer
    from polyunlearn.core.trainloop import TrainConfig
    from polyunlearn.evaluation.records import EvalConfig, score_items, summarize
    from polyunlearn.pipeline.phases import UnlearnConfig, unlearn

    items = _items(data, langs)
    tok = load_tokenizer(model)
    net = load_model(model)
    if lora:  # the reference is then the same model with the adapters off (under DDP: unwrapped)
        torch.manual_seed(seed)  # LoRA's A matrices are random: the same start in every run
        net = add_lora(net, LoraSettings())
    # No warmup / decay: the check is about gradients, not schedules. max_grad_norm is high so
    # clipping (which acts on the global gradient either way) does not blur the comparison.
    tcfg = TrainConfig(lr=lr, epochs=epochs, batch_size=batch_size, seed=seed, max_grad_norm=1e3)
    cfg = UnlearnConfig(method=method, forget_langs=forget_langs, retain_langs="same", alpha=alpha, train=tcfg)
    # Epoch checkpoints under OUT/ckpt: every process adds its RNG state, the main one the weights.
    net, history = unlearn(
        net, tok, items, cfg, checkpoint_dir=Path(out) / "ckpt", progress=False
    )  # non-main processes exit here

    n = PartialState().num_processes
    summary = summarize(score_items(net, tok, items, EvalConfig(generate=False)))
    result = {
        "num_processes": n,
        "lora": lora,
        "alpha": alpha,
        "batch_size_per_process": batch_size,
        "global_batch": batch_size * n,
        "steps": len(history),
        "losses": [h["loss"] for h in history],
        "summary": {
            r["language"]: {"forget_prob": r["forget_prob"], "retain_prob": r["retain_prob"]}
            for r in summary.to_dict("records")
        },
    }
    write_json(Path(out) / "result.json", result)
    return result


def _items(data: str, langs: str | None):
    from polyunlearn.core.languages import parse_langs
    from polyunlearn.data.fictitious import bundled_benchmark
    from polyunlearn.data.loaders import load_items

    if data == "bundled":
        # The slice the tests use: 20 retain + the 10 forget facts per language.
        keep = {f"fact-{k:03d}" for k in list(range(20)) + list(range(90, 100))}
        return [it for it in bundled_benchmark(parse_langs(langs) if langs else None) if it.id in keep]
    items = load_items(data)
    if langs:
        wanted = set(parse_langs(langs, list(dict.fromkeys(it.language for it in items))))
        items = [it for it in items if it.language in wanted]
    return items


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="saved model folder (e.g. OUT/model of `polyunlearn learn`)")
    ap.add_argument("--out", required=True, help="folder for result.json")
    ap.add_argument("--data", default="bundled", help="'bundled' (test slice) or a local JSONL/CSV/Parquet file")
    ap.add_argument("--langs", default="en,fr")
    ap.add_argument("--method", default="npo")
    ap.add_argument("--forget-langs", default="all")
    ap.add_argument("--batch-size", type=int, default=4, help="per process")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lora", action="store_true", help="unlearn with LoRA adapters (peft)")
    ap.add_argument("--alpha", type=float, default=1.0, help="retain-term weight (0: forget term only)")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)  # the check is tiny; threads only fight each other across processes
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available():
        # Without this Accelerate sees no GPU and no CPU flag and runs each process alone.
        os.environ.setdefault("ACCELERATE_USE_CPU", "1")
    r = run_check(
        a.model, a.out, a.data, a.langs, a.method, a.forget_langs, a.batch_size, a.epochs, a.lr, a.seed, a.lora, a.alpha
    )
    print(
        f"{r['num_processes']} process(es) x batch {r['batch_size_per_process']}: {r['steps']} steps, summary {r['summary']}"
    )


if __name__ == "__main__":
    main()
