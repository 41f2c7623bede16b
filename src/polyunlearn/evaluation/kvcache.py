"""Preallocated key/value cache and the model hooks of the fast evaluation path (decoding.py).

A `BufferCache` is a transformers `Cache` whose layers write into buffers allocated once per batch
(rows x kv-heads x capacity x head-dim) and hand the attention a view of the filled columns: no
`torch.cat` growing the cache at every step (the DynamicCache copies the whole cache per token), and
attention only over the columns in use (a StaticCache attends over its full capacity). Rows can be
gathered (a prompt's cache copied to one row per scored continuation) and compacted (finished
sequences dropped) in place.

`FastModel` is what the fast path needs from a model: the decoder stack (called with our cache, a
4D boolean mask and explicit positions, so prompts of different lengths share a batch with left
padding) and the LM head applied separately (only where logits are needed, in slices). Both are
checked against the model's own forward on a few tokens before use; any model where they differ,
or with sliding-window / linear-attention layers, flash-attention kernels (no 4D mask), or
generation settings beyond plain greedy, falls back to the simple paths.

    fm = FastModel.resolve(model)          # None: use the fallbacks
    cache = BufferCache(fm.n_layers, capacity=40)
    h = fm.decoder(input_ids=ids, attention_mask=mask, position_ids=pos, past_key_values=cache, use_cache=True)
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass

import torch
from transformers.cache_utils import Cache, CacheLayerMixin

log = logging.getLogger(__name__)


class _BufferLayer(CacheLayerMixin):
    """One layer's keys/values in a preallocated (rows, heads, capacity, dim) buffer; `n` columns filled."""

    is_compileable = False
    is_sliding = False

    def __init__(self, capacity: int):
        super().__init__()
        self.capacity = capacity
        self.n = 0

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        b, h, _, d = key_states.shape
        # empty, not zeros: every column the attention reads has been written first (pads included).
        self.keys = key_states.new_empty((b, h, self.capacity, d))
        self.values = value_states.new_empty((b, h, self.capacity, value_states.shape[-1]))
        self.is_initialized = True

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        q = key_states.shape[-2]
        if self.n + q > self.capacity:
            raise RuntimeError(f"BufferCache full: {self.n} + {q} columns > capacity {self.capacity}")
        self.keys[:, :, self.n : self.n + q] = key_states
        self.values[:, :, self.n : self.n + q] = value_states
        self.n += q
        return self.keys[:, :, : self.n], self.values[:, :, : self.n]

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        return self.n + query_length, 0

    def get_seq_length(self) -> int:
        return self.n

    def get_max_length(self) -> int:
        return self.capacity


