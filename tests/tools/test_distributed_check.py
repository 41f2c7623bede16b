"""Data-parallel scale-out: 2 CPU processes (torch.distributed.run, gloo) x batch 2 unlearn the
tiny model like 1 process x batch 4 - the same global batch - through the same path as
`polyunlearn unlearn` (pipeline.unlearn; only the main process evaluates and writes).

Why they agree: the seeded sampler gives the same order in both runs, and Accelerate hands
process i the i-th batch of 2 of it, so each step sees the same 4 items; DDP averages the two
processes' gradients. NPO's forget term is a per-sequence mean, which that average reproduces
exactly; the retain NLL is a token mean, which it reproduces only up to the sequences' length
differences, so the runs match closely, not bit for bit. Tolerance: 0.02 on every Prob (the
runs differ by ~1e-3; a run with the wrong global batch - 1 x batch 2 - differs by > 0.3).
The same with LoRA (whose reference is the unwrapped model with adapters off), on the forget
term alone, matches to ~1e-6 (tolerance 1e-3).

Also: the shipped Accelerate configs (DDP, FSDP, ZeRO-3) are read by `accelerate launch` as
intended, and the weights gathered after a sharded run rebuild a plain model exactly. FSDP and
DeepSpeed themselves need GPUs, so they are not run here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import polyunlearn
from polyunlearn.core.atomic import read_json
from polyunlearn.evaluation.records import EvalConfig, score_items, summarize
from polyunlearn.tools.distributed_check import run_check

# variant -> (extra CLI args, run_check kwargs, tolerance on every Prob). Full model: NPO with its
# NLL retain term, matched closely (token mean, see above). LoRA: NPO's forget term alone
# (alpha 0), a per-sequence mean, matched up to float summation order. The LoRA variant needs
# alpha 0 to be exact: its B matrices start at zero, so Adam's first, sign-like step turns the
# retain term's small token-mean difference into +-lr differences.
VARIANTS = {
    "full": ([], dict(lr=3e-4), 0.02),
    "lora": (["--lora", "--alpha", "0", "--lr", "3e-3"], dict(lr=3e-3, lora=True, alpha=0.0), 1e-3),
}


@pytest.fixture(scope="module")
def learned_dir(learned_folder):
    return learned_folder("dist") / "learned"


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_two_processes_match_one_with_same_global_batch(variant, learned_dir, _learned, tokenizer, items, tmp_path):
    cli_extra, kwargs, tol = VARIANTS[variant]
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "polyunlearn.tools.distributed_check",
        "--model",
        str(learned_dir),
        "--batch-size",
        "2",
        "--out",
        str(tmp_path / "multi"),
        *cli_extra,
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    multi = read_json(tmp_path / "multi" / "result.json")
    # Every process saved its own RNG state into the epoch checkpoint; one set of weights.
    state = tmp_path / "multi" / "ckpt" / "state"
    assert (state / "random_states_0.pkl").exists() and (state / "random_states_1.pkl").exists()
    assert (state / "model.safetensors").exists()

    single = run_check(str(learned_dir), tmp_path / "single", batch_size=4, **kwargs)
    wrong_batch = run_check(str(learned_dir), tmp_path / "wrong", batch_size=2, **kwargs)

    assert multi["num_processes"] == 2 and single["num_processes"] == 1 and multi["lora"] == single["lora"]
    assert multi["global_batch"] == single["global_batch"] == 4
    assert multi["steps"] == single["steps"] == 10  # 20 forget items (en + fr) / 4, 2 epochs
    for a, b in zip(multi["losses"], single["losses"]):
        assert a == pytest.approx(b, rel=0.01)

    before = summarize(score_items(_learned, tokenizer, items, EvalConfig(generate=False))).set_index("language")
    biggest_gap = 0.0
    for lang in ("en", "fr"):
        for metric in ("forget_prob", "retain_prob"):
            m, s = multi["summary"][lang][metric], single["summary"][lang][metric]
            assert m == pytest.approx(s, abs=tol), (lang, metric, m, s)
            biggest_gap = max(biggest_gap, abs(wrong_batch["summary"][lang][metric] - s))
        # Unlearning happened (the comparison is not between two untouched models).
        assert multi["summary"][lang]["forget_prob"] < before.loc[lang, "forget_prob"] - 0.2
    assert biggest_gap > 10 * tol  # the tolerance separates "same global batch" from "not"


# --- the shipped Accelerate configs and the gather step of sharded runs ----------------------

CONFIGS = Path(polyunlearn.__file__).parent / "configs" / "accelerate"


def _launch_env(name: str) -> tuple[object, dict[str, str]]:
    """What `accelerate launch --config_file NAME -m polyunlearn learn` would hand the processes
    (the launcher's own parsing and env preparation; nothing is started)."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_deepspeed_cmd_env, prepare_multi_gpu_env

    args = launch_command_parser().parse_args(["--config_file", str(CONFIGS / name), "-m", "polyunlearn", "learn"])
    args, defaults, _ = _validate_launch_command(args)
    if args.use_deepspeed:
        args.deepspeed_fields_from_accelerate_config = ",".join(defaults.deepspeed_config)
        return args, prepare_deepspeed_cmd_env(args)[1]
    return args, prepare_multi_gpu_env(args)


def test_accelerate_configs_are_understood(monkeypatch):
    from accelerate.utils import DeepSpeedPlugin, FullyShardedDataParallelPlugin
    from torch.distributed.fsdp import ShardingStrategy, StateDictType

    args, env = _launch_env("ddp.yaml")
    assert args.multi_gpu and not args.use_fsdp and env["ACCELERATE_MIXED_PRECISION"] == "bf16"

    args, env = _launch_env("fsdp_8b.yaml")
    assert args.use_fsdp and env["FSDP_AUTO_WRAP_POLICY"] == "TRANSFORMER_BASED_WRAP"
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    fsdp = FullyShardedDataParallelPlugin()
    assert fsdp.sharding_strategy == ShardingStrategy.FULL_SHARD and fsdp.use_orig_params
    assert fsdp.state_dict_type == StateDictType.SHARDED_STATE_DICT and not fsdp.cpu_ram_efficient_loading
    monkeypatch.undo()

    args, env = _launch_env("deepspeed_zero3_8b.yaml")
    assert args.use_deepspeed and env["ACCELERATE_MIXED_PRECISION"] == "bf16"
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    ds = DeepSpeedPlugin().deepspeed_config
    assert ds["zero_optimization"]["stage"] == 3
    assert ds["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True  # train._gathered needs it
    assert ds["gradient_clipping"] == 1.0


@pytest.mark.parametrize("arch", ["llama", "cohere"])
def test_rebuild_from_gathered_weights(arch, tokenizer):
    """train.rebuild turns the full state dict that FSDP / ZeRO-3 gather into a plain model that
    computes exactly what the original did (rotary buffers and tied embeddings included; a
    gather may return a tied lm_head only once, under the embedding's name)."""
    import torch

    from polyunlearn.core.models import build_tiny_model
    from polyunlearn.core.trainloop import rebuild

    model = build_tiny_model(tokenizer, arch, seed=5).eval()
    full = {k: v.clone() for k, v in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        full.pop("lm_head.weight", None)
    plain = rebuild(model, full)
    ids = torch.tensor([[1, 7, 42, 99, 2]])
    with torch.no_grad():
        torch.testing.assert_close(plain(ids).logits, model(ids).logits)
    assert type(plain) is type(model)
