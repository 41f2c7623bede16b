"""Console text is shown as written: rich markup in data ('[a-z0-9]') is escaped, and a tiny
float (a Forget Quality p-value) keeps its digits instead of printing as 0.000."""

from __future__ import annotations

from rich.console import Console

from polyunlearn.analysis.matrices import console_number, console_table
from polyunlearn.core.rundir import run_kind_phrase
from polyunlearn.evaluation.metric_table import METRICS


def _render(table) -> str:
    console = Console(record=True, width=400, color_system=None)
    console.print(table)
    return console.export_text()


def test_console_table_escapes_markup_in_cells_headers_and_title():
    text = _render(console_table([{"[b]col[/b]": "non [a-z0-9] character", "n": 1}], "title [bold]x[/bold]"))
    assert "non [a-z0-9] character" in text
    assert "[b]col[/b]" in text and "title [bold]x[/bold]" in text


def test_the_metrics_table_keeps_rouges_bracketed_note():
    rows = [{"column": m.column, "differs": m.differs} for m in METRICS if m.column == "forget_rouge_l"]
    assert "non [a-z0-9] character" in _render(console_table(rows, "metrics"))


def test_console_number():
    assert console_number(2e-16) == "2e-16" and console_number(1.234e-19) == "1.23e-19"
    assert console_number(0.5) == "0.500" and console_number(0.0) == "0.000" and console_number(-0.25) == "-0.250"
    assert console_number(-4e-5) == "-4e-05" and console_number(0.001) == "0.001"


def test_run_kind_phrase_article():
    assert run_kind_phrase("unlearn") == "an unlearn run" and run_kind_phrase("eval") == "an eval run"
    assert run_kind_phrase("learn") == "a learn run" and run_kind_phrase(None) == "a run"


def test_demo_membership_table_shows_min_k_auc():
    import pandas as pd

    from polyunlearn.studies.demo import DemoConfig, _check, mia_table

    def summary(prob, loss_auc, min_k_auc):
        return pd.DataFrame(
            [
                {
                    "language": "en",
                    "forget_prob": prob,
                    "retain_prob": 0.9,
                    "mia_loss_auc": loss_auc,
                    "mia_min_k_auc": min_k_auc,
                }
            ]
        )

    row = _check(
        "npo", "en", ["en"], summary(0.9, 0.99, 0.97), summary(0.1, 0.31, 0.42), DemoConfig(), summary(0.1, 0.5, 0.52)
    )
    assert (row["mia_min_k_auc_before"], row["mia_min_k_auc_after"], row["mia_min_k_auc_retain_model"]) == (
        0.97,
        0.42,
        0.52,
    )
    assert row["mia_loss_auc_after"] == 0.31  # kept in demo_result.json
    text = _render(mia_table([row]))
    assert "Min-K% AUC (k = 0.4)" in text and "0.420" in text and "0.310" not in text
    loss_only = {k: v for k, v in row.items() if not k.startswith("mia_min_k")}
    assert "loss AUC" in _render(mia_table([loss_only]))
    assert mia_table([{k: v for k, v in row.items() if not k.startswith("mia_")}]) is None
