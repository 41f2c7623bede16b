"""Real-model readiness, on tiny random models built in-process (no network):

- learn -> unlearn (NPO) -> eval on both architectures the studies use, Llama and Cohere
  (Aya-Expanse), through the library and through the CLI;
- the chat-template path (format_prompt / Encoder use the template; learn and eval run with it);
- bf16: Accelerate's bf16 autocast works on CPU (torch.autocast("cpu", bfloat16)), and weights
  loaded with dtype bfloat16 train and score;
- gradient accumulation: batch 4 x 2 accumulation steps == batch 8;
- trust_remote_code is off unless asked for;
- saved checkpoints load with plain transformers (full) and peft (LoRA), safetensors only.
"""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest
import torch

from helpers.cli import cli, runner
from polyunlearn.core.encoding import Encoder
from polyunlearn.core.logprobs import sequence_logprob
from polyunlearn.core.models import (
    ModelLoadError,
    build_tiny_model,
    format_prompt,
    load_model,
    load_tokenizer,
    save_model,
    weights_dtype,
)
from polyunlearn.core.rundir import check_run_folder
from polyunlearn.core.trainloop import TrainConfig, train
from polyunlearn.data.loaders import save_items
from polyunlearn.evaluation.records import EvalConfig
from polyunlearn.methods.reference import forward_logits
from polyunlearn.pipeline.phases import UnlearnConfig, evaluate_to, learn, unlearn

LEARN = TrainConfig(lr=3e-3, epochs=25, batch_size=16, schedule="linear", warmup_ratio=0.05)
NO_GEN = EvalConfig(generate=False)


def _row(summary, lang: str) -> dict:
    return summary.set_index("language").loc[lang].to_dict()


def _cli(args: list[str]):
    result = cli(*args)
    assert result.exit_code == 0, f"{args[0]} failed ({result.exit_code}):\n{result.output}\n{result.exception!r}"
    return result


# --- library: learn -> unlearn -> eval on both architectures -------------------------------


@pytest.mark.parametrize("arch", ["llama", "cohere"])
def test_library_learn_npo_eval(arch, tokenizer, items, tmp_path):
    model = build_tiny_model(tokenizer, arch, seed=0)
    model, _ = learn(model, tokenizer, items, LEARN, progress=False)
    _, before = evaluate_to(tmp_path / "before", model, tokenizer, items, NO_GEN)
    # From ~1/600 per token (random), the facts must have been learned.
    assert _row(before, "en")["forget_prob"] > 0.5 and _row(before, "en")["retain_prob"] > 0.5

    # alpha 3: tiny models entangle facts of one template, so the retain term needs weight.
    cfg = UnlearnConfig(
        method="npo", forget_langs="en", alpha=3.0, train=TrainConfig(lr=1e-3, epochs=3, batch_size=4, seed=0)
    )
    model, hist = unlearn(model, tokenizer, items, cfg, progress=False)
    assert len(hist) == 9  # 10 English forget items, batch 4 -> 3 steps per epoch
    records, after = evaluate_to(tmp_path / "after", model, tokenizer, items, EvalConfig(max_new_tokens=12))

    b, a = _row(before, "en"), _row(after, "en")
    assert a["forget_prob"] < 0.5 * b["forget_prob"], (b, a)
    # Before, forget and retain facts were known equally well; the forget set is now hit harder.
    assert abs(b["forget_prob"] - b["retain_prob"]) < 0.05
    assert a["forget_prob"] < 0.75 * a["retain_prob"], (b, a)
    assert {r["language"] for r in records} == {"en", "fr"} and all("generated" in r for r in records)
    assert (tmp_path / "after" / "summary.csv").exists()


# --- the chat-template path ---------------------------------------------------------------

TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@pytest.fixture()
def chat_tokenizer(tokenizer):
    tok = copy.deepcopy(tokenizer)
    tok.chat_template = TEMPLATE
    return tok


def test_chat_template_used_by_format_prompt_and_encoder(chat_tokenizer, tokenizer):
    q = "Where is the Blue Tower?"
    assert format_prompt(chat_tokenizer, q) == "<s><|user|>Where is the Blue Tower?\n<|assistant|>"
    assert format_prompt(tokenizer, q) == "Question: Where is the Blue Tower?\nAnswer:"

    enc = Encoder(chat_tokenizer)
    ids = enc.prompt(q)
    # The template emits BOS itself: exactly one, at the start (no second one prepended).
    assert ids == tuple(
        chat_tokenizer("<s><|user|>Where is the Blue Tower?\n<|assistant|>", add_special_tokens=False)["input_ids"]
    )
    assert ids[0] == chat_tokenizer.bos_token_id and ids.count(chat_tokenizer.bos_token_id) == 1
    # With a template the answer follows the generation prompt directly (no leading space).
    ans = enc.answer("In Lyon.")
    assert ans == tuple(chat_tokenizer("In Lyon.", add_special_tokens=False)["input_ids"]) + (
        chat_tokenizer.eos_token_id,
    )


