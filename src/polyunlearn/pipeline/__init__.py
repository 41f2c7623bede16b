"""The engine: the steps every command and study is made of, each in a run folder of its own
(learn, unlearn, evaluate: phases.py, step.py; per-epoch evaluation and checkpoint selection:
epoch_eval.py; the SeeGULL multiple-choice metric: mcq_eval.py), the shared tiny base (base.py)
and the back ends of `polyunlearn learn / unlearn / eval` (runs.py). Stands on analysis/ and
every layer below it; the probes and the studies build on it."""
