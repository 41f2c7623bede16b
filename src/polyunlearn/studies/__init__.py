"""The studies and the steps they share: learn / unlearn / evaluate as run folders (step.py,
phases.py), the demo, the grid, study A, the concept study and the adversarial probes. Stands on
analysis/ and every layer below it."""
