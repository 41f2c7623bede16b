"""The model before unlearning, as the objectives see it: plain forward helpers (logits, hidden
states of one decoder layer) and `Reference`, the frozen copy or, with LoRA, the same weights
with the adapters disabled."""

from __future__ import annotations

import copy

import torch

from polyunlearn.core.logprobs import sequence_logprob
from polyunlearn.core.models import is_peft

Batch = dict[str, torch.Tensor]


def forward_logits(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits


def num_layers(model: torch.nn.Module) -> int:
    # DDP/FSDP keep the model in .module; peft wrappers forward .config to the base model.
    return int(getattr(model, "module", model).config.num_hidden_layers)


def forward_hidden(model: torch.nn.Module, batch: Batch, layer: int) -> torch.Tensor:
    """Output of decoder layer `layer` (0-based), (B, T, H).

    HF's hidden_states tuple is (embeddings, output of layer 0, ..., output of layer L-2, final
    normed output), so layer k < L-1 is entry k + 1; the last entry is after the final norm."""
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_hidden_states=True)
    return out.hidden_states[layer + 1]


class Reference:
    """The frozen model before unlearning. With LoRA it is the same weights with the adapters
    disabled (no second copy in memory); otherwise a frozen deep copy made once."""

    def __init__(self, model: torch.nn.Module):
        self.model = model
        self.copy: torch.nn.Module | None = None
        if not is_peft(model):
            self.copy = copy.deepcopy(model).eval()
            for p in self.copy.parameters():
                p.requires_grad_(False)
        # The reference is frozen, so a sequence's reference log-prob never changes: memo maps a
        # sequence (its tokens and label mask) to it, computed once instead of once per epoch.
        # None turns the memo off (every call runs the reference).
        self.memo: dict[bytes, float] | None = {}

    def _copy_on(self, device: torch.device) -> torch.nn.Module:
        # The copy is made before Accelerate moves the trained model to the GPU; follow it there.
        assert self.copy is not None
        if next(self.copy.parameters()).device != device:
            self.copy.to(device)
        return self.copy

    @torch.no_grad()
    def logits(self, batch: Batch) -> torch.Tensor:
        if self.copy is not None:
            return forward_logits(self._copy_on(batch["input_ids"].device), batch)
        with self.model.disable_adapter():
            return forward_logits(self.model, batch)

    @torch.no_grad()
    def sequence_logprob(self, batch: Batch) -> torch.Tensor:
        """Summed answer-token log-probs (B,) under the reference, memoized per sequence: only
        sequences not seen before are run (as one sub-batch, trimmed to their length)."""
        if self.memo is None:
            return sequence_logprob(self.logits(batch), batch["labels"])[0]
        ids, att, labels = (batch[k].cpu() for k in ("input_ids", "attention_mask", "labels"))
        real = att.bool()
        keys = [
            ids[i][real[i]].numpy().tobytes() + b"|" + labels[i][real[i]].numpy().tobytes() for i in range(len(ids))
        ]
        missing = [i for i, k in enumerate(keys) if k not in self.memo]
        if missing:
            T = int(att[missing].sum(-1).max())  # batches are right-padded (batching.collate)
            rows = torch.tensor(missing, device=batch["input_ids"].device)
            sub = {k: batch[k][rows, :T] for k in ("input_ids", "attention_mask", "labels")}
            for i, v in zip(missing, sequence_logprob(self.logits(sub), sub["labels"])[0].tolist()):
                self.memo[keys[i]] = v
        return torch.tensor([self.memo[k] for k in keys], dtype=torch.float32, device=batch["input_ids"].device)

    @torch.no_grad()
    def hidden(self, batch: Batch, layer: int) -> torch.Tensor:
        """Output of decoder layer `layer` (B, T, H) of the reference model."""
        if self.copy is not None:
            return forward_hidden(self._copy_on(batch["input_ids"].device), batch, layer)
        with self.model.disable_adapter():
            return forward_hidden(self.model, batch, layer)
