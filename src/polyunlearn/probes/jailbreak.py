"""Probe `jailbreak`: the affirmative prefix ("Sure, here is the answer:" in each language) forced
before the answer, and the paraphrased question where the data has one (TOFU's, or --paraphrases).

    polyunlearn attack RUN_DIR --probes jailbreak --paraphrases paraphrased.csv
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyunlearn.core.config import setting
from polyunlearn.probes.catalog import Probe, register
from polyunlearn.probes.probe_runs import prompt_group
from polyunlearn.probes.probe_steps import jailbreak_items, load_paraphrases, tofu_paraphrases


@dataclass(frozen=True)
class Params:
    paraphrases: str | None = setting(
        None, "file with id, language, paraphrased_question for the paraphrase probe (TOFU's column)"
    )

    def __post_init__(self) -> None:
        if self.paraphrases and not Path(self.paraphrases).is_file():
            raise ValueError(f"file not found: {self.paraphrases}")


def run_jailbreak(ctx: Any, _langs: Sequence[str]) -> dict[str, dict]:
    """The affirmative prefix in each language; the paraphrased question where the data has one."""
    paraphrased = load_paraphrases(ctx.cfg.paraphrases) if ctx.cfg.paraphrases else None
    if paraphrased is None and "tofu:" in str(ctx.target.info.get("data", "")):
        paraphrased = tofu_paraphrases(str(ctx.target.info["data"])) or None  # TOFU's own paraphrased_question
    if paraphrased is None:
        ctx.notes.append(
            "paraphrased question: unavailable (the data keeps none; give --paraphrases FILE with id, language, paraphrased_question, e.g. TOFU's)"
        )
    items, conds, prefixes = jailbreak_items(ctx.forget, paraphrased)
    rows, before_rows = prompt_group(ctx, "jailbreak", items, conds, lambda c: c, prefixes=prefixes)
    return {
        "jailbreak": {
            "rows": rows,
            "before_rows": before_rows,
            "ylabel": "probe",
            "title": "paraphrase and affirmative-prefix probes",
        }
    }


register(
    Probe(
        "jailbreak", run_jailbreak, "affirmative prefix and paraphrase", params=Params, files=("paraphrases",), rank=40
    )
)
