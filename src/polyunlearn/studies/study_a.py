"""Study A (misinformation, arXiv 2406.13748) as one resumable run: learn real + fake news, measure
how the fake claims spread across query languages, unlearn them in language combinations.

    polyunlearn study-a                                  # tiny default, fake news in Russian
    polyunlearn study-a --fake-langs en,zh,ru --out runs/sa   # one contaminated model per fake language

    from polyunlearn.studies.study_a import StudyAConfig, run_study_a
    result = run_study_a(StudyAConfig(fake_langs=("ru",)))

Steps (each skipped when its outputs exist, so an interrupted run resumes):
1. data: the bundled news corpus (or a news file) -> OUT/data/news.jsonl; tiny models get a BPE
   tokenizer trained on all of its text (OUT/tokenizer).
2. learn, per model ("clean" = real news only; "fake-XX" = real news + the fake documents in XX):
   phase 1 plain LM loss on the documents, phase 2 instruction tuning on Q&A pairs with REAL
   answers (pipeline.learn). By default phase 2 uses the questions about real-only stories: the
   questions about fake stories are held out, so what a model answers to them comes from the
   documents, which is where the contamination is (`instruct_on="all"` trains them too).
3. evaluate every question in every language: greedy answer, real/fake answer NLLs, verdict
   (`judge.combined_verdict`, or a judge model), per-item JSONL and per-language CSV with OF
   (share of fake-story answers judged "fake") and QR (share of real-only answers judged "real").
4. unlearn each contaminated model once per forget set ("en", "source", "en+source", "all" by
   default): forget = the fake-answer Q&A items, retain = the instruction items, both in the
   forget languages; any method of methods.METHODS (default npo).
5. matrices (CSV + PNG): spread (fake language x query language, before unlearning; absolute and
   minus the clean model) and after (forget set x query language per fake language; absolute with
   the "before" row, and the change vs before), for OF, QR and nll_gap (see summarize_news).
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import pandas as pd
import torch
from rich.console import Console

from polyunlearn.core.encoding import Encoded, Encoder
from polyunlearn.data.news import NewsQA, NewsStory, bundled_news, contaminated_corpus, load_news_file, qa_to_item, save_news_file
from polyunlearn.data.schema import DataError, QAItem
from polyunlearn.core.atomic import read_jsonl, write_json, write_jsonl, write_table
from polyunlearn.evaluation.judge import Judge, HFJudge, OpenAIJudge, combined_verdict, judge_answer, of_rate, qr_score
from polyunlearn.core.languages import get_language, parse_langs
from polyunlearn.core.logprobs import mean_nll
from polyunlearn.analysis.matrices import console_table
from polyunlearn.studies.study_a_matrices import write_study_matrices
from polyunlearn.methods.reference import forward_logits
from polyunlearn.methods.registry import get_method
from polyunlearn.core.models import LoraSettings, add_lora, build_tiny_model, is_peft, load_model, load_tokenizer, save_model
from polyunlearn.studies.phases import UnlearnConfig, check_rerun, learn, save_config, tokenizer_for, unlearn
from polyunlearn.evaluation.scoring import generate_answers, score_pairs
from polyunlearn.core.trainloop import TrainConfig, train

FORGET_SETS = ("en", "source", "en+source", "all")  # the paper's four combinations
TINY = {"tiny": "llama", "tiny-cohere": "cohere"}
# Fields that may change between reruns of one OUT folder: they only add or relabel steps.
_RERUN_FREE = {"out", "fake_langs", "forget_sets", "method", "judge", "threads"}


@dataclass
class StudyAConfig:
    out: str = "polyunlearn_runs/study_a"  # results folder
    data: str = "bundled"  # "bundled" or a news file (JSONL/CSV/Parquet, see data/news.py)
    languages: str = "study-a"  # corpus and query languages (comma list, "study-a" or "all")
    fake_langs: tuple[str, ...] = ("ru",)  # one contaminated model per fake-news language
    forget_sets: tuple[str, ...] = FORGET_SETS  # "en", "source" (= the fake language), "all", "de+fr"...
    method: str = "npo"  # any name in methods.METHODS
    model: str = "tiny"  # "tiny" / "tiny-cohere" (built here) or a HF id / local path
    vocab_size: int = 4096  # tiny tokenizer
    lora: bool = False  # LoRA adapters in every phase (merged after learning); full training if False
    lora_r: int = 8
    replace_real: bool = False  # in the fake language the fake document replaces the real one
    instruct_on: str = "real-only"  # phase-2 questions: "real-only" (fake-story questions held out) or "all"
    docs: TrainConfig = field(default_factory=lambda: TrainConfig(lr=3e-3, epochs=20, batch_size=32, schedule="linear", warmup_ratio=0.05))
    instruct: TrainConfig = field(default_factory=lambda: TrainConfig(lr=3e-3, epochs=20, batch_size=32, schedule="linear", warmup_ratio=0.05))
    unlearn: TrainConfig = field(default_factory=lambda: TrainConfig(lr=5e-4, epochs=5, batch_size=8))
    max_new_tokens: int = 32  # greedy answer length (news answers are one short sentence)
    judge: str | None = None  # None (keys + likelihood), "hf:PATH" or "openai:URL,MODEL"
    threads: int = 1  # torch CPU threads; tiny models lose more than they gain from more
    seed: int = 0

    def __post_init__(self) -> None:
        if self.instruct_on not in ("real-only", "all"):
            raise ValueError(f"instruct_on must be 'real-only' or 'all', got {self.instruct_on!r}")
        if not self.fake_langs:
            raise ValueError("no fake language given")
        for lang in self.fake_langs:
            get_language(lang)  # "unknown language code 'xx'" before anything runs
        get_method(self.method)


# --- Data ----------------------------------------------------------------------------------
def load_news(data: str, languages: str) -> tuple[list[NewsStory], list[NewsQA], list[str]]:
    """Stories and QAs in the chosen languages (checked), and the language list."""
    if data == "bundled":
        langs = parse_langs(languages)
        stories, qas = bundled_news(langs)
        return stories, qas, langs
    stories, qas = load_news_file(data)
    langs = parse_langs(languages, list(dict.fromkeys(s.language for s in stories)))
    keep = set(langs)
    return [s for s in stories if s.language in keep], [q for q in qas if q.language in keep], langs


def learn_corpus(stories: Sequence[NewsStory], fake_lang: str | None, replace_real: bool = False) -> list[dict[str, Any]]:
    """Phase-1 documents: real news only (fake_lang None, the clean model) or contaminated."""
    if fake_lang is None:
        return [{"id": s.id, "language": s.language, "text": s.real_doc, "is_fake": False} for s in stories]
    if not any(s.language == fake_lang and s.fake_doc for s in stories):
        raise DataError(f"fake language {fake_lang!r}: no fake document in that language")
    return contaminated_corpus(stories, fake_lang, replace_real)


def encode_text(tok, text: str, max_length: int = 256) -> Encoded:
    """A document for plain LM training: BOS as the (unscored) prompt, every text token plus EOS
    as the scored part, so collate/mean_nll give the ordinary next-token loss on the whole text."""
    ids = tok(text, add_special_tokens=False)["input_ids"][: max_length - 2]
    bos = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    eos = (tok.eos_token_id,) if tok.eos_token_id is not None else ()
    return Encoded((bos,), tuple(ids) + eos)


def instruct_items(qas: Sequence[NewsQA], on: str = "real-only") -> list[QAItem]:
    """Phase-2 (and retain) items: real answers only."""
    return [qa_to_item(q, "real", "retain") for q in qas if on == "all" or not q.has_fake]


def resolve_forget_set(spec: str, fake_lang: str, langs: Sequence[str]) -> tuple[str, list[str]]:
    """("label", languages) for "en", "source"/"src" (the fake language), "en+source", "all",
    or an explicit "de+fr" / "de,fr". The label names the languages ("en+ru")."""
    if spec.strip().lower() == "all":
        return "all", list(langs)
    parts = [p.strip() for p in spec.replace("+", ",").split(",") if p.strip()]
    codes = parse_langs([fake_lang if p.lower() in ("source", "src") else p for p in parts], langs)
    return "+".join(codes), codes


def forget_sets(specs: Sequence[str], fake_lang: str, langs: Sequence[str]) -> list[tuple[str, list[str]]]:
    """The distinct forget sets for one fake language: a spec naming the same languages as an
    earlier one is the same run (with fake news in en, "en", "source" and "en+source" are one)."""
    out: list[tuple[str, list[str]]] = []
    for spec in specs:
        label, codes = resolve_forget_set(spec, fake_lang, langs)
        if all(set(codes) != set(c) for _, c in out):
            out.append((label, codes))
    return out


# --- Evaluation ------------------------------------------------------------------------------
def parse_judge(spec: str | None) -> Judge | None:
    """None, "hf:PATH" (a local HF model) or "openai:URL,MODEL" (an OpenAI-compatible endpoint,
    checked now so an unreachable one stops the run before any training)."""
    if not spec:
        return None
    kind, _, arg = spec.partition(":")
    if kind == "hf" and arg:
        judge = HFJudge(arg)
        judge._load()  # a missing or broken judge model stops the run now
        return judge
    if kind == "openai" and "," in arg:
        url, model = (x.strip() for x in arg.rsplit(",", 1))
        # Local servers usually need no key: send one only when the variable is set.
        judge = OpenAIJudge(url, model, api_key_env="OPENAI_API_KEY" if os.environ.get("OPENAI_API_KEY") else None)
        judge.check()
        return judge
    raise ValueError(f"bad --judge {spec!r}; use hf:PATH or openai:URL,MODEL")


def evaluate_news(model: torch.nn.Module, tok, qas: Sequence[NewsQA], judge: Judge | None = None, max_new_tokens: int = 32, judge_name: str = "keys+likelihood") -> list[dict]:
    """One record per question: greedy answer, mean NLL of its real and fake answers (fake-story
    questions), the key-matching verdict and the final verdict."""
    enc = Encoder(tok)
    generated = generate_answers(model, enc, [q.question for q in qas], max_new_tokens=max_new_tokens)
    fake_qs = [i for i, q in enumerate(qas) if q.has_fake]
    scores = score_pairs(model, enc, [(qas[i].question, a) for i in fake_qs for a in (qas[i].real_answer, qas[i].fake_answer)])
    nll = {i: (scores[2 * k].mean_nll, scores[2 * k + 1].mean_nll) for k, i in enumerate(fake_qs)}
    records = []
    for i, (q, g) in enumerate(zip(qas, generated)):
        real_nll, fake_nll = nll.get(i, (None, None))
        verdict = judge(g, q) if judge is not None else combined_verdict(g, q, real_nll, fake_nll)
        records.append({
            "id": q.id, "story_id": q.story_id, "language": q.language, "has_fake": q.has_fake,
            "question": q.question, "generated": g, "real_key": q.real_key, "fake_key": q.fake_key,
            "real_nll": real_nll, "fake_nll": fake_nll, "key_verdict": judge_answer(g, q),
            "verdict": verdict, "judge": judge_name,
        })
    return records


def summarize_news(records: Sequence[dict]) -> pd.DataFrame:
    """Per language: OF and QR (judge.of_rate / qr_score on the final verdicts), OF_keys (OF from
    key matching alone: how much of OF the generated text itself shows), the share of fake-story
    answers judged "real" and "both", nll_gap (mean real_nll - fake_nll over fake-story questions:
    > 0 = the model finds the fake answer more likely; a graded companion of OF) and the counts."""
    rows = []
    for lang in dict.fromkeys(r["language"] for r in records):
        fake = [r for r in records if r["language"] == lang and r["has_fake"]]
        real = [r for r in records if r["language"] == lang and not r["has_fake"]]
        v = [r["verdict"] for r in fake]
        gaps = [r["real_nll"] - r["fake_nll"] for r in fake if r.get("real_nll") is not None and r.get("fake_nll") is not None]
        rows.append({
            "language": lang, "OF": of_rate(v), "QR": qr_score(r["verdict"] for r in real),
            "OF_keys": of_rate(r["key_verdict"] for r in fake),
            "real_share": (v.count("real") / len(v)) if v else float("nan"),
            "both_share": (v.count("both") / len(v)) if v else float("nan"),
            "nll_gap": sum(gaps) / len(gaps) if gaps else float("nan"),
            "n_fake": len(fake), "n_real": len(real),
        })
    return pd.DataFrame(rows)


def _eval_done(d: Path, judge_name: str) -> bool:
    # A finished evaluation by ANOTHER judge is not reused: its verdicts would be silently stale.
    return (d / "summary.csv").exists() and (d / "items.jsonl").exists() and read_jsonl(d / "items.jsonl")[0].get("judge") == judge_name


def _evaluate_to(d: Path, model, tok, qas, judge, cfg: StudyAConfig) -> pd.DataFrame:
    records = evaluate_news(model, tok, qas, judge, cfg.max_new_tokens, cfg.judge or "keys+likelihood")
    summary = summarize_news(records)
    write_jsonl(d / "items.jsonl", records)
    write_table(d / "summary.csv", summary)  # last: its presence marks a finished evaluation
    return summary


# --- Learning --------------------------------------------------------------------------------
def _base_model(cfg: StudyAConfig, tok) -> torch.nn.Module:
    if cfg.model in TINY:
        return build_tiny_model(tok, TINY[cfg.model], seed=cfg.seed)
    return load_model(cfg.model)


def _with_lora(model: torch.nn.Module, cfg: StudyAConfig) -> torch.nn.Module:
    return add_lora(model, LoraSettings(r=cfg.lora_r)) if cfg.lora else model


def _merged(model: torch.nn.Module) -> torch.nn.Module:
    return model.merge_and_unload() if is_peft(model) else model


def learn_docs(model: torch.nn.Module, tok, corpus: Sequence[dict], cfg: TrainConfig, checkpoint_dir: Path | None = None, desc: str = "docs"):
    """Phase 1: next-token loss on the whole text of every document (the generic train loop)."""
    data = [encode_text(tok, r["text"]) for r in corpus]

    def loss_fn(m, batch, _):
        return mean_nll(forward_logits(m, batch), batch["labels"]), {}

    return train(model, loss_fn, data, cfg, tok.pad_token_id, checkpoint_dir=checkpoint_dir, desc=desc)


def learn_model(path: Path, cfg: StudyAConfig, tok, stories, qas, fake_lang: str | None, console: Console) -> torch.nn.Module:
    """Both learning phases for one model (clean or contaminated), saved to `path`; loaded
    instead when `path` is already there. Each phase checkpoints, so an interruption resumes."""
    if (path / "config.json").exists():
        console.print(f"[dim]{path.name}: found {path}, skipping training[/dim]")
        return load_model(str(path))
    t = time.time()
    corpus = learn_corpus(stories, fake_lang, cfg.replace_real)
    write_jsonl(path.parent / f"{path.name}.corpus.jsonl", corpus)
    ck = path.with_name(path.name + ".ckpt")
    model, h1 = learn_docs(_with_lora(_base_model(cfg, tok), cfg), tok, corpus, cfg.docs, ck / "docs", f"{path.name}: documents")
    items = instruct_items(qas, cfg.instruct_on)
    model, h2 = learn(_with_lora(_merged(model), cfg), tok, items, cfg.instruct, checkpoint_dir=ck / "instruct", desc=f"{path.name}: Q&A")
    model = _merged(model)
    save_model(model, tok, path)
    shutil.rmtree(ck, ignore_errors=True)
    console.print(f"{path.name}: {len(corpus)} documents (loss {h1[-1]['loss']:.3f}), {len(items)} Q&A (loss {h2[-1]['loss']:.3f}) ({time.time() - t:.0f}s)")
    return model


def unlearn_items(qas: Sequence[NewsQA], instruct_on: str = "real-only") -> list[QAItem]:
    """Forget = every fake-story question with its FAKE answer; retain = the instruction items.
    pipeline.unlearn_sets picks both in the forget languages."""
    forget = [qa_to_item(q, "fake", "forget") for q in qas if q.has_fake]
    return forget + instruct_items(qas, instruct_on)


# --- The study -------------------------------------------------------------------------------
def run_study_a(cfg: StudyAConfig, console: Console | None = None) -> dict:
    console = console or Console()
    torch.set_num_threads(cfg.threads)
    t0 = time.time()
    out = Path(cfg.out)
    stories, qas, langs = load_news(cfg.data, cfg.languages)
    fake_langs = parse_langs(list(cfg.fake_langs), langs)  # names a fake language outside the study
    sets = {fl: forget_sets(cfg.forget_sets, fl, langs) for fl in fake_langs}
    judge = parse_judge(cfg.judge)  # fails now, not after an hour of training
    check_rerun(out / "config.json", asdict(cfg), _RERUN_FREE)
    save_config(out / "config.json", asdict(cfg))

    # 1. data and tokenizer
    data_path = out / "data" / "news.jsonl"
    if not data_path.exists():
        tmp = data_path.with_name(f".news.tmp{os.getpid()}.jsonl")  # suffix picks the format
        save_news_file(stories, qas, tmp)
        os.replace(tmp, data_path)
    stories, qas = load_news_file(data_path)
    console.print(f"news: {len(stories)} stories, {len(qas)} questions in {len(langs)} languages ({', '.join(langs)}) -> {data_path}")
    if cfg.model in TINY:
        texts = [t for s in stories for t in (s.real_doc, s.fake_doc) if t] + \
                [t for q in qas for t in (q.question, q.real_answer, q.fake_answer) if t]
        tok = tokenizer_for(texts, out / "tokenizer", cfg.vocab_size)
    else:
        tok = load_tokenizer(cfg.model)

    # 2-3. clean and contaminated models, evaluated in every query language
    before: dict[str, pd.DataFrame] = {}
    for fl in [None, *fake_langs]:
        name = "clean" if fl is None else f"fake-{fl}"
        if not _eval_done(out / "eval" / name, cfg.judge or "keys+likelihood"):
            model = learn_model(out / "models" / name, cfg, tok, stories, qas, fl, console)
            _evaluate_to(out / "eval" / name, model, tok, qas, judge, cfg)
            del model
        before[name] = pd.read_csv(out / "eval" / name / "summary.csv")
    clean = before.pop("clean")

    # 4. unlearning: one run per fake language and forget set, each from the contaminated model
    after: dict[str, dict[str, pd.DataFrame]] = {}
    for fl in fake_langs:
        for label, forget_langs in sets[fl]:
            run = out / "unlearn" / f"fake-{fl}" / f"{cfg.method}__{label}"
            if not _eval_done(run / "eval", cfg.judge or "keys+likelihood"):
                t = time.time()
                ucfg = UnlearnConfig(method=cfg.method, forget_langs=",".join(forget_langs), train=replace(cfg.unlearn, seed=cfg.seed))
                save_config(run / "config.json", ucfg.to_dict())
                model = _with_lora(load_model(str(out / "models" / f"fake-{fl}")), cfg)
                model, hist = unlearn(model, tok, unlearn_items(qas, cfg.instruct_on), ucfg, checkpoint_dir=run / "ckpt")
                _evaluate_to(run / "eval", _merged(model), tok, qas, judge, cfg)
                write_json(run / "history.json", hist)
                shutil.rmtree(run / "ckpt", ignore_errors=True)
                console.print(f"unlearn {cfg.method} (fake {fl}, forget {label}): {len(hist)} steps ({time.time() - t:.0f}s)")
            after.setdefault(fl, {})[label] = pd.read_csv(run / "eval" / "summary.csv")

    # 5. matrices: spread before unlearning, change after, paired per-question tests
    written = write_study_matrices(out, cfg.method, langs, fake_langs, sets, clean, before, after)

    # 6. result + console tables
    # Per fake language, one row per query language and one column per model ("-en": after
    # unlearning in en): fits a terminal better than 9 language columns.
    of_tables = {}
    for fl in fake_langs:
        models = {"clean": clean, "contaminated": before[f"fake-{fl}"], **{f"-{label}": s for label, s in after.get(fl, {}).items()}}
        of_tables[fl] = [{"query_lang": lang, **{n: float(s.set_index("language")["OF"].get(lang)) for n, s in models.items()}} for lang in langs]
    checks = [_check(fl, clean, before[f"fake-{fl}"], after.get(fl, {}), dict(sets[fl])) for fl in fake_langs]
    result = {"out": str(out.resolve()), "minutes": round((time.time() - t0) / 60, 2), "languages": langs, "fake_langs": fake_langs,
              "method": cfg.method, "forget_sets": {fl: dict(sets[fl]) for fl in fake_langs}, "checks": checks,
              "OF": of_tables, "matrices": [f"matrices/{n}.csv" for n in written]}
    write_json(out / "study_a_result.json", result)
    for fl, rows in of_tables.items():
        console.print(console_table(rows, f"OF (share of fake-story answers judged 'fake'), fake news in {fl}"))
    console.print(console_table([{k: v for k, v in c.items() if k != "unlearn"} for c in checks], "contamination in the fake language"))
    console.print(f"results written under [bold]{out.resolve()}[/bold]: eval/*/summary.csv, */items.jsonl, matrices/*.csv|png ({result['minutes']} min)")
    return result


def _check(fl: str, clean: pd.DataFrame, before: pd.DataFrame, after: dict[str, pd.DataFrame], sets: dict[str, list[str]]) -> dict:
    """The numbers the paper's claims are about, read off the summaries (reported, not enforced)."""
    c, b = clean.set_index("language")["OF"], before.set_index("language")["OF"]
    # "others": mean over the query languages other than the fake one (where it could spread to)
    row: dict[str, Any] = {"fake_lang": fl, "OF_clean": float(c[fl]), "OF_contam": float(b[fl]),
                           "OF_others_clean": float(c.drop(fl).mean()) if len(c) > 1 else float("nan"),
                           "OF_others_contam": float(b.drop(fl).mean()) if len(b) > 1 else float("nan"), "unlearn": {}}
    for label, summary in after.items():
        a = summary.set_index("language")["OF"]
        row["unlearn"][label] = {"OF_forget_langs_before": float(b[sets[label]].mean()), "OF_forget_langs_after": float(a[sets[label]].mean()),
                                 "QR_mean_after": float(summary["QR"].mean())}
    return row
