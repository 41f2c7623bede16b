"""Local lm-evaluation-harness multiple-choice tasks (a task YAML per language over a JSON file) for
tests/evaluation/test_lm_eval_bridge.py and the end-to-end tests."""

from __future__ import annotations

import json
from pathlib import Path

TASK_YAML = """task: pu_qa_{lang}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{label}}}}"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
"""


def write_tasks(folder: Path, items) -> dict[str, list[dict]]:
    """One task per language over the forget facts: the true answer among its perturbed ones;
    the gold is put at a different position per doc so a position bias cannot score."""
    folder.mkdir(parents=True, exist_ok=True)
    docs: dict[str, list[dict]] = {}
    for it in items:
        if it.split != "forget":
            continue
        choices = list(it.perturbed_answer)
        label = len(docs.get(it.language, [])) % (len(choices) + 1)
        choices.insert(label, it.answer)
        docs.setdefault(it.language, []).append({"question": it.question, "choices": choices, "label": label})
    for lang, rows in docs.items():
        data = folder / f"pu_qa_{lang}.jsonl"
        data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        (folder / f"pu_qa_{lang}.yaml").write_text(TASK_YAML.format(lang=lang, data=data), encoding="utf-8")
    return docs
