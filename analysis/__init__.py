"""Pure functions over a workdir's runs.jsonl: deltas, confidence intervals and fits."""
