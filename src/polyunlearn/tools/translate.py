"""Extend a QA benchmark to new languages with a Hugging Face seq2seq translation model (NLLB or
M2M100 class), with a round-trip chrF score per item to flag doubtful translations.

    polyunlearn translate --data bench.jsonl --to fr,ja --model facebook/nllb-200-distilled-600M --out runs/tr

    from polyunlearn.tools.translate import Translator, translate_benchmark
    tr = Translator(model, tokenizer)                  # code style detected from the vocabulary
    result = translate_benchmark(items, tr, "runs/tr", targets=["fr", "ja"], source="en")
    result.items          # source + translated QAItems (same ids and splits in every language)
    result.report         # one row per translated item: roundtrip_chrf, flagged, flags

Language codes: NLLB names languages by FLORES-200 codes (`Language.nllb`, "fra_Latn"), which are
tokens of its vocabulary; M2M100 by ISO 639-1 codes written as tokens "__fr__". Both models read
`[source-language token] text </s>` and are told the output language by forcing the first
generated token to the target-language token; the Translator builds those inputs itself, so any
seq2seq model + tokenizer whose vocabulary has the language tokens works (the tests use a tiny
random M2M100 with a tokenizer built in-process; M2M100's own tokenizer needs sentencepiece).

Every field is translated: question, answer, paraphrased_answer and each perturbed_answer, so
Truth Ratio works in the new language; ids, splits and the number of perturbed answers are kept.
Round trip: each translated field is translated back to the source language and compared with
the original by chrF (sacrebleu.sentence_chrf, 0-100); an item's `roundtrip_chrf` is the mean
over its fields, and the item is flagged when it is below `threshold`. A round trip passes two
translations, so it under-estimates quality; it finds broken items, it does not grade good ones.
An item with an empty translated field is left out of the benchmark (flag "empty:<field>").

Resumable: work is cut into chunks of `chunk_size` source items; each (language, chunk) result is
written atomically to OUT/chunks/<lang>/chunk-NNNNN.jsonl as soon as it is done, and a rerun skips
chunks whose file exists. OUT/manifest.json records the source data fingerprint, the model and
the settings; a rerun with different ones is refused instead of mixing stale results in (adding
target languages or changing the threshold is fine). Outputs: OUT/benchmark.jsonl (source +
translations), OUT/roundtrip.csv (per item), OUT/summary.csv (per language).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from polyunlearn.core.atomic import read_json, read_jsonl, write_json, write_jsonl, write_table
from polyunlearn.core.languages import get_language
from polyunlearn.data.schema import DataError, QAItem, item_from_dict

CODE_STYLES = ("nllb", "m2m100")
FIELDS = ("question", "answer", "paraphrased_answer", "perturbed_answer")
# Manifest keys that may change between runs of one folder: they do not change any chunk.
_RERUN_FREE = {"targets", "threshold"}


def lang_token(lang: str, style: str) -> str:
    """The vocabulary token naming `lang` for a model of code style "nllb" or "m2m100"."""
    language = get_language(lang)
    if style == "nllb":
        return language.nllb
    if style == "m2m100":
        return f"__{language.code}__"
    raise ValueError(f"unknown language-code style {style!r}; choose from {', '.join(CODE_STYLES)}")


def detect_style(tokenizer) -> str:
    """ "nllb" when the vocabulary has FLORES-200 tokens, "m2m100" when it has "__en__" tokens."""
    vocab = tokenizer.get_vocab()
    if "eng_Latn" in vocab:
        return "nllb"
    if "__en__" in vocab:
        return "m2m100"
    raise ValueError(
        "cannot tell the tokenizer's language codes (no 'eng_Latn' or '__en__' token); pass code_style='nllb' or 'm2m100'"
    )


class Translator:
    """Batched greedy (or beam) translation with a seq2seq model and language tokens."""

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer,
        code_style: str | None = None,
        batch_size: int = 16,
        max_new_tokens: int = 256,
        num_beams: int = 1,
        max_input_tokens: int = 512,
        generate_kwargs: dict[str, Any] | None = None,
    ):
        if not getattr(model.config, "is_encoder_decoder", False):
            raise ValueError(f"{type(model).__name__} is not an encoder-decoder (seq2seq) model")
        self.model = model.eval()
        self.tok = tokenizer
        self.style = code_style or detect_style(tokenizer)
        lang_token("en", self.style)  # validates the style
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.num_beams = num_beams
        self.max_input_tokens = max_input_tokens
        self.generate_kwargs = dict(generate_kwargs or {})
        self.name = str(getattr(model.config, "_name_or_path", "") or type(model).__name__)

    def settings(self) -> dict[str, Any]:
        """What decides this translator's output, for a translation folder's manifest."""
        return {
            "model": self.name,
            "code_style": self.style,
            "num_beams": self.num_beams,
            "max_new_tokens": self.max_new_tokens,
            "max_input_tokens": self.max_input_tokens,
            "generate_kwargs": self.generate_kwargs,
        }

    def lang_id(self, lang: str) -> int:
        token = lang_token(lang, self.style)
        tid = self.tok.convert_tokens_to_ids(token)
        if tid is None or tid == self.tok.unk_token_id:
            raise DataError(f"the translation model's vocabulary has no token {token!r} for language {lang!r}")
        return tid

    @torch.inference_mode()
    def translate(self, texts: Sequence[str], src: str, tgt: str) -> list[str]:
        """Translations of `texts` from `src` to `tgt`, in order. Identical texts are translated
        once; batches hold texts of similar length, so little padding is computed."""
        unique = list(dict.fromkeys(texts))
        if not unique:
            return []
        src_id, tgt_id = self.lang_id(src), self.lang_id(tgt)
        eos, pad = self.tok.eos_token_id, self.tok.pad_token_id
        body = self.tok(unique, add_special_tokens=False)["input_ids"]
        # NLLB (non-legacy) and M2M100 both read [src_lang] tokens </s>.
        seqs = [[src_id, *ids[: self.max_input_tokens - 2], eos] for ids in body]
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
        dev = next(self.model.parameters()).device
        done: dict[str, str] = {}
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            T = max(len(seqs[i]) for i in idx)
            ids = torch.full((len(idx), T), pad, dtype=torch.long)
            att = torch.zeros((len(idx), T), dtype=torch.long)
            for row, i in enumerate(idx):  # right padding: the encoder masks it
                ids[row, : len(seqs[i])] = torch.tensor(seqs[i])
                att[row, : len(seqs[i])] = 1
            out = self.model.generate(
                input_ids=ids.to(dev),
                attention_mask=att.to(dev),
                forced_bos_token_id=tgt_id,
                max_new_tokens=self.max_new_tokens,
                num_beams=self.num_beams,
                do_sample=False,
                **self.generate_kwargs,
            )
            for row, i in enumerate(idx):
                done[unique[i]] = self.tok.decode(out[row], skip_special_tokens=True).strip()
        return [done[t] for t in texts]


# ----------------------------------------------------------------------------- benchmark


@dataclass
class TranslationResult:
    items: list[QAItem]  # the source items + every translation that has no empty field
    report: pd.DataFrame  # one row per translated item (kept or not)
    summary: pd.DataFrame  # one row per target language
    out: Path


def item_fields(item: QAItem) -> list[tuple[str, str]]:
    """(field label, text) of every text of an item: question, answer, paraphrased_answer (when
    present), perturbed_answer[0..k-1]."""
    fields = [("question", item.question), ("answer", item.answer)]
    if item.paraphrased_answer:
        fields.append(("paraphrased_answer", item.paraphrased_answer))
    fields += [(f"perturbed_answer[{k}]", p) for k, p in enumerate(item.perturbed_answer)]
    return fields


def translate_chunk(
    items: Sequence[QAItem], translator: Translator, source: str, target: str, roundtrip: bool = True
) -> list[dict]:
    """Translated records of one chunk: the item's fields in `target`, plus per-field round-trip
    chrF (`chrf`: {field: score}) when `roundtrip`, and empty fields listed under `empty`."""
    from sacrebleu import sentence_chrf

    fields = [item_fields(it) for it in items]
    flat = [text for fs in fields for _, text in fs]
    forward = translator.translate(flat, source, target)
    back = translator.translate(forward, target, source) if roundtrip else None
    records: list[dict] = []
    k = 0
    for it, fs in zip(items, fields):
        rec: dict[str, Any] = {
            "id": it.id,
            "language": target,
            "split": it.split,
            "source_language": source,
            "perturbed_answer": [],
            "paraphrased_answer": "",
        }
        chrf: dict[str, float] = {}
        empty: list[str] = []
        for label, original in fs:
            text = forward[k]
            if label.startswith("perturbed_answer"):
                rec["perturbed_answer"].append(text)
            else:
                rec[label] = text
            if not text:
                empty.append(label)
            if back is not None:
                # An empty back-translation scores 0, which is what it deserves.
                chrf[label] = round(float(sentence_chrf(back[k], [original]).score), 2)
            k += 1
        rec["chrf"] = chrf
        rec["empty"] = empty
        records.append(rec)
    return records


def translate_benchmark(
    items: Sequence[QAItem],
    translator: Translator,
    out_dir: str | Path,
    targets: Sequence[str],
    source: str = "en",
    chunk_size: int = 64,
    roundtrip: bool = True,
    threshold: float = 50.0,
    log: Callable[[str], None] | None = None,
) -> TranslationResult:
    """Translate the `source`-language items into every target (see the module docstring)."""
    out = Path(out_dir)
    src_items = [it for it in items if it.language == source]
    targets = check_request(translator, source, targets, {it.language for it in items}, chunk_size)
    _check_manifest(
        out,
        {"source_language": source, "source_sha256": _fingerprint(src_items), "chunk_size": chunk_size}
        | translator.settings()
        | {"roundtrip": roundtrip, "targets": targets, "threshold": threshold},
    )
    records = translate_in_chunks(
        out,
        src_items,
        [it.id for it in src_items],
        targets,
        chunk_size,
        lambda chunk, target: translate_chunk(chunk, translator, source, target, roundtrip),
        name=("chunk", "items"),
        log=log,
    )
    return _assemble(out, items, records, threshold)


def check_targets(
    source: str, targets: Sequence[str], present: set[str] | Sequence[str], chunk_size: int, what: str = "items"
) -> list[str]:
    """The target codes, after refusing what needs the data only (no model: the CLI calls it
    before loading one): no source-language `what` in the data (`present`: its languages), no or
    clashing targets (a target already present, or the source), a chunk size below 1."""
    codes = [get_language(t).code for t in targets]
    if source not in present:
        raise DataError(f"no {what} in the source language {source!r}; languages present: {', '.join(sorted(present))}")
    if not codes:
        raise DataError("no target languages")
    clash = [t for t in codes if t == source or t in present]
    if clash:
        raise DataError(
            f"target language(s) {', '.join(clash)} already in the data; drop them from --to or from the data"
        )
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    return codes


def check_request(
    translator: Translator,
    source: str,
    targets: Sequence[str],
    present: set[str] | Sequence[str],
    chunk_size: int,
    what: str = "items",
) -> list[str]:
    """`check_targets`, then a language the model has no token for."""
    codes = check_targets(source, targets, present, chunk_size, what)
    for t in [source, *codes]:
        translator.lang_id(t)  # fail before any work on a language the model lacks
    return codes


def translate_in_chunks(
    out: Path,
    units: Sequence[Any],
    ids: Sequence[str],
    targets: Sequence[str],
    chunk_size: int,
    translate: Callable[[Sequence[Any], str], list[dict]],
    name: tuple[str, str],
    log: Callable[[str], None] | None = None,
) -> list[dict]:
    """The resumable loop of a translation folder: per target, `units` in chunks of `chunk_size`,
    each chunk's records (from translate(chunk, target)) in OUT/chunks/<target>/<file>-<k>.jsonl,
    written atomically, so an interrupted run redoes at most one chunk. A chunk file whose ids
    are not the chunk's (`ids`, aligned with `units`) is refused. `name`: (file stem, unit word)."""
    stem, what = name
    records: list[dict] = []
    n_chunks = (len(units) + chunk_size - 1) // chunk_size
    for target in targets:
        for c in range(n_chunks):
            chunk, chunk_ids = units[c * chunk_size : (c + 1) * chunk_size], ids[c * chunk_size : (c + 1) * chunk_size]
            path = out / "chunks" / target / f"{stem}-{c:05d}.jsonl"
            if path.exists():
                done = read_jsonl(path)
                if [r["id"] for r in done] != list(chunk_ids):  # a foreign or edited file
                    raise DataError(
                        f"{path}: holds other {what} than chunk {c} of the source data; remove {out} or use a new --out"
                    )
            else:
                done = translate(chunk, target)
                write_jsonl(path, done)  # atomic: a chunk file is complete or absent
                if log:
                    log(f"{target}: chunk {c + 1}/{n_chunks} ({len(chunk)} {what})")
            records += done
    return records


