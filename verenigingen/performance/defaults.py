"""Defaults of the performance core, each with a line saying what it means.

Sites override them from site config or a settings DocType; the bridge reads the
overrides and passes them in. Each subsystem keeps its defaults in its own section.
"""

# ---------------------------------------------------------------- dataset and schema
DATASET_SEED = 42  # seed of the demo and benchmark datasets
DEMO_MEMBERS = 20_000  # members the README's main job seeds by default (a couple of minutes end to end)
BENCHMARK_MEMBERS = 100_000  # members of the reference dataset of benchmarks and baselines
