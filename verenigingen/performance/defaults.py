"""Defaults of the performance core, each with a line saying what it means.

Sites override them from site config or a settings DocType; the bridge reads the
overrides and passes them in. Each subsystem keeps its defaults in its own section.
"""

# ---------------------------------------------------------------- dataset and schema
DATASET_SEED = 42  # seed of the demo and benchmark datasets
DEMO_MEMBERS = 20_000  # members the README's main job seeds by default (a couple of minutes end to end)
BENCHMARK_MEMBERS = 100_000  # members of the reference dataset of benchmarks and baselines

# ---------------------------------------------------------------- database handles and DDL (db.py, locks.py)
DB_LOCK_WAIT_TIMEOUT = (
	30  # seconds a standalone handle's statements wait for a metadata lock (MariaDB's default: a year)
)
CLEANUP_LOCK_WAIT_TIMEOUT = (
	30  # seconds a cleanup DROP (benchmarks, scripts, tests) waits before naming the lock holder
)

# ---------------------------------------------------------------- profiler
PROFILER_N_PLUS_ONE_MIN_REPEATS = 4  # a normalised statement repeated this often (more than 3) is an N+1
PROFILER_N_PLUS_ONE_MEDIUM = 10  # repeats from which an N+1 pattern is of medium severity
PROFILER_N_PLUS_ONE_HIGH = 25  # repeats from which an N+1 pattern is of high severity
PROFILER_FULL_SCAN_MIN_ROWS = 1  # EXPLAIN row estimate from which a full table/index scan is reported

# ---------------------------------------------------------------- Redis calls (performance/bounded.py)
REDIS_CALL_TIMEOUT = 0.05  # seconds one call of a web request may wait on Redis (connect, reply); no retries
REDIS_BACKGROUND_CALL_TIMEOUT = 2.0  # the same bound for background jobs and the scheduler (longer scripts)
BATCH_MEMORY_SECONDS = (
	3600  # how long Redis remembers which counter batches it applied (performance/batches.py)
)

# ---------------------------------------------------------------- cache (performance/cache.py)
# Time to live of a cache entry per security level, in seconds (site config may override each).
CACHE_TTLS = {
	"ADMIN": 300,  # administrative data: short, it reflects configuration that changes under admins' hands
	"FINANCIAL": 180,  # payments, mandates: shortest, money must be current
	"MEMBER_DATA": 900,  # one member's personal data
	"REPORTING": 1800,  # aggregates over many documents
	"UTILITY": 3600,  # lookups that rarely change
	"PUBLIC": 7200,  # data anyone may see
}
CACHE_LOCK_TTL = 10.0  # seconds a single-flight compute lock lives at most (released once stored)
CACHE_LOCK_WAIT = 2.0  # seconds a caller waits for another's compute before computing itself
CACHE_EARLY_BETA = 1.0  # beta of probabilistic early expiration (Vattani et al. 2015); 0 turns it off
CACHE_STATS_FLUSH_EVENTS = 200  # buffered statistic events that trigger a flush to Redis
CACHE_STATS_FLUSH_SECONDS = 1.0  # seconds after which buffered statistics ride along the next Redis call
CACHE_BREAKER_FAILURES = 2  # consecutive Redis failures that open the breaker (calls then skip Redis)
CACHE_BREAKER_PAUSE = 5.0  # seconds the open breaker waits before letting one call try Redis again
CACHE_MEMORY_SAMPLE = 16  # entries whose MEMORY USAGE is sampled to estimate a level's memory
CACHE_OUTBOX_MARKER_TTL = (
	3600  # seconds the "reached Redis" marker of an outbox row lives (the sweeper unlinks it sooner)
)
CACHE_OUTBOX_SWEEP_BATCH = 500  # outbox rows the sweeper reads, applies and deletes per transaction
CACHE_OUTBOX_SWEEP_MAX_BATCHES = 20  # batches per sweep run; what is left waits for the next minute

