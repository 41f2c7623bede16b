"""Evaluation benchmark, part by part: ours (evaluation/records.score_items and its parts) against
two references on the same model, items and prompts:
- peer: open-unlearning's TOFU evaluation algorithm (tools/peer_eval.py: per-pair forwards at
  batch 32, perturbed answers as their own batches, HF generate greedy, 200 new tokens);
- batch1: the project's simple baseline (tools/bench.py: one pair per forward at batch 1, every
  question generated alone).

Parts: prob (answers scored), truth_ratio (paraphrases + perturbed answers), scoring (every
likelihood metric: ours in one pass, the references as the sum of the two), generation (greedy
answers + ROUGE-L: ours and batch1 at our default budget, the peer at its 200 tokens), total
(scoring + generation, each evaluator at its own default), and generation_N / total_N with every
evaluator at N new tokens (N = --max-new-tokens, default 200: the same work on all sides).
A ratio is reference seconds / our seconds (above 1: ours is faster), one per repeat; repeats are
interleaved (the evaluators' order rotates), and min / median / max are reported. FLOPs executed
(matmuls and attention, torch's FlopCounterMode, one untimed run) over our median seconds, as a
fraction of the fp32 matmul throughput measured in the same process, is `flops_fraction`.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence

import torch

from polyunlearn.core.encoding import Encoder
from polyunlearn.data.schema import QAItem
from polyunlearn.evaluation import metrics
from polyunlearn.evaluation.records import EvalConfig, generation_budget, item_pairs, score_items
from polyunlearn.evaluation.scoring import generate_answers, score_pairs
from polyunlearn.tools.peer_eval import PEER_MAX_NEW_TOKENS, peer_generate, peer_prob, peer_truth_ratio

EVALUATORS = ("ours", "peer", "batch1")


def _rouge(items: Sequence[QAItem], answers: Sequence[str]) -> list[str]:
    for it, a in zip(items, answers):
        metrics.rouge_l_recall(a, it.answer, it.language)  # timed with the answers, as every evaluator reports it
    return list(answers)


def _tr_pairs(items: Sequence[QAItem]) -> list[tuple[str, str]]:
    out = [(it.question, it.paraphrased_answer) for it in items if it.paraphrased_answer]
    return out + [(it.question, w) for it in items for w in it.perturbed_answer]


def ours_parts(
    model, tok, items: Sequence[QAItem], budget: int, fixed: int, ecfg: EvalConfig
) -> dict[str, Callable[[], object]]:
    """Each part as a thunk returning what it computed (mean NLLs or answers)."""
    answers = [(it.question, it.answer) for it in items]

    def score(pairs):
        return [
            s.mean_nll
            for s in score_pairs(model, Encoder(tok, ecfg.max_length), pairs, ecfg.eval_batch_tokens, ecfg.max_batch)
        ]

    def gen(n):
        return _rouge(
            items,
            generate_answers(
                model,
                Encoder(tok, ecfg.max_length),
                [it.question for it in items],
                n,
                ecfg.max_batch,
                ecfg.eval_batch_tokens,
            ),
        )

    def total(n):
        return score_items(
            model,
            tok,
            items,
            EvalConfig(max_new_tokens=n, eval_batch_tokens=ecfg.eval_batch_tokens, max_batch=ecfg.max_batch),
        )

    return {
        "prob": lambda: score(answers),
        "truth_ratio": lambda: score(_tr_pairs(items)),
        "scoring": lambda: score_items(
            model,
            tok,
            items,
            EvalConfig(generate=False, eval_batch_tokens=ecfg.eval_batch_tokens, max_batch=ecfg.max_batch),
        ),
        "generation": lambda: gen(budget),
        "total": lambda: total(budget),
        f"generation_{fixed}": lambda: gen(fixed),
        f"total_{fixed}": lambda: total(fixed),
    }


def peer_parts(model, tok, items: Sequence[QAItem], fixed: int) -> dict[str, Callable[[], object]]:
    parts = {
        "prob": lambda: peer_prob(model, tok, items),
        "truth_ratio": lambda: peer_truth_ratio(model, tok, items),
        "generation": lambda: _rouge(items, peer_generate(model, tok, items, PEER_MAX_NEW_TOKENS)),
    }
    if fixed != PEER_MAX_NEW_TOKENS:
        parts[f"generation_{fixed}"] = lambda: _rouge(items, peer_generate(model, tok, items, fixed))
    return parts


def batch1_parts(model, tok, items: Sequence[QAItem], budget: int, fixed: int) -> dict[str, Callable[[], object]]:
    from polyunlearn.tools.bench import baseline_generate, baseline_score_pair

    def gen(n):
        return _rouge(items, [baseline_generate(model, tok, it.question, n) for it in items])

    return {
        "prob": lambda: [baseline_score_pair(model, tok, it.question, it.answer).mean_nll for it in items],
        "truth_ratio": lambda: [baseline_score_pair(model, tok, q, a).mean_nll for q, a in _tr_pairs(items)],
        "generation": lambda: gen(budget),
        f"generation_{fixed}": lambda: gen(fixed),
    }


def derived_seconds(who: str, s: dict[str, float], fixed: int) -> dict[str, float]:
    """Parts a reference has no single pass for: sums of the passes it runs."""
    out = dict(s)
    if who != "ours":
        out["scoring"] = s["prob"] + s["truth_ratio"]
        gen_fixed = s.get(f"generation_{fixed}", s["generation"])  # the peer's own setting is 200
        out[f"generation_{fixed}"] = gen_fixed
        out["total"] = out["scoring"] + s["generation"]
        out[f"total_{fixed}"] = out["scoring"] + gen_fixed
    return out


def spread(xs: Sequence[float]) -> list[float]:
    return [min(xs), statistics.median(xs), max(xs)]


def flop_count(fn: Callable[[], object]) -> float:
    """Floating-point operations fn() executes in matmuls and attention (torch FlopCounterMode;
    the CPU flash-attention kernel, which torch does not count, as 4 * B * H * Lq * Lk * d)."""
    from torch.utils.flop_counter import FlopCounterMode

    def cpu_flash(q, k, v, *args, **kwargs) -> int:
        b, h, lq, d = q
        return 4 * b * h * lq * k[-2] * d

    aten = torch.ops.aten
    with FlopCounterMode(
        display=False, custom_mapping={aten._scaled_dot_product_flash_attention_for_cpu: cpu_flash}
    ) as fc:
        fn()
    return float(fc.get_total_flops())


def agreement(values: dict[str, dict[str, object]], fixed: int) -> dict:
    """Largest |mean NLL| difference of ours against each reference, and whether greedy answers
    are identical (ours at our budget vs batch1 at it; at N tokens against both)."""
    ours, peer, b1 = values["ours"], values["peer"], values["batch1"]
    para, wrong = peer["truth_ratio"]
    peer_tr = list(para) + [x for w in wrong for x in w]
    # _tr_pairs lists the paraphrases first, then every item's perturbed answers in order.
    d_peer = max(abs(a - b) for a, b in zip(ours["prob"] + ours["truth_ratio"], peer["prob"] + peer_tr))
    d_b1 = max(abs(a - b) for a, b in zip(ours["prob"] + ours["truth_ratio"], b1["prob"] + b1["truth_ratio"]))
    joint = [r["nll"] for r in ours["total"]]
    d_joint = max(abs(a - b) for a, b in zip(joint, b1["prob"]))
    gen_fixed_peer = peer.get(f"generation_{fixed}", peer["generation"])
    return {
        "max_abs_nll_diff_vs_peer": d_peer,
        "max_abs_nll_diff_vs_batch1": max(d_b1, d_joint),
        "generated_identical_vs_batch1": ours["generation"] == b1["generation"]
        and [r["generated"] for r in ours["total"]] == b1["generation"],
        f"generated_identical_{fixed}_vs_peer": ours[f"generation_{fixed}"] == gen_fixed_peer,
        f"generated_identical_{fixed}_vs_batch1": ours[f"generation_{fixed}"] == b1[f"generation_{fixed}"]
        and [r["generated"] for r in ours[f"total_{fixed}"]] == b1[f"generation_{fixed}"],
    }


def bench_eval_parts(
    cfg, model, tok, items: Sequence[QAItem], matmul_gflops: float, timed, log: Callable[[str], None]
) -> dict:
    """Interleaved repeats of every evaluator's parts; ratios, FLOP fractions, peak memory and
    agreement. `timed(fn)` -> (result, seconds, peak MiB) is bench._timed bound to cfg."""
    fixed = cfg.max_new_tokens
    ecfg = EvalConfig(eval_batch_tokens=cfg.eval_batch_tokens[0])
    budget = generation_budget(ecfg, Encoder(tok, ecfg.max_length, ecfg.prompt_format), items)[0]
    runners = {
        "ours": ours_parts(model, tok, items, budget, fixed, ecfg),
        "peer": peer_parts(model, tok, items, fixed),
        "batch1": batch1_parts(model, tok, items, budget, fixed),
    }
    warm = [
        ours_parts(model, tok, items[:2], 2, 2, ecfg),
        peer_parts(model, tok, items[:2], 2),
        batch1_parts(model, tok, items[:2], 2, 2),
    ]
    for fn in (f for parts in warm for f in parts.values()):
        fn()  # warm-up on two items: first calls pay one-off allocations
    seconds = {w: [] for w in EVALUATORS}
    peak = {w: 0.0 for w in EVALUATORS}
    values: dict[str, dict[str, object]] = {w: {} for w in EVALUATORS}
    for r in range(cfg.repeats):
        order = EVALUATORS[r % 3 :] + EVALUATORS[: r % 3]
        for who in order:
            s = {}
            for part, fn in runners[who].items():
                values[who][part], s[part], mib = timed(fn)
                peak[who] = max(peak[who], mib)
            seconds[who].append(derived_seconds(who, s, fixed))
        log(
            f"  repeat {r + 1}/{cfg.repeats}: total ours {seconds['ours'][-1]['total']:.2f} s, peer {seconds['peer'][-1]['total']:.2f} s, batch1 {seconds['batch1'][-1]['total']:.2f} s"
        )
    parts = list(seconds["ours"][0])
    flops = {w: {p: flop_count(fn) for p, fn in runners[w].items()} for w in ("ours", "peer")}
    out: dict[str, dict] = {}
    for p in parts:
        med = {w: statistics.median(x[p] for x in seconds[w]) for w in EVALUATORS}
        row = {
            "vs_peer": spread([seconds["peer"][r][p] / seconds["ours"][r][p] for r in range(cfg.repeats)]),
            "vs_batch1": spread([seconds["batch1"][r][p] / seconds["ours"][r][p] for r in range(cfg.repeats)]),
            "flops_fraction": flops["ours"][p] / med["ours"] / (matmul_gflops * 1e9) if p in flops["ours"] else None,
            "seconds": {w: spread([x[p] for x in seconds[w]]) for w in EVALUATORS},
            "ours_gflop": flops["ours"].get(p, 0) / 1e9,
        }
        if p in flops["peer"]:
            row["peer_flops_fraction"] = flops["peer"][p] / med["peer"] / (matmul_gflops * 1e9)
        if p.startswith("total"):
            row["peak_mib"] = dict(peak)  # the largest over every part an evaluator ran
        out[p] = row
    sweep = []
    for v in cfg.eval_batch_tokens:
        e = EvalConfig(eval_batch_tokens=v)
        _, sec, mib = timed(lambda e=e: score_items(model, tok, items, e))
        sweep.append({"eval_batch_tokens": v, "seconds": sec, "peak_mib": mib})
    return {
        "parts": out,
        "budget": budget,
        "fixed": fixed,
        "agreement": agreement(values, fixed),
        "batch_tokens_sweep": sweep,
        "n_items": len(items),
        "n_pairs": len(item_pairs(items)[0]),
    }
