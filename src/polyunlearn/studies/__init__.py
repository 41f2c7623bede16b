"""The recipes: the demo, the experiment grid (grid*.py), study A (study_a*.py), the concept
study and the papers' presets. Each reads top to bottom and builds on the engine (pipeline/) and
the probes (probes/); nothing here is imported by the layers below."""
