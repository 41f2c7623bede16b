"""CLI tools: `translate` (extend a benchmark to new languages with a seq2seq model, resumable,
round-trip chrF per item) and `bench` (evaluation and unlearning throughput against a baseline).

    polyunlearn translate --data bench.jsonl --to fr,ja,ko --model facebook/nllb-200-distilled-600M --out runs/tr
    polyunlearn bench --sizes tiny --languages en,zh --items-per-lang 5
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from polyunlearn.cli.options import threads_option
from polyunlearn.cli.root import TOOLS, app, console, friendly_errors
from polyunlearn.core.languages import parse_langs
from polyunlearn.data.resolve import DATA_HELP


@app.command("translate", rich_help_panel=TOOLS)
@friendly_errors
def translate(
    to: str = typer.Option(..., "--to", help="Target languages, comma list (codes of `polyunlearn languages`)."),
    model: str = typer.Option(
        ..., help="Seq2seq translation model: HF id or local folder (NLLB or M2M100 class; safetensors weights)."
    ),
    out: Path = typer.Option(
        ..., help="Output folder: benchmark.jsonl, roundtrip.csv, summary.csv, chunks/ (a rerun resumes it)."
    ),
    data: str = typer.Option(
        ...,
        help="The benchmark to extend: "
        + DATA_HELP
        + " Or 'news:HUB_ID_OR_FILE': Study A news, in the news-truthful shape (data/news_truthful.py) or polyunlearn's "
        "news table (a 'kind' column, data/news.py: what study-a writes to OUT/data/news.jsonl).",
    ),
    columns: str | None = typer.Option(
        None,
        "--columns",
        help="news: data in the news-truthful shape with other column names: ours=theirs, comma list (e.g. fake_keyword=keyword).",
    ),
    source: str = typer.Option(
        "en", help="Language of the items to translate (others in the data are copied as they are)."
    ),
    code_style: str | None = typer.Option(
        None, help="Language codes of the model: 'nllb' (fra_Latn) or 'm2m100' (__fr__); default from its vocabulary."
    ),
    batch_size: int = typer.Option(16, help="Texts per generate call."),
    chunk_size: int = typer.Option(64, help="Source items per resumable chunk."),
    max_new_tokens: int = typer.Option(256),
    num_beams: int = typer.Option(1, help="Beam size (1 = greedy)."),
    roundtrip: bool = typer.Option(
        True, "--roundtrip/--no-roundtrip", help="Translate back and score chrF per item (doubles the work)."
    ),
    threshold: float = typer.Option(50.0, help="Flag items whose mean round-trip chrF (0-100) is below this."),
    revision: str | None = typer.Option(
        None, help="Model revision (branch, tag, commit or PR ref, e.g. one that has safetensors weights)."
    ),
    bf16: bool = typer.Option(False, help="Load the model in bf16 (GPU)."),
    device: str | None = typer.Option(None, help="torch device; default cuda when available, else cpu."),
    trust_remote_code: bool = typer.Option(False),
    threads: int | None = threads_option(None),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Check the data and the languages, say where the model stands in the local cache; load no model, download nothing.",
    ),
):
    """Translate a benchmark (every field, ids/splits kept) into new languages, resumably."""
    if dry_run:
        from polyunlearn.core.hubcache import offline

        with offline():  # the local cache only
            return _translate_dry_run(data, columns, source, parse_langs(to), model, chunk_size)
    import torch

    from polyunlearn.analysis.matrices import console_table
    from polyunlearn.core.models import ModelLoadError
    from polyunlearn.tools.translate import Translator, check_targets, translate_benchmark

    if threads:
        torch.set_num_threads(threads)
    targets = parse_langs(to)
    kind, loaded, present, what = _translation_source(data, columns, source)
    # Everything the data decides (source present, targets not already there), before the model.
    check_targets(source, targets, present, chunk_size, what)
    try:
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(model, revision=revision, trust_remote_code=trust_remote_code)
        net = AutoModelForSeq2SeqLM.from_pretrained(
            model,
            revision=revision,
            trust_remote_code=trust_remote_code,
            use_safetensors=True,
            dtype=torch.bfloat16 if bf16 else torch.float32,
        )
    except Exception as e:  # noqa: BLE001 - re-raised with the model named
        raise ModelLoadError(f"could not load translation model {model!r}: {e}") from e
    net.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    tr = Translator(
        net, tok, code_style=code_style, batch_size=batch_size, max_new_tokens=max_new_tokens, num_beams=num_beams
    )
    settings = dict(source=source, chunk_size=chunk_size, roundtrip=roundtrip, threshold=threshold, log=console.print)
    if kind != "items":
        from polyunlearn.tools.translate_news import translate_news, translate_news_table

        # Our news table (stories, qas) or the news-truthful corpus: the same loop, the same report.
        done = (translate_news_table(*loaded, tr, out, targets, **settings) if kind == "table"
                else translate_news(loaded, tr, out, targets, **settings))  # fmt: skip
        stories = done.stories if kind == "table" else done.data.stories
        console.print(
            console_table(done.summary.to_dict("records"), f"news translation from {source} ({tr.style} codes)")
        )
        console.print(
            f"{len(stories)} stories -> [bold]{(out / 'news.jsonl').resolve()}[/bold]; per story: {out / 'news_report.csv'}"
        )
        return
    result = translate_benchmark(loaded, tr, out, targets, **settings)
    console.print(console_table(result.summary.to_dict("records"), f"translation from {source} ({tr.style} codes)"))
    console.print(
        f"{len(result.items)} items -> [bold]{(out / 'benchmark.jsonl').resolve()}[/bold]; per-item round trip: {out / 'roundtrip.csv'}"
    )


@app.command(rich_help_panel=TOOLS)
@friendly_errors
def bench(
    out: Path = typer.Option(
        Path("polyunlearn_runs/bench"), help="Results folder: results.json, results.csv, eval_parts.csv."
    ),
    sizes: str = typer.Option("tiny,small", help="Model sizes (models.TINY_SIZES), comma list."),
    languages: str = typer.Option("study-b", help="Evaluation languages: comma list, 'study-b' (10) or 'all'."),
    items_per_lang: int = typer.Option(
        11, help="Evaluation items per language (every evaluator scores the same items)."
    ),
    max_new_tokens: int = typer.Option(
        200,
        help="The fixed greedy budget measured beside our default one, on every evaluator (200: open-unlearning's TOFU setting).",
    ),
    repeats: int = typer.Option(3, help="Interleaved repeats of every evaluation part (>= 3: min / median / max)."),
    eval_batch_tokens: str = typer.Option(
        "32768,4096",
        help="EvalConfig.eval_batch_tokens values, comma list: the first for the parts, each measured for time and peak memory.",
    ),
    unlearn_steps: int = typer.Option(2, help="NPO optimizer steps per epoch (2 epochs)."),
    batch_size: int = typer.Option(8, help="NPO forget/retain batch size."),
    arch: str = typer.Option("llama", help="llama or cohere."),
    threads: int = threads_option(),
    device: str = typer.Option("cpu", help="cpu or cuda."),
    as_json: bool = typer.Option(
        False,
        "--json",
        help='Print only {"<model>": {"<part>": {"vs_peer": [min, med, max], "vs_batch1": [...], "flops_fraction": x}}}.',
    ),
):
    """Benchmark evaluation part by part (against open-unlearning's evaluation algorithm and a
    one-pair-per-forward baseline: speed, FLOP/s vs matmul, peak memory) and NPO unlearning."""
    import json
    import sys

    from polyunlearn.analysis.matrices import console_table
    from polyunlearn.tools.bench import BenchConfig, run_bench

    try:
        tokens = tuple(int(v) for v in eval_batch_tokens.split(",") if v.strip())
    except ValueError:
        raise ValueError(f"--eval-batch-tokens must be a comma list of integers, got {eval_batch_tokens!r}") from None
    cfg = BenchConfig(
        out=str(out),
        sizes=tuple(s.strip() for s in sizes.split(",") if s.strip()),
        languages=languages,
        items_per_lang=items_per_lang,
        max_new_tokens=max_new_tokens,
        repeats=repeats,
        eval_batch_tokens=tokens,
        unlearn_steps=unlearn_steps,
        batch_size=batch_size,
        arch=arch,
        threads=threads,
        device=device,
    )
    log = (lambda msg: print(msg, file=sys.stderr)) if as_json else console.print
    result = run_bench(cfg, log=log)
    if as_json:
        print(json.dumps(result["json"], indent=1))
        return
    console.print(console_table(result["ratios"], "ours vs the batch-1 baseline (ratio = ours / baseline)"))

    def fmt(v):
        return "-".join(f"{x:.2f}" for x in v)

    for row in result["sizes"]:
        lines = [
            {
                "part": p,
                "vs peer (min-med-max)": fmt(r["vs_peer"]),
                "vs batch1": fmt(r["vs_batch1"]),
                "FLOP/s / matmul": f"{r['flops_fraction']:.0%}",
                "ours s": f"{r['seconds']['ours'][1]:.2f}",
                "peer s": f"{r['seconds']['peer'][1]:.2f}",
            }
            for p, r in row["eval_parts"].items()
        ]
        console.print(
            console_table(
                lines,
                f"size {row['size']}: evaluation, reference seconds / our seconds over {cfg.repeats} interleaved repeats (greedy budget {row['eval_gen_budget']} vs {cfg.max_new_tokens})",
            )
        )
        peak = row["eval_parts"]["total"]["peak_mib"]
        sweep = ", ".join(
            f"{s['eval_batch_tokens']}: {s['peak_mib']:.0f} MiB {s['seconds']:.2f} s"
            for s in row["eval_batch_tokens_sweep"]
        )
        console.print(
            f"size {row['size']}: eval peak memory ours {peak['ours']:.0f} MiB, peer {peak['peer']:.0f} MiB, batch1 {peak['batch1']:.0f} MiB; by --eval-batch-tokens: {sweep}"
        )
        console.print(f"size {row['size']}: agreement {row['eval_agreement']}")
        console.print(
            f"size {row['size']}: NPO step {row['unlearn_ours_step_s']:.3f} s, {row['unlearn_ours_gflops']:.1f} GFLOP/s = "
            f"{100 * row['unlearn_ours_fraction_of_matmul']:.0f}% of matmul ({row['matmul_gflops']:.1f} GFLOP/s; "
            f"{100 * row['unlearn_ours_matmul_params_fraction_of_matmul']:.0f}% counting matmul parameters only)"
        )
    console.print(f"times: {result['clock']}")
    console.print(f"results written under [bold]{out.resolve()}[/bold] ({result['seconds']:.0f} s)")


def _translation_source(data: str, columns: str | None, source: str) -> tuple[str, Any, list[str], str]:
    """What `translate --data` reads, with every check the data allows, before any model: (kind,
    what was loaded, the languages present, what a row is). kind "table": polyunlearn's news table
    ((stories, qas), data/news.py); "news": the news-truthful shape (data/news_truthful.py);
    "items": a benchmark (any --data spec)."""
    if not data.startswith("news:"):  # Study A's news formats go to tools/translate_news.py
        from polyunlearn.data.resolve import resolve_data

        if columns:
            raise ValueError("--columns applies to news: data only")
        items = resolve_data(data)  # loaded before the model: a bad --data fails in a second
        return "items", items, sorted({it.language for it in items}), "items"
    from polyunlearn.data.news_truthful import HUB_ID, load_news_truthful, parse_columns
    from polyunlearn.data.resolve import strict_from_env
    from polyunlearn.data.schema import describe_skipped
    from polyunlearn.studies.study_a_data import data_kind

    source_id = data.removeprefix("news:")
    mapping = parse_columns(columns)
    if data_kind(source_id, mapping) == "keys":  # polyunlearn's news table (a `kind` column)
        from polyunlearn.data.news import load_news_file

        if mapping:
            raise ValueError("--columns maps news-truthful columns; a polyunlearn news table has its own names")
        table = load_news_file(source_id)
        return "table", table, list(dict.fromkeys(s.language for s in table[0])), "story"
    skipped: list = []
    corpus = load_news_truthful(
        source_id,
        language=None if source_id == HUB_ID else source,
        columns=mapping,
        strict=strict_from_env(),
        skipped=skipped,
    )
    if skipped:
        from rich.markup import escape

        console.print(f"[yellow]warning:[/yellow] {escape(describe_skipped(skipped))}")
    return "news", corpus, corpus.languages, "story"


def _translate_dry_run(data: str, columns: str | None, source: str, targets: list[str], model: str, chunk_size: int):
    """`translate --dry-run`: the data-side checks of the run (the same loader: source present,
    targets not in the data yet), the translation model's place (a local folder, or the hub
    cache), nothing loaded."""
    from polyunlearn.core import hubcache
    from polyunlearn.core.models import looks_like_path
    from polyunlearn.data.loaders import NotCached
    from polyunlearn.tools.translate import check_targets

    try:
        kind, loaded, present, what = _translation_source(data, columns, source)
    except NotCached as e:
        present = None
        console.print(f"not checked: the data {e} (its languages)", markup=False)
    if present is not None:
        check_targets(source, targets, present, chunk_size, what)
        n = len(loaded[0]) if kind == "table" else len(loaded.stories) if kind == "news" else len(loaded)
        console.print(
            f"data: {n} rows in {', '.join(present)}; would translate {source} -> {', '.join(targets)}", markup=False
        )
    if looks_like_path(model):
        if not Path(model).is_dir():
            raise ValueError(f"--model {model}: no such folder")
        console.print(f"translation model {model}: a local folder", markup=False)
    else:
        console.print(f"translation model {model}: {hubcache.model_state(model)}", markup=False)
    console.print("dry run: every input checked is valid; nothing loaded", markup=False)