def test_learn_and_eval_with_chat_template(chat_tokenizer, items, tmp_path):
    model = build_tiny_model(chat_tokenizer, "cohere", seed=0)
    model, _ = learn(model, chat_tokenizer, items, TrainConfig(lr=3e-3, epochs=15, batch_size=16), progress=False)
    _, summary = evaluate_to(tmp_path / "eval", model, chat_tokenizer, items, EvalConfig(max_new_tokens=8))
    assert _row(summary, "en")["retain_prob"] > 0.2  # learned under the template prompt

    # The template travels with the saved tokenizer, and the CLI evaluates with it.
    save_model(model, chat_tokenizer, tmp_path / "model")
    assert load_tokenizer(str(tmp_path / "model")).chat_template == TEMPLATE
    save_items(items, tmp_path / "items.jsonl")
    _cli(
        [
            "eval",
            "--model",
            tmp_path / "model",
            "--data",
            tmp_path / "items.jsonl",
            "--out",
            tmp_path / "cli_eval",
            "--no-generate",
        ]
    )
    cli_summary = pd.read_csv(tmp_path / "cli_eval" / "summary.csv")
    assert _row(cli_summary, "en")["retain_prob"] == pytest.approx(_row(summary, "en")["retain_prob"], rel=1e-4)


# --- bf16 --------------------------------------------------------------------------------


def test_bf16_mixed_precision_step_on_cpu(tokenizer, items):
    """Accelerate supports bf16 autocast on CPU: the layers compute in bf16, the weights stay
    fp32 (Accelerate hands the outputs back in fp32, so we look inside, at a layer's output).
    Also checks that a bf16 run after an fp32 one in the same process is allowed."""
    enc = Encoder(tokenizer)
    data = [enc.encode(it.question, it.answer) for it in items[:8]]
    model = build_tiny_model(tokenizer, "cohere", seed=0)
    before = [p.detach().clone() for p in model.parameters()]
    seen: list[torch.dtype] = []
    model.model.layers[0].mlp.down_proj.register_forward_hook(lambda mod, args, out: seen.append(out.dtype))

    def loss_fn(m, batch, _):
        logp, n = sequence_logprob(forward_logits(m, batch).float(), batch["labels"])
        return -(logp / n).mean(), {}

    model, hist = train(
        model,
        loss_fn,
        data,
        TrainConfig(lr=1e-3, epochs=1, batch_size=4, mixed_precision="bf16"),
        tokenizer.pad_token_id,
        progress=False,
    )
    assert seen and all(d == torch.bfloat16 for d in seen)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(torch.isfinite(torch.tensor(h["loss"])) for h in hist)


def test_load_bfloat16_weights_train_and_score(learned, tokenizer, items, tmp_path):
    save_model(learned, tokenizer, tmp_path / "m")
    model = load_model(str(tmp_path / "m"), dtype="bfloat16")
    assert all(p.dtype == torch.bfloat16 for p in model.parameters())
    _, summary = evaluate_to(tmp_path / "eval", model, tokenizer, items, NO_GEN)
    assert _row(summary, "en")["retain_prob"] > 0.5  # bf16 rounding keeps what was learned
    before = [p.detach().clone() for p in model.parameters()]
    model, hist = learn(model, tokenizer, items[:8], TrainConfig(lr=1e-3, epochs=1, batch_size=4), progress=False)
    assert all(torch.isfinite(torch.tensor(h["loss"])) for h in hist)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_small_steps_survive_in_fp32_master_weights_not_in_bf16_weights(tokenizer, items):
    """Why `weights_dtype` keeps trained weights in fp32 under --bf16: one AdamW step of the
    spec's full fine-tuning lr (1e-5) moves almost every fp32 weight but is rounded away for
    most bf16 weights (measured: 99.98% vs 13.5% of the weights changed)."""
    base = build_tiny_model(tokenizer, "llama", seed=0)
    moved = {}
    for name, model in (("fp32", copy.deepcopy(base)), ("bf16", copy.deepcopy(base).to(torch.bfloat16))):
        before = [p.detach().clone() for p in model.parameters()]
        model, _ = learn(
            model,
            tokenizer,
            items[:8],
            TrainConfig(lr=1e-5, epochs=1, batch_size=8, mixed_precision="bf16"),
            progress=False,
        )
        moved[name] = sum(int((a != b).sum()) for a, b in zip(before, model.parameters())) / sum(
            a.numel() for a in before
        )
    assert moved["fp32"] > 0.95 and moved["bf16"] < 0.5, moved


