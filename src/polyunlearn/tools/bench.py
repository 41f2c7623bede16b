"""Performance benchmark: evaluation and unlearning throughput of polyunlearn against two
references, on the tiny default model and on a ~30M-parameter "small" model, side by side.

    polyunlearn bench                                   # both sizes, 10 study-B languages
    polyunlearn bench --sizes tiny --items-per-lang 5   # a quick look
    polyunlearn bench --json                            # the ratio table as one JSON object

What is measured, per model size (random weights: throughput does not depend on training):
- evaluation, part by part (tools/bench_eval.py): ours against open-unlearning's evaluation
  algorithm (tools/peer_eval.py) and against the BASELINE below, ratios over interleaved
  repeats, the FLOP/s achieved as a fraction of a matmul, peak memory, and agreement (values
  within 1e-5, identical greedy answers); peak memory and time at each --eval-batch-tokens;
- unlearning: NPO tokens/s over the optimizer steps of epoch 2 (forget + retain tokens, prompts
  included, padding not), with the reference log-probs memoized per forget sequence (ours,
  methods.Reference.memo) vs recomputed every step (baseline), and the achieved FLOP/s
  (6 x params x tokens per step) against plain fp32 matmul GFLOP/s on this machine.
- peak memory of every phase (CPU: the kernel's RSS high-water mark; GPU: peak allocated).
Times are the main thread's CPU time when running on CPU with one thread (robust to other
processes on a shared machine; all model work runs in that thread), wall time otherwise.

BASELINE = what simple evaluators do: every (question, answer) pair tokenized on the spot and
scored with its own forward pass at batch size 1; every question generated alone.
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from polyunlearn.core.atomic import write_json, write_table
from polyunlearn.core.encoding import Encoder
from polyunlearn.core.languages import parse_langs
from polyunlearn.core.models import TINY_SIZES, answer_text, build_tiny_model, describe, format_prompt, train_tokenizer
from polyunlearn.data.fictitious import bundled_benchmark
from polyunlearn.data.schema import QAItem, trainable
from polyunlearn.evaluation.records import build_records, item_pairs
from polyunlearn.methods.reference import Reference
from polyunlearn.methods.registry import get_method
from polyunlearn.pipeline.phases import item_texts
from polyunlearn.tools.measure import PeakMemory, matmul_gflops

__all__ = [
    "BenchConfig",
    "PeakMemory",
    "baseline_generate",
    "baseline_score_items",
    "baseline_score_pair",
    "bench_items",
    "matmul_gflops",
    "run_bench",
]
from polyunlearn.core.trainloop import TrainConfig, train
from polyunlearn.evaluation.scoring import Score


@dataclass
class BenchConfig:
    out: str = "polyunlearn_runs/bench"  # results.json, results.csv
    sizes: tuple[str, ...] = ("tiny", "small")  # models.TINY_SIZES entries
    languages: str = "study-b"  # evaluation languages (comma list, 'study-b', 'all')
    items_per_lang: int = 11  # evaluation items per language, evenly spaced over the 110 bundled
    max_new_tokens: int = (
        200  # the fixed greedy budget measured beside our default (200: open-unlearning's TOFU setting)
    )
    repeats: int = 3  # interleaved repeats of every evaluation part
    eval_batch_tokens: tuple[int, ...] = (
        32768,
        4096,
    )  # EvalConfig.eval_batch_tokens values: the first is used for the parts, each gets a time + peak memory run
    unlearn_steps: int = 2  # NPO optimizer steps per epoch; 2 epochs (the 2nd hits the reference memo)
    batch_size: int = 8  # NPO forget (and retain) batch size
    small_vocab: int = 32000  # the small model's vocab is padded to this (the BPE stops earlier)
    arch: str = "llama"
    threads: int = 1
    device: str = "cpu"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.items_per_lang < 1 or self.unlearn_steps < 1 or self.batch_size < 1 or self.max_new_tokens < 1:
            raise ValueError("items_per_lang, unlearn_steps, batch_size and max_new_tokens must be >= 1")
        if self.repeats < 3:
            raise ValueError(f"repeats must be >= 3 (min / median / max of interleaved repeats), got {self.repeats}")
        if not self.eval_batch_tokens or min(self.eval_batch_tokens) < 1:
            raise ValueError(f"eval_batch_tokens must be one or more integers >= 1, got {self.eval_batch_tokens}")
        unknown = [s for s in self.sizes if s not in TINY_SIZES]
        if unknown or not self.sizes:
            raise ValueError(
                f"unknown model size(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(TINY_SIZES)}"
            )

    @property
    def cpu_clock(self) -> bool:
        """With one CPU thread all model work runs in the calling thread, so its CPU time is the
        work done, whatever other processes on a shared machine take (wall time is not)."""
        return self.device == "cpu" and self.threads == 1

    def clock(self) -> float:
        return time.thread_time() if self.cpu_clock else time.perf_counter()


# ---------------------------------------------------------------- the baseline evaluator


def _baseline_ids(tok, question: str, answer: str | None = None) -> tuple[list[int], list[int]]:
    """Tokenized on every call, on purpose: same conventions as core/encoding.Encoder (BOS unless the
    template has one, answer continuation + EOS), none of its caching."""
    prompt = tok(format_prompt(tok, question), add_special_tokens=False)["input_ids"]
    if tok.bos_token_id is not None and (not prompt or prompt[0] != tok.bos_token_id):
        prompt = [tok.bos_token_id] + prompt
    if answer is None:
        return prompt, []
    ans = tok(answer_text(tok, answer), add_special_tokens=False)["input_ids"]
    return prompt, ans + ([tok.eos_token_id] if tok.eos_token_id is not None else [])


@torch.inference_mode()
def baseline_score_pair(model: torch.nn.Module, tok, question: str, answer: str) -> Score:
    """One forward pass for one (question, answer) pair at batch size 1."""
    prompt, ans = _baseline_ids(tok, question, answer)
    dev = next(model.parameters()).device
    logits = model(input_ids=torch.tensor([prompt + ans], device=dev)).logits[0]  # (T, V)
    # Position t predicts token t+1: the answer tokens are predicted from len(prompt)-1 on.
    logp = torch.log_softmax(logits[len(prompt) - 1 : -1].float(), dim=-1)
    target = torch.tensor(ans, device=dev)
    toks = logp.gather(-1, target[:, None])[:, 0].tolist()
    # The distribution statistics the answer-token attacks need, straight from the definition.
    p = logp.exp()
    mu = (p * logp).sum(-1)
    var = (p * (logp - mu[:, None]) ** 2).sum(-1)
    top1 = (logp.argmax(-1) == target).tolist()
    eos = tok.eos_token_id is not None and bool(ans) and ans[-1] == tok.eos_token_id
    return Score(sum(toks), len(toks), toks, mu.tolist(), var.tolist(), top1, ends_with_eos=eos)


@torch.inference_mode()
def baseline_generate(model: torch.nn.Module, tok, question: str, max_new_tokens: int) -> str:
    """Greedy answer to one question alone (no padding)."""
    prompt, _ = _baseline_ids(tok, question)
    dev = next(model.parameters()).device
    ids = torch.tensor([prompt], device=dev)
    gen = model.generate(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=max_new_tokens,
        do_sample=False,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
    )
    return tok.decode(gen[0, len(prompt) :], skip_special_tokens=True).strip()


def baseline_score_items(
    model: torch.nn.Module,
    tok,
    items: Sequence[QAItem],
    generate: bool,
    max_new_tokens: int = 48,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[list[dict], float, float]:
    """The baseline evaluator: the same records as evaluation/records.score_items. Returns (records,
    seconds scoring, seconds generating), so one run gives both the generation-off and -on time."""
    t0 = clock()
    pairs, slots = item_pairs(items)
    scores = [baseline_score_pair(model, tok, q, a) for q, a in pairs]
    records = build_records(items, scores, slots, None)
    t1 = clock()
    if not generate:
        return records, t1 - t0, 0.0
    answers = [baseline_generate(model, tok, it.question, max_new_tokens) for it in items]
    records = build_records(items, scores, slots, answers)
    return records, t1 - t0, clock() - t1


# ---------------------------------------------------------------- measuring (tools/measure.py)


def _timed(fn: Callable[[], object], cfg: BenchConfig) -> tuple[object, float, float]:
    """(result, seconds by cfg.clock, peak MiB) of fn()."""
    with PeakMemory(cfg.device) as mem:
        t0 = cfg.clock()
        result = fn()
        if cfg.device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = cfg.clock() - t0
    return result, seconds, mem.peak_mib


def bench_items(languages: Sequence[str], per_lang: int) -> list[QAItem]:
    """`per_lang` items of every language, evenly spaced over the 110 bundled items (forget
    facts are 090..099 and general items the last 10, so both appear once per_lang >= 11).
    Holdout items are left out so that figures stay comparable with those measured before the
    holdout split existed (they score exactly like forget items)."""
    out: list[QAItem] = []
    for lang in languages:
        items = trainable(bundled_benchmark([lang]))
        step = len(items) / min(per_lang, len(items))
        out.extend(items[int(k * step)] for k in range(min(per_lang, len(items))))
    return out


# ---------------------------------------------------------------- one model size


def _model(cfg: BenchConfig, size: str, langs: Sequence[str]):
    texts = item_texts(bundled_benchmark(list(langs)))  # the demo's tokenizer
    # tiny = the embedded default (4096-token BPE); small = a 32k vocabulary, padded when the
    # BPE runs out of merges on the bundled text (extra rows cost compute like real ones).
    vocab = cfg.small_vocab if size != "tiny" else 4096
    tok = train_tokenizer(texts, vocab)
    model = build_tiny_model(tok, cfg.arch, size, seed=cfg.seed)
    if size != "tiny" and len(tok) < vocab:
        model.resize_token_embeddings(vocab, mean_resizing=False)
    return tok, model.to(cfg.device).eval()


def bench_eval(
    cfg: BenchConfig, model: torch.nn.Module, tok, items: Sequence[QAItem], matmul: float, log: Callable[[str], None]
) -> dict:
    """The part-by-part evaluation benchmark (bench_eval.py), plus the flat columns of the
    summary table (ours vs the batch-1 baseline)."""
    from polyunlearn.tools.bench_eval import bench_eval_parts

    res = bench_eval_parts(cfg, model, tok, items, matmul, lambda fn: _timed(fn, cfg), log)
    parts, agree, n = res["parts"], res["agreement"], len(items)
    med = {p: {w: r["seconds"][w][1] for w in r["seconds"]} for p, r in parts.items()}
    return {
        "eval_items": n,
        "eval_pairs": res["n_pairs"],
        "eval_gen_budget": res["budget"],
        "eval_nogen_ours_items_per_s": n / med["scoring"]["ours"],
        "eval_nogen_baseline_items_per_s": n / med["scoring"]["batch1"],
        "eval_gen_ours_items_per_s": n / med["total"]["ours"],
        "eval_gen_baseline_items_per_s": n / med["total"]["batch1"],
        "eval_gen_ours_peak_mib": parts["total"]["peak_mib"]["ours"],
        "eval_gen_peer_peak_mib": parts["total"]["peak_mib"]["peer"],
        "eval_gen_baseline_peak_mib": parts["total"]["peak_mib"]["batch1"],
        "eval_max_abs_nll_diff": max(agree["max_abs_nll_diff_vs_peer"], agree["max_abs_nll_diff_vs_batch1"]),
        "eval_generated_identical": all(v for k, v in agree.items() if k.startswith("generated_identical")),
        "eval_agreement": agree,
        "eval_parts": parts,
        "eval_batch_tokens_sweep": res["batch_tokens_sweep"],
    }


def bench_unlearn(cfg: BenchConfig, model: torch.nn.Module, tok, langs: Sequence[str], cache_reference: bool) -> dict:
    """NPO (retain term NLL) for 2 epochs of `unlearn_steps` steps on a copy of `model`.
    A step's time is the gap between two consecutive loss_fn calls (forward, backward, clip,
    AdamW). Only epoch 2 is measured: the steady state of a 5-10 epoch run (epoch 1 warms up
    and fills the reference memo)."""
    import copy

    all_items = bundled_benchmark(list(langs))
    enc = Encoder(tok)
    n = cfg.unlearn_steps * cfg.batch_size
    forget = [enc.encode(it.question, it.answer) for it in all_items if it.split == "forget"][:n]
    retain = [enc.encode(it.question, it.answer) for it in all_items if it.split == "retain"][:n]
    net = copy.deepcopy(model).train()
    ref = Reference(net)
    if not cache_reference:
        ref.memo = None  # the previous behaviour: a reference forward in every step
    method = get_method("npo")
    ctx = method.context(net, ref)
    stamps: list[float] = []
    tokens: list[tuple[int, int]] = []  # (real, padded) tokens per step

    def loss_fn(m, f_batch, r_batch):
        stamps.append(cfg.clock())
        tokens.append(
            (
                int(f_batch["attention_mask"].sum() + r_batch["attention_mask"].sum()),
                f_batch["input_ids"].numel() + r_batch["input_ids"].numel(),
            )
        )
        ctx.model = m
        return method(ctx, f_batch, r_batch)

    def run():
        result = train(net, loss_fn, forget, tcfg, tok.pad_token_id, paired=retain, desc="bench npo", progress=False)
        stamps.append(cfg.clock())  # the end of the last step (train() returns right after it)
        return result

    tcfg = TrainConfig(lr=1e-5, epochs=2, batch_size=cfg.batch_size, seed=cfg.seed)
    (_, hist), _, peak = _timed(run, cfg)
    first = math.ceil(len(forget) / cfg.batch_size)  # the first step of epoch 2
    seconds = stamps[-1] - stamps[first]
    real = sum(t[0] for t in tokens[first:])
    padded = sum(t[1] for t in tokens[first:])
    return {
        "steps": len(hist),
        "step_s": seconds / (len(hist) - first),
        "tokens_per_s": real / seconds,
        "padded_tokens_per_s": padded / seconds,
        "peak_mib": peak,
    }


def bench_size(cfg: BenchConfig, size: str, langs: Sequence[str], matmul: float, log: Callable[[str], None]) -> dict:
    tok, model = _model(cfg, size, langs)
    params = describe(model)["parameters"]
    log(f"size {size}: {params / 1e6:.1f}M parameters, vocab {model.config.vocab_size}: evaluating...")
    row: dict = {"size": size, "parameters": params, "vocab": model.config.vocab_size}
    row.update(bench_eval(cfg, model, tok, bench_items(langs, cfg.items_per_lang), matmul, log))
    log(f"size {size}: unlearning (NPO)...")
    ours = bench_unlearn(cfg, model, tok, langs, cache_reference=True)
    base = bench_unlearn(cfg, model, tok, langs, cache_reference=False)
    row.update({f"unlearn_ours_{k}": v for k, v in ours.items()})
    row.update({f"unlearn_baseline_{k}": v for k, v in base.items()})
    # Model FLOPs of a step: 6 x params x tokens (forward 2, backward 4), real tokens only. The
    # input embedding is a lookup, not a matmul: "matmul params" leave it out (unless tied).
    tied = model.get_input_embeddings().weight is model.get_output_embeddings().weight
    matmul_params = params - (0 if tied else model.get_input_embeddings().weight.numel())
    row["matmul_parameters"] = matmul_params
    row["unlearn_ours_gflops"] = 6 * params * ours["tokens_per_s"] / 1e9
    row["unlearn_ours_fraction_of_matmul"] = row["unlearn_ours_gflops"] / matmul
    row["unlearn_ours_padded_fraction_of_matmul"] = 6 * params * ours["padded_tokens_per_s"] / 1e9 / matmul
    row["unlearn_ours_matmul_params_fraction_of_matmul"] = 6 * matmul_params * ours["tokens_per_s"] / 1e9 / matmul
    return row


RATIOS = [  # (label, ours column, baseline column, unit)
    ("eval, generation off", "eval_nogen_ours_items_per_s", "eval_nogen_baseline_items_per_s", "items/s"),
    ("eval, generation on", "eval_gen_ours_items_per_s", "eval_gen_baseline_items_per_s", "items/s"),
    ("eval peak memory (gen on)", "eval_gen_ours_peak_mib", "eval_gen_baseline_peak_mib", "MiB"),
    ("NPO unlearning", "unlearn_ours_tokens_per_s", "unlearn_baseline_tokens_per_s", "tokens/s"),
    ("NPO peak memory", "unlearn_ours_peak_mib", "unlearn_baseline_peak_mib", "MiB"),
]


def ratio_table(rows: Sequence[dict]) -> list[dict]:
    """Long format: one line per (size, measure) with ours, baseline and ours / baseline."""
    out = []
    for r in rows:
        for label, ours, base, unit in RATIOS:
            ratio = r[ours] / r[base] if r[base] else float("nan")
            out.append(
                {
                    "size": r["size"],
                    "measure": label,
                    "unit": unit,
                    "ours": r[ours],
                    "baseline": r[base],
                    "ratio": ratio,
                }
            )
    return out


def parts_table(rows: Sequence[dict]) -> list[dict]:
    """Long format of the evaluation parts: one line per (size, part)."""
    out = []
    for r in rows:
        for part, p in r["eval_parts"].items():
            line = {"size": r["size"], "part": part}
            for ref in ("vs_peer", "vs_batch1"):
                line.update({f"{ref}_min": p[ref][0], f"{ref}_median": p[ref][1], f"{ref}_max": p[ref][2]})
            line.update({f"{w}_s": p["seconds"][w][1] for w in p["seconds"]})
            line["flops_fraction"] = p["flops_fraction"]
            out.append(line)
    return out


def json_table(rows: Sequence[dict]) -> dict:
    """{"<model>": {"<part>": {"vs_peer": [min, med, max], "vs_batch1": [...], "flops_fraction": x}}},
    plus the evaluators' peak MiB on the total parts."""
    out: dict = {}
    for r in rows:
        out[r["size"]] = {}
        for part, p in r["eval_parts"].items():
            cell = {"vs_peer": p["vs_peer"], "vs_batch1": p["vs_batch1"], "flops_fraction": p["flops_fraction"]}
            if "peak_mib" in p:
                cell["peak_mib"] = p["peak_mib"]
            out[r["size"]][part] = cell
    return out


