"""Data: the QA item schema, loaders for every supported layout (TOFU files and folders, the
authors' translated folders, SeeGULL, study A's news), the --data spec resolver and the bundled
multilingual text. Stands on core/ only."""
