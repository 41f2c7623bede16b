"""Probe `xprompt`: asked in language X, scored against Y's gold answer, with the instruction
"answer in Y" written in X's words (instructed) and without it (mixed).

    polyunlearn attack RUN_DIR --probes xprompt
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from polyunlearn.probes.catalog import Probe, register
from polyunlearn.probes.probe_runs import prompt_group
from polyunlearn.probes.probe_steps import crosslingual_items


def run_xprompt(ctx: Any, _langs: Sequence[str]) -> dict[str, dict]:
    """Asked in X, answered in Y (Y's gold answer), with and without the instruction."""
    groups = {}
    for mode, instructed in (("instructed", True), ("mixed", False)):
        items, conds = crosslingual_items(ctx.forget, ctx.target.languages, instructed)
        rows, before_rows = prompt_group(
            ctx,
            f"xprompt_{mode}",
            items,
            conds,
            lambda c: "asked in " + c.split(">")[0],
            expected=[c.split(">")[1] for c in conds],
        )
        title = (
            "asked in X with 'answer in Y' in X's words"
            if instructed
            else "asked in X, Y's answer scored (no instruction)"
        )
        groups[f"xprompt_{mode}"] = {
            "rows": rows,
            "before_rows": before_rows,
            "ylabel": "question language",
            "title": title,
            "highlight": {f"asked in {x}": [x] for x in ctx.target.languages},
        }
    return groups


register(Probe("xprompt", run_xprompt, "cross-lingual prompting (instructed and mixed)", rank=30))