def machine() -> dict:
    cpu = platform.processor()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import os

    import transformers

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


def run_bench(cfg: BenchConfig, log: Callable[[str], None] = print) -> dict:
    """Run every size, write OUT/results.json and OUT/results.csv; returns the results dict."""
    torch.set_num_threads(cfg.threads)
    langs = parse_langs(cfg.languages)
    t0 = time.perf_counter()
    rows = []
    for size in cfg.sizes:
        # Measured again before each size: on a shared machine the throughput available drifts.
        matmul = matmul_gflops(device=cfg.device, clock=cfg.clock)
        log(f"matmul (fp32, {cfg.threads} thread(s)): {matmul:.1f} GFLOP/s")
        rows.append({**bench_size(cfg, size, langs, matmul, log), "matmul_gflops": matmul})
    clock = "CPU time of the main thread" if cfg.cpu_clock else "wall time"
    result = {
        "config": asdict(cfg),
        "machine": machine(),
        "clock": clock,
        "languages": langs,
        "matmul_gflops": rows[0]["matmul_gflops"],
        "sizes": rows,
        "ratios": ratio_table(rows),
        "eval_parts": parts_table(rows),
        "json": json_table(rows),
        "seconds": time.perf_counter() - t0,
    }
    out = Path(cfg.out)
    write_json(out / "results.json", result)
    import pandas as pd

    write_table(out / "results.csv", pd.DataFrame(result["ratios"]))
    write_table(out / "eval_parts.csv", pd.DataFrame(result["eval_parts"]))
    return result
