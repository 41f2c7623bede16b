"""Re-aggregate TOFU's published per-sample evaluation logs with polyunlearn's own metric code.

TOFU (locuslab/tofu, evaluate_util.py) writes one JSON per evaluation set, each
{key: {sample index: value}}: eval_log.json (retain), eval_log_forget.json (forget),
eval_real_author_wo_options.json (real authors), eval_real_world_wo_options.json (world
facts), with avg_gt_loss (mean answer NLL), avg_paraphrased_loss (the truth ratio's true
answer: the paraphrase on forget/retain, the answer itself on the general sets),
average_perturb_loss (a list per sample), rougeL_recall and generated_text ([input,
generated, gold]). TOFU's eval_log_aggregated.json holds the same four under their file names.

`read_tofu_logs` turns them into polyunlearn per-item records (split forget / retain /
real_authors / world_facts, language en), so `records.summarize` computes Model Utility (9
values), Truth Ratio and Forget Quality exactly as for a model evaluated here, and
`tofu_aggregate` (export.py) names them as aggregate_eval_stat.py does.

    polyunlearn tofu-aggregate data/ft_..._full/eval_results/ds_size300 --retain data/ft_..._retain90/eval_results/ds_size300
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from polyunlearn.data.schema import GENERAL_SPLITS, DataError
from polyunlearn.evaluation import metrics
from polyunlearn.evaluation.export import tofu_aggregate
from polyunlearn.evaluation.records import summarize

TOFU_LOG_FILES = {
    "eval_log.json": "retain",
    "eval_log_forget.json": "forget",
    "eval_real_author_wo_options.json": "real_authors",
    "eval_real_world_wo_options.json": "world_facts",
}
REQUIRED_KEYS = ("avg_gt_loss", "avg_paraphrased_loss", "average_perturb_loss", "rougeL_recall")


def _load(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: cannot read TOFU eval log ({e})") from None


def _logs(source: str | Path) -> dict[str, dict]:
    """{file name: log dict} from a folder of the four files or one aggregated JSON."""
    path = Path(source)
    if path.is_dir():
        missing = [name for name in TOFU_LOG_FILES if not (path / name).is_file()]
        if missing:
            raise DataError(f"{path}: missing TOFU eval log(s) {', '.join(missing)}")
        return {name: _load(path / name) for name in TOFU_LOG_FILES}
    if not path.is_file():
        raise DataError(f"TOFU eval logs not found: {path}")
    data = _load(path)
    missing = [name for name in TOFU_LOG_FILES if not isinstance(data, dict) or name not in data]
    if missing:
        raise DataError(f"{path}: no entry for {', '.join(missing)} (expected TOFU's eval_log_aggregated.json layout)")
    return {name: data[name] for name in TOFU_LOG_FILES}


def _records_of(name: str, log: object, where: str) -> list[dict]:
    split = TOFU_LOG_FILES[name]
    if not isinstance(log, dict):
        raise DataError(f"{where}: {name} is not a JSON object")
    for key in REQUIRED_KEYS:
        if not isinstance(log.get(key), dict):
            raise DataError(f"{where}: {name} has no per-sample field {key!r}")
    index = list(log["avg_gt_loss"])
    for key in REQUIRED_KEYS:
        if set(log[key]) != set(index):
            raise DataError(f"{where}: {name}: field {key!r} has other sample indices than 'avg_gt_loss'")
    generated = log.get("generated_text") if isinstance(log.get("generated_text"), dict) else {}
    out = []
    for idx in index:
        nll, para = float(log["avg_gt_loss"][idx]), float(log["avg_paraphrased_loss"][idx])
        wrong = log["average_perturb_loss"][idx]
        wrong = [float(x) for x in (wrong if isinstance(wrong, list) else [wrong])]
        if not all(math.isfinite(v) for v in (nll, para, *wrong)):
            raise DataError(f"{where}: {name}: sample {idx} has a non-finite loss")
        tr = metrics.truth_ratio(para, wrong)
        rec = {
            "id": f"tofu-{split}:{idx}",
            "language": "en",
            "split": split,
            "nll": nll,
            "prob": metrics.prob_from_mean_nll(nll),
            "truth_ratio": tr,
            "truth_ratio_score": metrics.truth_ratio_score(tr, on_forget=split == "forget"),
            "rouge_l": float(log["rougeL_recall"][idx]),
        }
        if split in GENERAL_SPLITS:
            rec["normalized_prob"] = metrics.normalized_prob(nll, wrong)
        text = generated.get(idx)
        if isinstance(text, list) and len(text) == 3:
            rec["generated"], rec["reference"] = str(text[1]), str(text[2])
        out.append(rec)
    return out


def read_tofu_logs(source: str | Path) -> list[dict]:
    """polyunlearn per-item records from TOFU eval logs (a folder or eval_log_aggregated.json)."""
    return [r for name, log in _logs(source).items() for r in _records_of(name, log, str(source))]


def reaggregate(source: str | Path, retain: str | Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(polyunlearn summary, TOFU aggregate row) of a model's TOFU logs; given the retain
    model's logs, Forget Quality too."""
    retain_records = read_tofu_logs(retain) if retain is not None else None
    summary = summarize(read_tofu_logs(source), retain_records)
    return summary, tofu_aggregate(summary)