def test_weights_dtype_rule(monkeypatch):
    assert weights_dtype(bf16=True, trains_weights=True) == "float32"  # fp32 master, bf16 autocast
    assert weights_dtype(bf16=True, trains_weights=False) == "bfloat16"  # LoRA base or eval
    assert weights_dtype(bf16=False, trains_weights=False) == "float32"
    assert weights_dtype(bf16=True, trains_weights=True, dtype="bfloat16") == "bfloat16"  # explicit wins
    with pytest.raises(ModelLoadError, match="unknown dtype 'half'"):
        weights_dtype(True, True, "half")
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")  # what `accelerate launch` sets for DeepSpeed
    assert weights_dtype(bf16=True, trains_weights=True) == "bfloat16"  # DeepSpeed keeps fp32 masters itself


# --- gradient accumulation ---------------------------------------------------------------


def test_grad_accum_matches_larger_batch(tokenizer, items):
    """Batch 4 with 2 accumulation steps == batch 8: the sampler's order depends on the seed
    only, so micro-batches 1+2 hold the same 8 items as big batch 1, and Accelerate averages the
    micro-batch losses. That average equals the big-batch loss exactly for a per-sequence mean
    (used here, and NPO's forget term); a token mean (mean_nll) weights sequences by length,
    so there the match is only approximate."""
    enc = Encoder(tokenizer)
    data = [enc.encode(it.question, it.answer) for it in items[:16]]

    def per_sequence_nll(m, batch, _):
        logp, n = sequence_logprob(forward_logits(m, batch), batch["labels"])
        return -(logp / n).mean(), {}

    def run(batch_size: int, grad_accum: int):
        cfg = TrainConfig(lr=1e-3, epochs=1, batch_size=batch_size, grad_accum=grad_accum, max_grad_norm=1e3)
        m, hist = train(
            build_tiny_model(tokenizer, seed=3), per_sequence_nll, data, cfg, tokenizer.pad_token_id, progress=False
        )
        return torch.cat([p.detach().flatten() for p in m.parameters()]), len(hist)

    start = torch.cat([p.detach().flatten() for p in build_tiny_model(tokenizer, seed=3).parameters()])
    big, steps_big = run(8, 1)
    accum, steps_accum = run(4, 2)
    small, _ = run(4, 1)
    assert steps_big == steps_accum == 2  # 16 items: two optimizer steps either way
    update = (big - start).abs().max()
    assert update > 1e-4  # the weights moved (~lr per step with Adam)
    assert (accum - big).abs().max() < 0.01 * update
    assert (small - big).abs().max() > 0.5 * update  # without accumulation: a different run


# --- trust_remote_code -------------------------------------------------------------------


class _Stop(Exception):
    pass


def test_trust_remote_code_off_by_default(monkeypatch):
    import polyunlearn.core.models as models

    calls: list[tuple[str, dict]] = []

    def fake(kind):
        def from_pretrained(name, **kwargs):
            calls.append((kind, kwargs))
            raise _Stop(kind)  # no download: record the arguments and stop

        return from_pretrained

    monkeypatch.setattr(models.AutoTokenizer, "from_pretrained", fake("tokenizer"))
    monkeypatch.setattr(models.AutoModelForCausalLM, "from_pretrained", fake("model"))
    for fn in (models.load_tokenizer, models.load_model):
        with pytest.raises(models.ModelLoadError):
            fn("someorg/somemodel")
    assert [(k, kw["trust_remote_code"]) for k, kw in calls] == [("tokenizer", False), ("model", False)]
    assert calls[1][1]["use_safetensors"] is True

    from polyunlearn.cli import app

    calls.clear()
    assert runner.invoke(app, ["eval", "--model", "someorg/somemodel", "--out", "unused"]).exit_code == 2
    assert calls[-1][1]["trust_remote_code"] is False
    calls.clear()
    runner.invoke(app, ["eval", "--model", "someorg/somemodel", "--out", "unused", "--trust-remote-code"])
    assert calls[-1][1]["trust_remote_code"] is True


# --- the CLI on a tiny Cohere model; checkpoints load with plain transformers / peft -----


@pytest.fixture(scope="module")
def cli_learned(tmp_path_factory):
    """`polyunlearn learn --model tiny-cohere` on a small JSONL (en + fr slice)."""
    from helpers.items import small_items

    root = tmp_path_factory.mktemp("cli")
    save_items(small_items(), root / "items.jsonl")
    _cli(
        [
            "learn",
            "--model",
            "tiny-cohere",
            "--data",
            root / "items.jsonl",
            "--epochs",
            25,
            "--batch-size",
            16,
            "--out",
            root / "learned",
        ]
    )
    return root


