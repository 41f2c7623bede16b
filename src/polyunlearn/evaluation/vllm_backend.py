"""Optional greedy generation by vLLM on a GPU (`--generation-backend vllm`, the optional extra
`pip install 'polyunlearn[vllm]'`; never installed by the README's commands or CI).

At 8B scale the greedy answers are most of an evaluation, and a serving engine with paged
attention and continuous batching generates them faster than any in-process loop. Scoring stays
in-process (the likelihoods need the model's own forward). vLLM loads the weights itself, so it
is given the folder or hub id the evaluated model was loaded from UNCHANGED (`polyunlearn eval`
sets it); a model changed in memory (just unlearned) or a LoRA adapter is refused instead of
silently generating with other weights. Prompts are passed as token ids (our tokenization and
chat template), decoding stops at the tokenizer's EOS only (as in the in-process path), and the
ids are decoded by our tokenizer, so the answers are comparable token for token
(tests/evaluation/test_vllm_backend.py, skipped without a GPU and vllm).

    answers = vllm_generate(model, Encoder(tok), questions, max_new_tokens=40, source="runs/x/model")
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from functools import lru_cache

import torch

from polyunlearn.core.encoding import Encoder


def check_vllm_environment(source: str | None) -> None:
    """One-line ValueError naming what is missing, before data or model are loaded."""
    if not source:
        raise ValueError(
            "--generation-backend vllm needs the folder or hub id the model was loaded from unchanged (only `polyunlearn eval --model` sets it)"
        )
    if importlib.util.find_spec("vllm") is None:
        raise ValueError(
            "--generation-backend vllm needs vLLM: pip install 'polyunlearn[vllm]' on a machine with a CUDA GPU (docs/real_scale.md)"
        )
    if not torch.cuda.is_available():
        raise ValueError("--generation-backend vllm needs a CUDA GPU; none is visible")


def check_vllm_usable(model: torch.nn.Module, source: str | None) -> None:
    check_vllm_environment(source)
    if hasattr(model, "peft_config"):
        raise ValueError("--generation-backend vllm: a LoRA adapter is not supported; evaluate the merged model folder")


@lru_cache(maxsize=1)
def _engine(source: str, dtype: str, memory_share: float):
    from vllm import LLM

    # gpu_memory_utilization is vLLM's share of the WHOLE GPU; the in-process model already
    # holds part of it, so vLLM is given 90% of what is free.
    return LLM(model=source, dtype=dtype, gpu_memory_utilization=memory_share, trust_remote_code=False, seed=0)


def vllm_generate(
    model: torch.nn.Module, encoder: Encoder, questions: Sequence[str], max_new_tokens: int, source: str | None
) -> list[str]:
    """Greedy answers to `questions` by vLLM, up to max_new_tokens, stopping at the tokenizer's EOS."""
    check_vllm_usable(model, source)
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    free, total = torch.cuda.mem_get_info()
    dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
    llm = _engine(str(source), dtype, round(0.9 * free / total, 3))
    eos = encoder.tok.eos_token_id
    # ignore_eos drops vLLM's own EOS set (the model's generation_config may list more ids than
    # the tokenizer); stop_token_ids keeps exactly ours.
    params = SamplingParams(
        temperature=0.0,
        max_tokens=max_new_tokens,
        ignore_eos=True,
        stop_token_ids=[eos] if eos is not None else None,
        detokenize=False,
    )
    ask = lambda q: encoder.prompt(*q) if isinstance(q, tuple) else encoder.prompt(q)  # noqa: E731  (q or (q, language))
    prompts = list(dict.fromkeys(ask(q) for q in questions))
    outs = llm.generate([TokensPrompt(prompt_token_ids=list(p)) for p in prompts], params, use_tqdm=False)
    text = {
        p: encoder.tok.decode(list(o.outputs[0].token_ids), skip_special_tokens=True).strip()
        for p, o in zip(prompts, outs)
    }
    return [text[ask(q)] for q in questions]
