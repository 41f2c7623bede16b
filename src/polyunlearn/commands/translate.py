"""`polyunlearn translate`: extend a benchmark to new languages with a seq2seq translation model
(NLLB or M2M100 class), resumable, with a round-trip chrF check per item. The work is in
polyunlearn.translate; this module only loads the model and maps options to it.

    polyunlearn translate --data bench.jsonl --to fr,ja,ko --model facebook/nllb-200-distilled-600M --out runs/tr
    polyunlearn translate --data tofu:forget10 --to fr --model facebook/m2m100_418M --out runs/tofu_fr
    polyunlearn learn --data runs/tr/benchmark.jsonl --out runs/learned      # use the result
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from polyunlearn.cli import app, console, friendly_errors
from polyunlearn.data.resolve import DATA_HELP


@app.command("translate")
@friendly_errors
def translate(
    to: str = typer.Option(..., "--to", help="Target languages, comma list (codes of `polyunlearn languages`)."),
    model: str = typer.Option(..., help="Seq2seq translation model: HF id or local folder (NLLB or M2M100 class; safetensors weights)."),
    out: Path = typer.Option(..., help="Output folder: benchmark.jsonl, roundtrip.csv, summary.csv, chunks/ (a rerun resumes it)."),
    data: str = typer.Option(..., help="The benchmark to extend: " + DATA_HELP),
    source: str = typer.Option("en", help="Language of the items to translate (others in the data are copied as they are)."),
    code_style: Optional[str] = typer.Option(None, help="Language codes of the model: 'nllb' (fra_Latn) or 'm2m100' (__fr__); default from its vocabulary."),
    batch_size: int = typer.Option(16, help="Texts per generate call."),
    chunk_size: int = typer.Option(64, help="Source items per resumable chunk."),
    max_new_tokens: int = typer.Option(256),
    num_beams: int = typer.Option(1, help="Beam size (1 = greedy)."),
    roundtrip: bool = typer.Option(True, "--roundtrip/--no-roundtrip", help="Translate back and score chrF per item (doubles the work)."),
    threshold: float = typer.Option(50.0, help="Flag items whose mean round-trip chrF (0-100) is below this."),
    revision: Optional[str] = typer.Option(None, help="Model revision (branch, tag, commit or PR ref, e.g. one that has safetensors weights)."),
    bf16: bool = typer.Option(False, help="Load the model in bf16 (GPU)."),
    device: Optional[str] = typer.Option(None, help="torch device; default cuda when available, else cpu."),
    trust_remote_code: bool = typer.Option(False),
    threads: Optional[int] = typer.Option(None, help="torch CPU threads."),
):
    """Translate a benchmark (every field, ids/splits kept) into new languages, resumably."""
    import torch

    from polyunlearn.data.resolve import resolve_data
    from polyunlearn.languages import parse_langs
    from polyunlearn.matrices import console_table
    from polyunlearn.models import ModelLoadError
    from polyunlearn.translate import Translator, translate_benchmark

    if threads:
        torch.set_num_threads(threads)
    targets = parse_langs(to)
    items = resolve_data(data)  # loaded before the model: a bad --data fails in a second
    try:
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(model, revision=revision, trust_remote_code=trust_remote_code)
        net = AutoModelForSeq2SeqLM.from_pretrained(
            model, revision=revision, trust_remote_code=trust_remote_code, use_safetensors=True,
            dtype=torch.bfloat16 if bf16 else torch.float32,
        )
    except Exception as e:  # noqa: BLE001 - re-raised with the model named
        raise ModelLoadError(f"could not load translation model {model!r}: {e}") from e
    net.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    tr = Translator(net, tok, code_style=code_style, batch_size=batch_size, max_new_tokens=max_new_tokens, num_beams=num_beams)
    result = translate_benchmark(items, tr, out, targets, source=source, chunk_size=chunk_size, roundtrip=roundtrip, threshold=threshold, log=console.print)
    console.print(console_table(result.summary.to_dict("records"), f"translation from {source} ({tr.style} codes)"))
    console.print(f"{len(result.items)} items -> [bold]{(out / 'benchmark.jsonl').resolve()}[/bold]; per-item round trip: {out / 'roundtrip.csv'}")