# ---------------------------------------------------------------- monitoring (histogram, score, alerts)
MONITORING_ACTIVATION_LEVEL = 2  # 0 off, 1 collect only, 2 dashboard, 3 alerts, 4 automatic actions
MONITORING_BUFFER_SAMPLES = 100  # samples (two or three a request) a process gathers per pipelined write
MONITORING_BUFFER_SECONDS = 1.0  # ... or the age of the oldest gathered sample that forces a write
MONITORING_BUFFER_MAX_PENDING = 5000  # samples kept across failed writes (Redis down); older are dropped
METRIC_RETENTION_SECONDS = 2 * 86400  # per-minute histograms in Redis expire after two days
METRIC_MAX_PER_MINUTE = 200  # distinct endpoint metrics per minute; more share one overflow histogram
METRIC_OVERFLOW_NAME = "endpoint:~other"  # the histogram endpoints past the cap are counted in
MONITORING_WINDOW_MINUTES = 15  # minutes of request/job histograms the score and bottlenecks read
APDEX_T_MS = 500  # Apdex T: requests up to T are satisfied, up to 4T tolerating
SCORE_WEIGHTS = {  # weight of each score component (renormalised over the components with data)
	"requests": 0.30,  # Apdex of requests
	"jobs": 0.20,  # background jobs: failure rate and p95 wait against targets
	"database": 0.20,  # probe latency, slow queries, row lock waits
	"cache": 0.15,  # the app cache's hit ratio
	"resources": 0.15,  # CPU, memory and disk headroom
}
JOB_WAIT_TARGETS_MS = {"short": 5_000, "default": 30_000, "long": 300_000}  # p95 wait per queue/priority
# the Frappe queue of each coordinator priority: a wait recorded under a priority takes its target
PRIORITY_QUEUES = {"critical": "short", "high": "short", "normal": "default", "low": "long", "bulk": "long"}
PROBE_TARGET_MS = 20.0  # probe query latency that still scores 1
SLOW_QUERIES_PER_MIN_LIMIT = 10.0  # slow queries per minute at which that part scores 0
LOCK_WAITS_PER_MIN_LIMIT = 30.0  # InnoDB row lock waits per minute at which that part scores 0
RESOURCE_COMFORT_PERCENT = 70.0  # utilisation up to which a resource scores 1
RESOURCE_LIMIT_PERCENT = 95.0  # utilisation from which a resource scores 0
ENDPOINT_P95_MS = 1_000.0  # endpoint p95 above which (with enough requests) it is a bottleneck
ENDPOINT_MIN_COUNT = 20  # requests an endpoint needs in the window before its p95 counts
QUEUE_BACKLOG_LIMIT = 100  # queued jobs above which a queue is a bottleneck
CACHE_LOW_HIT_RATIO = 0.5  # a cached function under this hit ratio ...
CACHE_MIN_MISSES = 100  # ... with at least this many misses is a bottleneck
CAP_SATURATED_MINUTES = 5  # minutes a concurrency cap must stay full to be a bottleneck
RESOURCE_PRESSURE_PERCENT = 85.0  # CPU, memory or disk utilisation from which it is a bottleneck
ALERT_BREACHES = 3  # consecutive breaching readings that open an alert
ALERT_HEALTHY = 3  # consecutive healthy readings that resolve it
ALERT_THRESHOLDS = {  # metric -> value above which a reading breaches
	"score": None,  # the score breaches when *below* SCORE_ALERT_BELOW instead
	"request_p95_ms": 2_000.0,
	"request_error_rate": 0.05,
	"job_failure_rate": 0.10,
	"db_probe_ms": 200.0,
	"cpu_percent": 90.0,
	"memory_percent": 90.0,
	"disk_percent": 90.0,
}
SCORE_ALERT_BELOW = 50.0  # a score under this breaches
SNAPSHOT_RETENTION_DAYS = 90  # Performance Snapshot rows older than this are purged
SNAPSHOT_PURGE_BATCH = 1_000  # rows deleted per statement while purging
PROBE_QUERIES = (  # (label, SQL, parameters or a query drawing them from real rows): timed and EXPLAINed
	("member payments by member",
	 "SELECT `name`, `amount` FROM `tabMember Payment` WHERE `member` = %s ORDER BY `posting_date` DESC LIMIT 10",
	 "SELECT `member` FROM `tabMember Payment` ORDER BY `modified` DESC LIMIT 5"),
)  # fmt: skip

# ---------------------------------------------------------------- API security
API_RATE_LIMIT_EXPENSIVE = 30  # calls per window a client may make to an expensive endpoint
API_RATE_LIMIT_SECONDS = 60  # the rate-limit window of expensive endpoints, in seconds