class BufferCache(Cache):
    """Preallocated cache, `capacity` columns per row, shared column count across rows."""

    def __init__(self, n_layers: int, capacity: int):
        super().__init__(layers=[_BufferLayer(capacity) for _ in range(n_layers)])

    @property
    def filled(self) -> int:
        return self.layers[0].n

    def check_filled(self, expected: int) -> None:
        """Every layer wrote `expected` columns: a model that ignores the cache it is given
        (or keeps state elsewhere) cannot use this path."""
        got = [layer.n for layer in self.layers]
        if any(n != expected for n in got):
            raise FastPathUnsupported(f"the model did not fill the cache as expected ({got[:3]}... vs {expected})")

    def gather(self, rows: torch.Tensor, capacity: int) -> BufferCache:
        """A new cache whose row i is a copy of row rows[i] of this one (filled columns only)."""
        out = BufferCache(len(self.layers), capacity)
        for src, dst in zip(self.layers, out.layers):
            dst.n = src.n
            if not src.is_initialized:
                continue
            _, h, _, d = src.keys.shape
            dst.keys = src.keys.new_empty((len(rows), h, capacity, d))
            dst.values = src.values.new_empty((len(rows), h, capacity, src.values.shape[-1]))
            dst.is_initialized = True
            if src.n:
                dst.keys[:, :, : src.n].copy_(src.keys[rows, :, : src.n])
                dst.values[:, :, : src.n].copy_(src.values[rows, :, : src.n])
        return out

    def window(self, r0: int, r1: int, c0: int, c1: int) -> BufferCache:
        """A cache writing into rows r0:r1, columns c0:c1 of this one's (allocated) buffers: prompts
        of one length bucket are prefilled into their own columns of a left-padded batch, without
        running the longer prompts' padding."""
        view = BufferCache(len(self.layers), c1 - c0)
        for src, dst in zip(self.layers, view.layers):
            dst.keys, dst.values = src.keys[r0:r1, :, c0:c1], src.values[r0:r1, :, c0:c1]
            dst.is_initialized = True
        return view

    def allocate(self, rows: int, like: BufferCache) -> None:
        """Buffers for `rows` rows, with the heads, dims and dtype of `like`'s layers."""
        for layer, ref in zip(self.layers, like.layers):
            _, h, _, d = ref.keys.shape
            layer.keys = ref.keys.new_empty((rows, h, layer.capacity, d))
            layer.values = ref.values.new_empty((rows, h, layer.capacity, ref.values.shape[-1]))
            layer.is_initialized = True

    def zero(self, r0: int, r1: int, c0: int, c1: int) -> None:
        for layer in self.layers:
            layer.keys[r0:r1, :, c0:c1] = 0
            layer.values[r0:r1, :, c0:c1] = 0

    def set_filled(self, n: int) -> None:
        for layer in self.layers:
            layer.n = n

    def keep_rows(self, rows: torch.Tensor) -> None:
        """Keep only `rows` (in this order), compacted into the front of the same buffers."""
        k = len(rows)
        for layer in self.layers:
            if not layer.is_initialized:
                continue
            n = layer.n
            # The right side is materialized before the in-place write, so overlapping rows are safe.
            layer.keys[:k, :, :n] = layer.keys[rows, :, :n]
            layer.values[:k, :, :n] = layer.values[rows, :, :n]
            layer.keys, layer.values = layer.keys[:k], layer.values[:k]


class FastPathUnsupported(RuntimeError):
    """The model cannot run the fast path; the caller falls back to the simple one."""


# Generation settings HF `generate` applies on top of greedy argmax (a model's generation_config
# may set them); with any of them set, the fast decoder would not be token-identical to `generate`.
_PROCESSORS = {
    "repetition_penalty": (None, 1.0),
    "encoder_repetition_penalty": (None, 1.0),
    "no_repeat_ngram_size": (None, 0),
    "encoder_no_repeat_ngram_size": (None, 0),
    "bad_words_ids": (None,),
    "min_length": (None, 0),
    "min_new_tokens": (None, 0),
    "suppress_tokens": (None,),
    "begin_suppress_tokens": (None,),
    "forced_bos_token_id": (None,),
    "forced_eos_token_id": (None,),
    "sequence_bias": (None,),
    "exponential_decay_length_penalty": (None,),
    "guidance_scale": (None, 1.0),
    "watermarking_config": (None,),
    "num_beams": (None, 1),
    "renormalize_logits": (None, False),
}


def generation_extras(model: torch.nn.Module) -> list[str]:
    """The generation_config settings (beyond plain greedy) HF `generate` would apply."""
    gc = getattr(model, "generation_config", None)
    if gc is None:
        return []
    return [f"{k}={getattr(gc, k)!r}" for k, allowed in _PROCESSORS.items() if getattr(gc, k, None) not in allowed]


def _base(model: torch.nn.Module) -> torch.nn.Module:
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _full_attention_only(config) -> str | None:
    """Why the model's attention is not plain full causal attention, or None."""
    types = getattr(config, "layer_types", None)
    if types and any(t != "full_attention" for t in types):
        return f"layer types {sorted(set(types))}"
    if getattr(config, "sliding_window", None) and getattr(config, "use_sliding_window", True):
        return f"sliding window {config.sliding_window}"
    impl = getattr(config, "_attn_implementation", None)
    if impl not in ("sdpa", "eager"):
        return f"attention implementation {impl!r} (needs sdpa or eager for 4D masks)"
    return None