def _assemble(out: Path, items: Sequence[QAItem], records: list[dict], threshold: float) -> TranslationResult:
    from polyunlearn.data.loaders import save_items

    translated: list[QAItem] = []
    rows: list[dict] = []
    for r in records:
        scores = list(r["chrf"].values())
        mean = sum(scores) / len(scores) if scores else None
        flags = [f"empty:{f}" for f in r["empty"]]
        if mean is not None and mean < threshold:
            flags.append("low_chrf")
        if not r["empty"]:
            fields = {
                k: r[k]
                for k in ("id", "language", "split", "question", "answer", "paraphrased_answer", "perturbed_answer")
            }
            translated.append(item_from_dict(fields, where=f"translation {r['id']} ({r['language']})"))
        rows.append(
            {
                "id": r["id"],
                "language": r["language"],
                "split": r["split"],
                "roundtrip_chrf": mean,
                "roundtrip_min_chrf": min(scores) if scores else None,
                "flagged": bool(flags),
                "flags": ";".join(flags),
                "kept": not r["empty"],
            }
        )
    report = pd.DataFrame(rows)
    summary = pd.DataFrame(
        [
            {
                "language": lang,
                "items": len(g),
                "kept": int(g["kept"].sum()),
                "flagged": int(g["flagged"].sum()),
                "mean_roundtrip_chrf": float(g["roundtrip_chrf"].mean()) if g["roundtrip_chrf"].notna().any() else None,
            }
            for lang, g in report.groupby("language", sort=False)
        ]
    )
    all_items = list(items) + translated
    save_items(all_items, out / "benchmark.jsonl")
    write_table(out / "roundtrip.csv", report)
    write_table(out / "summary.csv", summary)
    return TranslationResult(all_items, report, summary, out)


def _fingerprint(items: Sequence[QAItem]) -> str:
    h = hashlib.sha256()
    for it in items:
        h.update(json.dumps(it.to_dict(), ensure_ascii=False, sort_keys=True).encode("utf-8"))
    return h.hexdigest()


def _check_manifest(out: Path, manifest: dict) -> None:
    path = out / "manifest.json"
    manifest = json.loads(json.dumps(manifest, default=str))  # compare as stored (tuples -> lists)
    if path.exists():
        old = read_json(path)
        changed = sorted(k for k in set(old) | set(manifest) if k not in _RERUN_FREE and old.get(k) != manifest.get(k))
        if changed:
            raise DataError(
                f"{out} holds a translation made with other {', '.join(changed)}; use a new --out (or remove it) instead of mixing results"
            )
    write_json(path, manifest)
