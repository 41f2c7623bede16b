"""Unlearning objectives, one short function each, registered by name with their own
hyperparameters (methods.registry).

Importing this package registers every method: gradient (grad_ascent, grad_diff, grad_diff_kl),
npo (npo, simnpo), dpo (idkdpo, altpo), rmu, token_weighted (wga, satimp), distill (undial, ceu),
pdu, lingtea, concept_mcq. The public entry points are re-exported here.
"""

from polyunlearn.methods import concept_mcq, distill, dpo, gradient, lingtea, npo, pdu, rmu, token_weighted  # noqa: F401  (registration)
from polyunlearn.methods.reference import Reference, forward_logits
from polyunlearn.methods.registry import METHODS, Context, MethodSpec, Param, get_method

__all__ = ["METHODS", "Context", "MethodSpec", "Param", "Reference", "forward_logits", "get_method"]
