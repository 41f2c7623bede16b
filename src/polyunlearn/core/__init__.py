"""The ground floor: what every layer stands on. The run folder (rundir: identity, done-marker,
lock), atomic writes, typed config fields, the language table, model loading and the tiny models,
prompt encoding, the shared loss math and the one training loop. Imports no other polyunlearn
layer."""
