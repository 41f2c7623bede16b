"""Is it really gone? The adversarial probes of an unlearning run (`polyunlearn attack`, demo and
grid `--attacks`), each re-evaluated in every language, registered by name like the methods
(registry.py: one module per probe), with one recovery-matrix and paired-test writer. Stands on
pipeline/ and every layer below it; the studies build on it."""
