"""TOFU's per-sample eval logs (eval_log.json, eval_log_forget.json, ...) in TOFU's JSON shape, with
numbers worked out by hand, for tests/evaluation/test_tofu_logs.py and the end-to-end tests."""

from __future__ import annotations

import json
import math
from pathlib import Path

LN2, LN4, LN8 = math.log(2), math.log(4), math.log(8)


# --------------------------------------------------------------------------- TOFU eval logs
def _log(gt, para, pert, rouge, texts=None) -> dict:
    idx = [str(i) for i in range(len(gt))]
    log = {
        "avg_gt_loss": dict(zip(idx, gt)),
        "avg_paraphrased_loss": dict(zip(idx, para)),
        "average_perturb_loss": dict(zip(idx, pert)),
        "rougeL_recall": dict(zip(idx, rouge)),
        "gt_loss": dict(zip(idx, [3 * g for g in gt])),
        "num_token_gt": dict(zip(idx, [3] * len(gt))),
    }
    if texts:
        log["generated_text"] = {i: [f"[INST] q{i} [/INST]", gen, gold] for i, (gen, gold) in zip(idx, texts)}
    return log


def _write_logs(folder: Path, logs: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, log in logs.items():
        (folder / name).write_text(json.dumps(log, indent=4), encoding="utf-8")
    return folder


def hand_logs() -> dict:
    """Forget: P = 0.5, 0.25 -> Prob 0.375; tr = P_pert/P_para = 0.25/0.5 = 0.5 and
    0.25/0.25 = 1 (perturbed losses ln 2, ln 8 average to ln 4) -> min(tr, 1/tr) = 0.5, 1 -> 0.75.
    Retain: P = 0.5, 1 -> 0.75; tr = (1/8)/(1/2) = 0.25, 0.5/1 = 0.5 -> 1 - tr = 0.75, 0.5 -> 0.625.
    Real authors (para = answer): normalized 0.5/(0.5 + 0.25 + 0.25) = 0.5 and
    0.5/(0.5 + 0.5 + 0.125) = 4/9 -> 17/36; tr 0.5, 0.5 -> 0.5. World facts: 1/(1 + 0.25) = 0.8;
    tr 0.25 -> 0.75. ROUGE (rouge-score, stemmer): "Paris"/"Paris" 1; "dog runs" vs "running
    dogs" 0.5 (stems dog run / run dog)."""
    full, half = ("Paris", "Paris"), ("dog runs", "running dogs")
    return {
        "eval_log_forget.json": _log([LN2, LN4], [LN2, LN4], [[LN4, LN4], [LN2, LN8]], [1.0, 0.5], [full, half]),
        "eval_log.json": _log([LN2, 0.0], [LN2, 0.0], [[LN8], [LN2]], [1.0, 0.5], [full, half]),
        "eval_real_author_wo_options.json": _log([LN2, LN2], [LN2, LN2], [[LN4, LN4], [LN2, LN8]], [1.0, 0.0]),
        "eval_real_world_wo_options.json": _log([0.0], [0.0], [[LN4]], [1.0]),
    }


def retain_model_logs() -> dict:
    """The retain model's forget set: tr = 0.5/0.25 = 2 and 0.5/0.125 = 4."""
    return dict(hand_logs(), **{"eval_log_forget.json": _log([LN4, LN8], [LN4, LN8], [[LN2], [LN2]], [0.0, 0.0])})
