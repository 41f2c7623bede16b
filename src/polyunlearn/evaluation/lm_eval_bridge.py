"""Utility on standard benchmarks through lm-evaluation-harness (the `lm-eval` package), run on
the same in-memory model and tokenizer polyunlearn just evaluated (lm-eval's HFLM wrapper), so
the numbers are lm-eval's own: polyunlearn only picks the tasks, writes the results and files
the per-language ones where the transfer matrices can use them.

    polyunlearn eval --model M --out OUT --lm-eval xnli_fr,xnli_en,belebele_fra_Latn
    polyunlearn eval --model M --out OUT --lm-eval my_task --lm-eval-include tasks/   # local YAMLs

Writes OUT/lm_eval.json (lm-eval's results, configs, versions, n-shot, higher_is_better,
n-samples; strict JSON) and OUT/lm_eval.csv (one row per task x metric x filter: task,
family, language, metric, filter, value, stderr, higher_is_better). A task whose name ends in
a language of the table (xnli_fr, global_mmlu_fr, xcopa_id; FLORES codes as in
belebele_fra_Latn) becomes summary column `lm_<family>_<metric>` in that language's row
(`add_lm_eval_columns`), e.g. lm_xnli_acc, so `transfer_matrix(before, runs, "lm_xnli_acc")`
works as for any other metric.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from polyunlearn.core.atomic import write_json, write_table
from polyunlearn.core.languages import LANGUAGES

_BY_NLLB = {lang.nllb: lang.code for lang in LANGUAGES.values()}
_BY_URIEL = {lang.uriel: lang.code for lang in LANGUAGES.values()}
# Keys of lm-eval's result dict worth keeping (the rest is environment text and model objects).
KEPT = (
    "results",
    "groups",
    "group_subtasks",
    "configs",
    "versions",
    "n-shot",
    "higher_is_better",
    "n-samples",
    "lm_eval_version",
)


def parse_tasks(spec: str) -> list[str]:
    tasks = list(dict.fromkeys(t.strip() for t in spec.split(",") if t.strip()))
    if not tasks:
        raise ValueError("--lm-eval: empty task list")
    return tasks


def task_language(task: str) -> tuple[str, str | None]:
    """(family, polyunlearn language code or None) of an lm-eval task name: xnli_fr ->
    ("xnli", "fr"), belebele_fra_Latn -> ("belebele", "fr"), hellaswag -> ("hellaswag", None)."""
    parts = task.split("_")
    if len(parts) >= 3 and "_".join(parts[-2:]) in _BY_NLLB:
        return "_".join(parts[:-2]), _BY_NLLB["_".join(parts[-2:])]
    if len(parts) >= 2 and parts[-1] in LANGUAGES:
        return "_".join(parts[:-1]), parts[-1]
    if len(parts) >= 2 and parts[-1] in _BY_URIEL:
        return "_".join(parts[:-1]), _BY_URIEL[parts[-1]]
    return task, None


def task_manager(tasks: Sequence[str], include_path: str | Path | None = None):
    """An lm-eval TaskManager that knows every task in `tasks`; an unknown task is a ValueError
    naming it, raised before any model work. lm-eval's own task index (about 15k YAMLs, some
    seconds) is only read when the local folder does not hold them all."""
    from lm_eval.tasks import TaskManager

    if include_path is not None and not Path(include_path).is_dir():
        raise ValueError(f"--lm-eval-include: {include_path} is not a folder of task YAMLs")
    tm = TaskManager(include_path=str(include_path), include_defaults=False) if include_path is not None else None
    if tm is None or set(tm.match_tasks(list(tasks))) != set(tasks):
        tm = TaskManager(include_path=str(include_path) if include_path is not None else None)
    missing = sorted(set(tasks) - set(tm.match_tasks(list(tasks))))
    if missing:
        raise ValueError(
            f"--lm-eval: unknown lm-eval task(s) {', '.join(missing)} (see `lm-eval ls tasks`, or pass --lm-eval-include)"
        )
    return tm


def _strict(obj: Any) -> Any:
    """JSON-safe copy: non-finite floats become None, unknown objects their str()."""
    if isinstance(obj, dict):
        return {str(k): _strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict(v) for v in obj]
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    try:
        return _strict(float(obj))  # numpy scalars
    except (TypeError, ValueError):
        return str(obj)


def tidy_results(results: dict) -> pd.DataFrame:
    """lm-eval's results as rows: task, family, language, metric, filter, value, stderr,
    higher_is_better (lm-eval's own flag for that metric)."""
    rows = []
    hib = results.get("higher_is_better", {})
    for task, scores in results.get("results", {}).items():
        family, lang = task_language(task)
        for key, value in scores.items():
            if "," not in key or "_stderr," in key or not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            metric, filt = key.split(",", 1)
            stderr = scores.get(f"{metric}_stderr,{filt}")
            rows.append(
                {
                    "task": task,
                    "family": family,
                    "language": lang or "",
                    "metric": metric,
                    "filter": filt,
                    "value": float(value),
                    "stderr": float(stderr) if isinstance(stderr, (int, float)) else None,
                    "higher_is_better": hib.get(task, {}).get(metric),
                }
            )
    return pd.DataFrame(
        rows, columns=["task", "family", "language", "metric", "filter", "value", "stderr", "higher_is_better"]
    )


def run_lm_eval(
    model,
    tokenizer,
    tasks: Sequence[str],
    out_dir: str | Path,
    include_path: str | Path | None = None,
    limit: int | None = None,
    batch_size: int = 8,
    tm=None,
) -> pd.DataFrame:
    """lm_eval.simple_evaluate on (model, tokenizer) in memory; writes OUT/lm_eval.json and
    OUT/lm_eval.csv and returns the tidy table. `limit`: samples per task (quick checks;
    lm-eval then warns the scores are not comparable)."""
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM

    tm = tm or task_manager(tasks, include_path)
    was_training = model.training
    model.eval()
    try:
        lm = HFLM(
            pretrained=model, tokenizer=tokenizer, batch_size=batch_size, device=str(next(model.parameters()).device)
        )
        results = simple_evaluate(model=lm, tasks=list(tasks), task_manager=tm, limit=limit, log_samples=False)
    finally:
        model.train(was_training)
    out = Path(out_dir)
    write_json(out / "lm_eval.json", _strict({k: results[k] for k in KEPT if k in results}))
    table = tidy_results(results)
    write_table(out / "lm_eval.csv", table)
    return table


def lm_eval_columns(table: pd.DataFrame) -> pd.DataFrame:
    """Per-language lm-eval scores as summary columns: one row per language, columns
    `lm_<family>_<metric>` (plus `_<filter>` unless the filter is "none")."""
    t = table[table["language"] != ""]
    if t.empty:
        return pd.DataFrame(columns=["language"])
    name = "lm_" + t["family"] + "_" + t["metric"] + t["filter"].map(lambda f: "" if f == "none" else f"_{f}")
    wide = t.assign(column=name).pivot_table(
        index="language", columns="column", values="value", aggfunc="first", sort=False
    )
    return wide.reset_index().rename_axis(columns=None)


def add_lm_eval_columns(summary: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """`summary` with the per-language lm-eval columns joined on language (languages lm-eval
    did not cover get empty cells; lm-eval languages the summary lacks are not added)."""
    wide = lm_eval_columns(table)
    if len(wide.columns) == 1:
        return summary
    return summary.merge(wide, on="language", how="left")


class LmEvalSpec:
    """What `eval --lm-eval` runs: task names (checked against lm-eval's task list when built, so
    an unknown task fails before any model loads), an optional folder of local task YAMLs, and a
    sample limit. Its `identity` goes into the evaluation's run identity: other tasks, other
    task files, another limit are other results."""

    def __init__(self, tasks: Sequence[str], include: str | Path | None = None, limit: int | None = None):
        if limit is not None and limit < 1:
            raise ValueError(f"--lm-eval-limit must be >= 1, got {limit}")
        self.tasks = list(tasks)
        self.include = Path(include) if include is not None else None
        self.limit = limit
        self.manager = task_manager(self.tasks, self.include)

    @classmethod
    def from_options(cls, spec: str | None, include: str | Path | None, limit: int | None) -> LmEvalSpec | None:
        if spec is None:
            if include is not None or limit is not None:
                raise ValueError("--lm-eval-include and --lm-eval-limit need --lm-eval TASKS")
            return None
        return cls(parse_tasks(spec), include, limit)

    def identity(self) -> dict[str, Any]:
        from polyunlearn.core.rundir import model_fingerprint

        include = model_fingerprint(str(self.include))["files"] if self.include is not None else None
        return {
            "tasks": self.tasks,
            "include_files": include,
            "limit": self.limit,
            "lm_eval_version": _lm_eval_version(),
        }

    def run(self, model, tokenizer, out_dir: str | Path) -> pd.DataFrame:
        return run_lm_eval(model, tokenizer, self.tasks, out_dir, self.include, self.limit, tm=self.manager)


def _lm_eval_version() -> str:
    from importlib.metadata import version

    return version("lm-eval")