@dataclass
class FastModel:
    """The decoder stack and the LM head of a causal LM, called separately."""

    decoder: torch.nn.Module
    head: Callable[[torch.Tensor], torch.Tensor]
    n_layers: int
    vocab: int
    device: torch.device
    probe: BufferCache | None = None  # the cache of the logits check: shapes and dtype of every layer's keys/values

    @classmethod
    def resolve(cls, model: torch.nn.Module) -> FastModel | None:
        """The model's fast-path view, or None (with the reason logged) when it has none."""
        try:
            return cls._resolve(model)
        except FastPathUnsupported as e:
            log.info("fast evaluation path off for %s: %s", type(model).__name__, e)
            return None

    @classmethod
    def _resolve(cls, model: torch.nn.Module) -> FastModel:
        base = _base(model)
        config = getattr(base, "config", None)
        if config is None or getattr(config, "is_encoder_decoder", False):
            raise FastPathUnsupported("not a decoder-only Hugging Face model")
        why = _full_attention_only(config)
        if why:
            raise FastPathUnsupported(why)
        if not hasattr(base, "get_decoder") or not hasattr(base, "get_output_embeddings"):
            raise FastPathUnsupported("no get_decoder / get_output_embeddings")
        decoder, out = base.get_decoder(), base.get_output_embeddings()
        if decoder is base or out is None:
            raise FastPathUnsupported("decoder or LM head not found")
        try:
            params = inspect.signature(decoder.forward).parameters
        except (TypeError, ValueError) as e:
            raise FastPathUnsupported(f"decoder signature unreadable: {e}") from e
        if not {"past_key_values", "position_ids", "attention_mask"} <= params.keys():
            raise FastPathUnsupported("decoder takes no past_key_values / position_ids / attention_mask")
        scale = getattr(base, "logit_scale", None)  # Cohere multiplies the logits by it
        cap = getattr(config, "final_logit_softcapping", None)

        def head(h: torch.Tensor) -> torch.Tensor:
            logits = out(h)
            if scale is not None:
                logits = logits * scale
            if cap:
                logits = torch.tanh(logits / cap) * cap
            return logits

        n_layers = config.num_hidden_layers
        fm = cls(decoder, head, n_layers, out.weight.shape[0], next(model.parameters()).device)
        fm._check_against(model)
        return fm

    @torch.inference_mode()
    def _check_against(self, model: torch.nn.Module) -> None:
        """Our decoder + head on 4 positions, with our cache and mask, must give the model's logits.
        Fed as embeddings (rows of the embedding matrix, not a call of the embedding module), so
        the check leaves no trace in hooks that count the tokens a model is run on."""
        weight = model.get_input_embeddings().weight
        emb = weight[torch.arange(1, 5, device=weight.device) % self.vocab][None]  # (1, 4, H)
        want = model(inputs_embeds=emb).logits.float()
        cache = BufferCache(self.n_layers, 4)
        mask = torch.ones(4, 4, dtype=torch.bool, device=self.device).tril()[None, None]
        pos = torch.arange(4, device=self.device)[None]
        h = self.decoder(
            inputs_embeds=emb, attention_mask=mask, position_ids=pos, past_key_values=cache, use_cache=True
        ).last_hidden_state
        cache.check_filled(4)
        got = self.head(h).float()
        if got.shape != want.shape or not torch.allclose(got, want, rtol=1e-4, atol=1e-5):
            raise FastPathUnsupported("decoder + LM head do not reproduce the model's logits")
        self.probe = cache


def greedy_argmax(logits: torch.Tensor, block: int = 256) -> torch.Tensor:
    """argmax over the last dim of (B, V), first index on ties (as torch.argmax, which HF generate
    uses). On CPU, torch.argmax over a 32k vocabulary is ~10x slower than a vectorized max, so the
    max is found per block of `block` columns, then inside the first block that holds it."""
    if logits.device.type != "cpu" or logits.shape[-1] < 4 * block:
        return logits.argmax(-1)
    b, v = logits.shape
    nb = v // block
    head = logits[:, : nb * block].view(b, nb, block)
    block_max = head.amax(-1)  # (B, nb)
    first = block_max.argmax(-1)  # the first block holding the row's maximum
    inner = head[torch.arange(b, device=logits.device), first].argmax(-1)
    idx = first * block + inner
    if nb * block < v:  # the tail block: it wins only when strictly larger (ties go to the earlier index)
        tail = logits[:, nb * block :]
        tmax, targ = tail.max(-1)
        best = block_max.gather(1, first[:, None])[:, 0]
        better = (tmax > best) | (tmax.isnan() & ~best.isnan())  # NaN counts as the maximum, as in torch.argmax
        idx = torch.where(better, nb * block + targ, idx)
    return idx
