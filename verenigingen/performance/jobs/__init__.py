"""The priority job coordinator on RQ: global concurrency caps per priority, retries,
dependencies, deduplication, cancel, load-driven caps and per-priority statistics.

Modules: ``priority`` (Priority, RetryPolicy, defaults per priority), ``leases`` (the Lua
scripts), ``coordinator`` (JobCoordinator), ``runner`` (what RQ workers run), ``load_control``
(LoadController), ``tracking`` (samples and statistics), ``rq_backend`` (the standalone enqueuer),
``submission`` (the checks of a submit).
"""

from .coordinator import RQ_RUNNER, JobCoordinator
from .load_control import LoadController, LoadReading, psutil_reading
from .priority import DEFAULT_CAPS, DEFAULT_QUEUES, DEFAULT_RETRY, Priority, RetryPolicy
from .rq_backend import RQEnqueuer, prefixed_queues, worker_queue_names
from .runner import Attempt, run_attempt, run_rq_job

__all__ = [
	"Attempt",
	"DEFAULT_CAPS",
	"DEFAULT_QUEUES",
	"DEFAULT_RETRY",
	"RQ_RUNNER",
	"JobCoordinator",
	"LoadController",
	"LoadReading",
	"Priority",
	"RQEnqueuer",
	"RetryPolicy",
	"prefixed_queues",
	"psutil_reading",
	"run_attempt",
	"run_rq_job",
	"worker_queue_names",
]
