"""The performance and security core of verenigingen. It never imports frappe.

Public names are re-exported here and loaded on first use, so importing the package
stays cheap and a module's own dependencies (RQ, psutil) load only when needed.
Each name maps to the module that owns it.
"""

from importlib import import_module

_EXPORTS: dict[str, str] = {
	# monitoring
	"Histogram": "histogram",
	"MetricStore": "histogram",
	"Sample": "histogram",
	"SampleBuffer": "samples",
	"Monitor": "monitoring",
	"MonitoringSettings": "monitoring",
	"AlertManager": "alerts",
	"find_bottlenecks": "bottlenecks",
	"InvalidMetricError": "exceptions",
	# job coordinator
	"Priority": "jobs",
	"RetryPolicy": "jobs",
	"JobCoordinator": "jobs",
	"LoadController": "jobs",
	"LoadReading": "jobs",
	"RQEnqueuer": "jobs",
	"InvalidJobError": "exceptions",
	"UnknownDependencyError": "exceptions",
	"NoSuchJobError": "exceptions",
	"JobDispatchError": "exceptions",
	"JobInterrupt": "exceptions",
	"JobCancelledError": "exceptions",
	"JobTimeoutError": "exceptions",
	"JobLeaseLostError": "exceptions",
	# foundation
	"KeyBuilder": "keys",
	"validate_namespace": "keys",
	"SecurityContext": "context",
	"roles_digest": "context",
	"Database": "db",
	"PyMySQLDatabase": "db",
	"quote_identifier": "db",
	"validate_identifier": "db",
	"table_name": "db",
	"drop_database": "db",
	"find_lock_holders": "locks",
	"lock_wait_timeout": "locks",
	"run_ddl": "locks",
	"MetadataLockTimeoutError": "exceptions",
	"OpenTransactionsError": "exceptions",
	"InvalidLockWaitError": "exceptions",
	"create_app_tables": "schema",
	"create_table_sql": "schema",
	"load_doctypes": "schema",
	"generate_dataset": "dataset",
	"DatasetSummary": "dataset",
	"ProgressBar": "progress",
	"PerformanceError": "exceptions",
	"UsageError": "exceptions",
	"InvalidIdentifierError": "exceptions",
	"InvalidNamespaceError": "exceptions",
	"InvalidSecurityContextError": "exceptions",
	"DatabaseConnectionError": "exceptions",
	"DocTypeDefinitionError": "exceptions",
	# index manager
	"IndexSpec": "indexes",
	"Probe": "indexes",
	"IndexManager": "indexes",
	"ChangeLog": "indexes",
	"RedundantIndex": "indexes",
	"index_catalog": "indexes",
	"index_catalog_status": "indexes",
	"InvalidIndexSpecError": "exceptions",
	"UnknownCatalogError": "exceptions",
	"UnknownDocTypeError": "exceptions",
	"UnknownColumnError": "exceptions",
	"IndexConflictError": "exceptions",
	"OnlineDDLUnsupportedError": "exceptions",
	"PendingWritesError": "exceptions",
	"IndexApplyError": "exceptions",
	# profiler
	"ProfilingDatabase": "profiler",
	"QueryRecord": "profiler",
	"normalize_sql": "profiler",
	"find_n_plus_one": "profiler",
	"find_full_scans": "profiler",
	"analyze": "profiler",
	"profile": "profiler",
	"profile_member": "profiler",
	"MemberNotFoundError": "exceptions",
	"BaselineFileError": "exceptions",
	# baselines, readiness, API audit
	"Suite": "baselines",
	"OPERATIONS": "baselines",
	"establish_baselines": "baselines",
	"compare_baselines": "baselines",
	"load_baselines": "baselines",
	"write_baselines": "baselines",
	"validate_baselines": "baselines",
	"ReadinessInputs": "readiness",
	"validate_readiness": "readiness",
	"readiness_score": "readiness",
	"scan_whitelisted": "api_audit",
	# security-aware cache
	"SecurityAwareCache": "cache",
	"LocalTier": "local_tier",
	"measure_freshness": "freshness",
	"SecurityLevel": "cache",
	"Scope": "cache",
	"Dependency": "invalidation",
	"DependencyGraph": "invalidation",
	"Generations": "invalidation",
	"InvalidationBatch": "invalidation",
	"InvalidationOutbox": "outbox",
	"CircuitBreaker": "breaker",
	"bounded_client": "bounded",
	"encode": "serialization",
	"decode": "serialization",
	"canonical_digest": "serialization",
	"member_summary": "summaries",
	"chapter_statistics": "summaries",
	"UnencodableValueError": "exceptions",
	"UncacheableValueWarning": "exceptions",
	"InvalidCacheArgumentError": "exceptions",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
	module = _EXPORTS.get(name)
	if module is None:
		raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
	value = getattr(import_module(f".{module}", __name__), name)
	globals()[name] = value
	return value


def __dir__() -> list[str]:
	return sorted(set(globals()) | set(__all__))