# ---------------------------------------------------------------- index manager
INDEX_MEASURE_REPEATS = 15  # probe runs per measurement (p50/p95 over them, after one warm-up run)
INDEX_APPLY_MEASURE_REPEATS = 7  # probe runs before and after each index an apply adds
INDEX_AUTO_MEASURE_REPEATS = 0  # probe runs per index when after_migrate/after_install add one: none, migrate
# stays fast (presence is checked by columns only); measuring is the job's and the CLI's
INDEX_MIN_ROWS_FOR_COMPARISON = 10_000  # below this many table rows a before/after ratio means nothing
INDEX_LOCK_WAIT_TIMEOUT = 30  # seconds index DDL waits for a metadata lock before giving up
INDEX_CONFIRM_ROWS = 1_000_000  # `bench ... indexes apply` asks for --yes on a table with more rows than this
INDEX_CONFIRM_ROWS_CONFIG_KEY = "verenigingen_index_confirm_rows"  # site config: overrides INDEX_CONFIRM_ROWS
INDEX_LOCK_WAIT_TIMEOUT_CONFIG_KEY = (
	"verenigingen_index_lock_wait_timeout"  # site config override of the above
)
INDEX_OLD_TRANSACTION_SECONDS = (
	60  # a transaction this old on the table's database stops an online ALTER (unless told to wait)
)
INDEX_OLD_TRANSACTION_CONFIG_KEY = (
	"verenigingen_index_old_transaction_seconds"  # site config override of the above
)
INDEX_AUTO_APPLY_CONFIG_KEY = "verenigingen_auto_index"  # site config flag: false turns automatic apply off
INDEX_API_RATE_LIMIT = 30  # calls of database_index_manager_api per user and window
INDEX_API_RATE_WINDOW = 3600  # seconds of the API's rate-limit window

# Index advisor
ADVISOR_SAMPLE_ROWS = 50_000  # rows a scratch copy of a table holds at most (a random sample)
ADVISOR_MIN_TABLE_ROWS = 1_000  # tables under this many rows get no suggestion: a scan is as fast
ADVISOR_MIN_SPEEDUP = 2.0  # a candidate is suggested only if it makes a shape this many times faster
ADVISOR_RUNS = 7  # timed runs per shape and index setting on the scratch copies (p50 over them)
ADVISOR_MAX_SUGGESTIONS = 10  # suggestions reported at most (the ones serving the most workload time)
ADVISOR_MAX_CANDIDATES = 40  # candidates proven at most per run (the ones that may serve the most time)
ADVISOR_MAX_COVERING_COLUMNS = 5  # a covering variant only for shapes reading at most this many columns
ADVISOR_WEIGHT_SAMPLES = 3  # statements per shape run once on the full tables to weigh a workload file
ADVISOR_STATEMENT_TIMEOUT = 10.0  # seconds any statement the advisor times may run (max_statement_time)
ADVISOR_SLOW_LOG_LIMIT = 100_000  # newest slow-log entries read at most
ADVISOR_REPORT_TTL = 30 * 86_400  # seconds a site keeps its latest advisor report in Redis
ADVISOR_WORKLOAD_MAX_BYTES = 5_000_000  # largest workload text the site API accepts

# ---------------------------------------------------------------- job coordinator (performance/jobs/)
JOB_CAP_CRITICAL = 2  # CRITICAL jobs (payments, SEPA) that may run at once across every worker
JOB_CAP_HIGH = 3  # HIGH jobs that may run at once
JOB_CAP_NORMAL = 5  # NORMAL jobs that may run at once
JOB_CAP_LOW = 2  # LOW jobs that may run at once
JOB_CAP_BULK = 1  # BULK jobs (imports) that may run at once, so they never take every worker
JOB_TIMEOUT_SHORT = 300  # seconds a CRITICAL or HIGH attempt may run (Frappe's short queue timeout)
JOB_TIMEOUT_DEFAULT = 300  # seconds a NORMAL attempt may run (Frappe's default queue timeout)
JOB_TIMEOUT_LONG = 1500  # seconds a LOW or BULK attempt may run (Frappe's long queue timeout)
JOB_RQ_TIMEOUT_MARGIN = 60  # seconds RQ's own timeout exceeds the coordinator's, so ours fires first
JOB_LEASE_TTL = 60.0  # seconds a running job's slot lease lives without a heartbeat (worker presumed dead)
JOB_ADMISSION_TTL = 900.0  # seconds a slot reserved for a job admitted to RQ waits for a worker to start it
JOB_WATCHDOG_TICK = 1.0  # seconds between heartbeats (and cancel checks) of a running job, at most
JOB_FINISHED_TTL = 86_400  # seconds a finished job's record is kept
JOB_FAILED_TTL = 7 * 86_400  # seconds a failed, cancelled or dependency_failed job's record is kept
JOB_SAMPLES = 1_000  # wait/run samples kept per priority for p50/p95 and throughput
JOB_STATS_WINDOW = 900.0  # seconds of recent samples queue_status() summarises
JOB_LOAD_CPU_HIGH = 85.0  # CPU percent above which NORMAL, LOW and BULK caps are lowered
JOB_LOAD_MEMORY_HIGH = 90.0  # memory percent above which NORMAL, LOW and BULK caps are lowered
JOB_LOAD_CPU_LOW = 70.0  # CPU percent under which (with memory under its low mark) caps are restored
JOB_LOAD_MEMORY_LOW = 80.0  # memory percent under which (with CPU under its low mark) caps are restored
JOB_LOAD_CHANGES_KEPT = 50  # cap changes of the load controller kept for queue_status()
JOB_RECONCILE_BATCH = 200  # expired leases / due retries handled per reconcile pass
JOB_CHAIN_JOBS = 100  # jobs one RQ job may run in a row (admitted as slots free) before handing over to RQ
JOB_CHAIN_SECONDS = 5.0  # seconds one RQ job may keep running admitted jobs before handing over to RQ

