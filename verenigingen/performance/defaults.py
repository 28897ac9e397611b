"""Defaults of the performance core, each with a line saying what it means.

Sites override them from site config or a settings DocType; the bridge reads the
overrides and passes them in. Each subsystem keeps its defaults in its own section.
"""

# ---------------------------------------------------------------- dataset and schema
DATASET_SEED = 42  # seed of the demo and benchmark datasets
DEMO_MEMBERS = 20_000  # members the README's main job seeds by default (a couple of minutes end to end)
BENCHMARK_MEMBERS = 100_000  # members of the reference dataset of benchmarks and baselines

# ---------------------------------------------------------------- profiler
PROFILER_N_PLUS_ONE_MIN_REPEATS = 4  # a normalised statement repeated this often (more than 3) is an N+1
PROFILER_N_PLUS_ONE_MEDIUM = 10  # repeats from which an N+1 pattern is of medium severity
PROFILER_N_PLUS_ONE_HIGH = 25  # repeats from which an N+1 pattern is of high severity
PROFILER_FULL_SCAN_MIN_ROWS = 1  # EXPLAIN row estimate from which a full table/index scan is reported
PROFILER_PAYMENT_HISTORY_LIMIT = 50  # payments the member screen shows (newest first)

# ---------------------------------------------------------------- API security
API_RATE_LIMIT_EXPENSIVE = 30  # calls per window one client may make to an expensive endpoint (profiling, validation)
API_RATE_LIMIT_SECONDS = 60  # the rate-limit window of expensive endpoints, in seconds

# ---------------------------------------------------------------- baselines
BASELINE_RUNS = 200  # timed runs of each baseline operation (split evenly over the rounds)
BASELINE_WARMUP = 20  # untimed runs before timing starts (caches, buffer pool, query plans)
BASELINE_ROUNDS = 5  # rounds whose medians' spread is the operation's recorded noise
BASELINE_MIN_TOLERANCE = 0.10  # a p50 ratio within 1 +/- this is never a regression, however quiet the baseline
BASELINE_SAMPLE_SEED = 42  # seed of the parameter values drawn from the data for the operations
BASELINE_MAX_AGE_DAYS = 30  # a baselines file older than this is reported as stale by the readiness check
BASELINE_CACHED_MEMBERS = 10  # members whose page the cached-summary operation keeps revisiting (its working set)

# ---------------------------------------------------------------- index manager
INDEX_MEASURE_REPEATS = 15  # probe runs per measurement (p50/p95 over them, after one warm-up run)
INDEX_APPLY_MEASURE_REPEATS = 7  # probe runs before and after each index an apply adds
INDEX_AUTO_MEASURE_REPEATS = 3  # probe runs per index when after_migrate/after_install add a missing one
INDEX_MIN_ROWS_FOR_COMPARISON = 10_000  # below this many table rows a before/after ratio means nothing
INDEX_LOCK_WAIT_TIMEOUT = 30  # seconds index DDL waits for a metadata lock before giving up
INDEX_AUTO_APPLY_CONFIG_KEY = "verenigingen_auto_index"  # site config flag: false turns automatic application off
INDEX_API_RATE_LIMIT = 30  # calls of database_index_manager_api per user and window
INDEX_API_RATE_WINDOW = 3600  # seconds of the API's rate-limit window