def test_cli_learn_unlearn_eval_cohere(cli_learned, tmp_path):
    data, learned = cli_learned / "items.jsonl", cli_learned / "learned"
    assert json.loads((learned / "model" / "config.json").read_text())["model_type"] == "cohere"
    out = tmp_path / "npo"
    _cli(
        [
            "unlearn",
            "--model",
            learned / "model",
            "--data",
            data,
            "--method",
            "npo",
            "--forget-langs",
            "en",
            "--epochs",
            3,
            "--lr",
            1e-3,
            "--alpha",
            3,
            "--batch-size",
            4,
            "--out",
            out,
            "--baseline",
            learned / "eval",
        ]
    )

    before, after = pd.read_csv(learned / "eval" / "summary.csv"), pd.read_csv(out / "eval" / "summary.csv")
    assert _row(after, "en")["forget_prob"] < 0.5 * _row(before, "en")["forget_prob"]
    assert (out / "matrices" / "change_forget_prob.csv").exists() and (out / "history.json").exists()
    assert check_run_folder(out) == [] and check_run_folder(learned) == []

    # A full checkpoint is a plain transformers folder: safetensors, no pickles.
    from transformers import AutoModelForCausalLM

    files = {p.name for p in (out / "model").iterdir()}
    assert "model.safetensors" in files and not any(f.endswith(".bin") for f in files)
    plain = AutoModelForCausalLM.from_pretrained(out / "model")
    assert type(plain).__name__ == "CohereForCausalLM"

    _cli(["eval", "--model", out / "model", "--data", data, "--out", tmp_path / "eval", "--no-generate"])
    again = pd.read_csv(tmp_path / "eval" / "summary.csv")
    assert _row(again, "en")["forget_prob"] == pytest.approx(_row(after, "en")["forget_prob"], rel=1e-4)


def test_cli_unlearn_lora_checkpoint_loads_with_peft(cli_learned, tmp_path):
    from peft import AutoPeftModelForCausalLM, PeftModel
    from transformers import AutoModelForCausalLM

    data, base = cli_learned / "items.jsonl", cli_learned / "learned" / "model"
    out = tmp_path / "lora"
    _cli(
        [
            "unlearn",
            "--model",
            base,
            "--data",
            data,
            "--method",
            "npo",
            "--forget-langs",
            "en",
            "--epochs",
            2,
            "--lr",
            3e-3,
            "--batch-size",
            4,
            "--lora",
            "--out",
            out,
            "--no-evaluate",
        ]
    )
    files = {p.name for p in (out / "model").iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors"} <= files and not any(f.endswith(".bin") for f in files)
    assert json.loads((out / "model" / "adapter_config.json").read_text())["base_model_name_or_path"] == str(base)

    ids = torch.tensor([[1, 5, 9, 13, 2]])
    auto = AutoPeftModelForCausalLM.from_pretrained(out / "model").eval()
    manual = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), out / "model").eval()
    plain = AutoModelForCausalLM.from_pretrained(base).eval()
    with torch.no_grad():
        a, m, p = auto(ids).logits, manual(ids).logits, plain(ids).logits
    torch.testing.assert_close(a, m)
    assert (a - p).abs().max() > 1e-4  # the adapter was trained: it changes the outputs


@pytest.mark.parametrize(("lora", "want"), [(False, "float32"), (True, "bfloat16")])
def test_cli_bf16_keeps_fp32_master_weights_only_when_they_are_trained(cli_learned, tmp_path, lora, want):
    data, base = cli_learned / "items.jsonl", cli_learned / "learned" / "model"
    out = tmp_path / "run"
    _cli(
        [
            "unlearn",
            "--model",
            base,
            "--data",
            data,
            "--method",
            "grad_diff",
            "--forget-langs",
            "en",
            "--epochs",
            1,
            "--lr",
            1e-3,
            "--batch-size",
            5,
            "--bf16",
            "--out",
            out,
            "--no-evaluate",
            *(["--lora"] if lora else []),
        ]
    )
    ident = json.loads((out / "run.json").read_text())["identity"]
    assert ident["model"]["weights_dtype"] == want and ident["unlearn"]["train"]["mixed_precision"] == "bf16"
    if not lora:  # the trained fp32 weights are saved as such, small updates intact
        from safetensors import safe_open

        with safe_open(str(out / "model" / "model.safetensors"), "pt") as f:
            assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float32}