# ---------------------------------------------------------------- baselines
BASELINE_RUNS = 200  # timed runs of each baseline operation (split evenly over the rounds)
BASELINE_WARMUP = 20  # untimed runs before timing starts (caches, buffer pool, query plans)
BASELINE_ROUNDS = 5  # rounds whose medians' spread is the operation's recorded noise
BASELINE_MIN_TOLERANCE = 0.10  # a p50 ratio within 1 +/- this is never a regression, however quiet the run
BASELINE_MIN_EFFECT = 0.20  # a verdict needs a p50 ratio beyond 1 + this (or 1 / (1 + this)) ...
# ... and a 95 % interval wholly on that side of 1: significant, and large enough to matter
BASELINE_BOOTSTRAP = 1_000  # bootstrap resamples of the p50 ratio (rounds, then runs within them)
BASELINE_CONFIDENCE = 0.95  # the confidence of the p50 ratio's interval
BASELINE_MIN_DIFFERENCE_MS = 0.1  # p50s closer than this (ms) never make a regression or improvement
BASELINE_SAMPLE_SEED = 42  # seed of the parameter values drawn from the data for the operations
BASELINE_MAX_AGE_DAYS = 30  # a baselines file older than this is reported as stale by the readiness check
BASELINE_CACHED_MEMBERS = 10  # members whose page the cached-summary operation revisits (its working set)

# ---------------------------------------------------------------- readiness
# Weights of the readiness score (README): 100 x sum(weight x value) / sum(weights).
READINESS_WEIGHTS = {  # readiness describes the site; the code's guard audit is reported apart, unweighted
	"cache": 20,  # the cache serves most reads: without it every page goes to the database
	"invalidation": 20,  # stale data after a change is a correctness problem, not only a slow one
	"jobs": 15,  # background work (index DDL, snapshots, baselines) runs through the coordinator
	"database": 20,  # connection, version, catalog indexes: the floor every screen stands on
	"monitoring": 15,  # samples and snapshots: the layer can see itself
	"baselines": 10,  # baselines measured on this site, and no regression in the last compare
}
READINESS_CACHE_MAX_MS = 20.0  # a Redis probe round trip slower than this is degraded
READINESS_PING_TIMEOUT = 10.0  # seconds the ping job may take through the coordinator and a worker
READINESS_RECONCILE_MAX_AGE = 180.0  # seconds since the coordinator's last reconcile before it is stale
READINESS_MONITORING_MINUTES = 15  # minutes in which metric samples must have been recorded
READINESS_SNAPSHOT_MAX_AGE = 900.0  # seconds since the last Performance Snapshot before it is stale
READINESS_MIN_MARIADB = (10, 6)  # the oldest MariaDB Frappe v15 supports
BASELINE_JOB_TIMEOUT = 30.0  # seconds one baseline job round trip may take before the run fails

# ---------------------------------------------------------------- in-process cache tier (local_tier.py)
TIER_MAX_ENTRIES = 10_000  # entries one process's tier holds at most (least recently used out first)
TIER_MAX_BYTES = 64 * 2**20  # encoded bytes of values one process's tier holds at most
TIER_HEARTBEAT = 0.015  # seconds between heartbeats on the tracking connection while the tier is in use
# Seconds since the last answered heartbeat after which the tier serves nothing: the bound on how
# long after an invalidation returned any process may still serve the old value.
TIER_STALE_AFTER = 0.045
TIER_SLOW_AFTER = 1.0  # seconds a heartbeat may go unanswered before the tier drops the connection
TIER_IDLE_AFTER = 5.0  # seconds without lookups after which heartbeats stop (next lookup: Redis once)
TIER_TICK_SECONDS = 1.0  # seconds between publications of a process's tier statistics
TIER_PROCESS_ROW_TTL = 60.0  # seconds after which a silent process no longer counts in tier stats()
