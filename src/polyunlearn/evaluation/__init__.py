"""Evaluation: scoring and greedy generation of a model on QA items, and every metric as a plain
function (per item, then per language; each record carries its language). Stands on core/ and
data/."""
