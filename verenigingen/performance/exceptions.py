"""Every error the performance core raises, one line each, named for the failure."""


class PerformanceError(Exception):
	"""Base class of the core's errors."""


class InvalidNamespaceError(PerformanceError, ValueError):
	"""A site namespace is empty or contains characters that would break key isolation."""


class InvalidKeyPartError(PerformanceError, ValueError):
	"""A part of a Redis key is empty or not text."""


class InvalidSecurityContextError(PerformanceError, ValueError):
	"""A SecurityContext was built with an empty user or non-text roles."""


class InvalidIdentifierError(PerformanceError, ValueError):
	"""A table, column or index name is not a safe SQL identifier."""


class DatabaseConnectionError(PerformanceError):
	"""The database could not be reached with the settings given."""


class SitesFolderNotFoundError(DatabaseConnectionError):
	"""A script's ``--site`` mode found no bench ``sites`` folder (so no site and no database to reach)."""


class DocTypeDefinitionError(PerformanceError, ValueError):
	"""A DocType JSON file is missing, unreadable or not a DocType."""


class UnencodableValueError(PerformanceError, TypeError):
	"""A value holds a type the cache codec cannot round trip exactly (it is then returned uncached)."""


class UncacheableValueWarning(UserWarning):
	"""A computed value could not be encoded, so it was returned without being cached."""


class InvalidCacheArgumentError(PerformanceError, ValueError):
	"""A cache call got a bad level, scope, name, dependency or setting."""


class MemberNotFoundError(PerformanceError, LookupError):
	"""The member to profile or measure does not exist (or the name given is empty)."""


class BaselineFileError(PerformanceError, ValueError):
	"""A baselines file is missing, unreadable, or not of a schema version this code reads."""


class InvalidMetricError(PerformanceError, ValueError):
	"""A metric name, duration, quantile, window or monitoring setting is out of range."""


class InvalidIndexSpecError(PerformanceError, ValueError):
	"""An index spec or probe is malformed (no columns, a column twice, no purpose, no parameters)."""


class UnknownCatalogError(PerformanceError, ValueError):
	"""An index catalog or catalog spec name is not one the app knows."""


class UnknownDocTypeError(PerformanceError, ValueError):
	"""A DocType (or its table) is not in the database's own catalog."""


class UnknownColumnError(PerformanceError, ValueError):
	"""A column is not in the database's own catalog for its table."""


class IndexConflictError(PerformanceError):
	"""An index plan has conflicts (same name, other columns) or missing columns; nothing was changed."""


class OnlineDDLUnsupportedError(PerformanceError):
	"""The server cannot add the index in place without locking, and locking was not allowed."""


class PendingWritesError(PerformanceError):
	"""DDL was asked for while the connection's transaction holds uncommitted writes."""


class IndexApplyError(PerformanceError):
	"""Adding an index failed; the indexes this apply had added were dropped again."""


class MetadataLockTimeoutError(PerformanceError):
	"""DDL gave up waiting (lock_wait_timeout) for a metadata lock another connection holds; it names that connection."""


class OpenTransactionsError(PerformanceError):
	"""Transactions older than the threshold are open on the database an online DDL would change; it was not started."""


class InvalidLockWaitError(PerformanceError, ValueError):
	"""A lock wait timeout or transaction age threshold is not a number of seconds >= 0."""


class InvalidJobError(PerformanceError, ValueError):
	"""A job was submitted with a bad method, arguments, priority, id, retry policy or timeout."""


class UnknownDependencyError(PerformanceError, ValueError):
	"""A job depends on a job id the coordinator does not know (never submitted, or its record expired)."""


class NoSuchJobError(PerformanceError, LookupError):
	"""No record of a job with this id exists (never submitted, or its record expired)."""


class JobInterrupt(BaseException):
	"""Raised inside a running job to stop it; a BaseException so a job's ``except Exception`` cannot swallow it."""


class JobCancelledError(JobInterrupt):
	"""The running job was cancelled."""


class JobTimeoutError(JobInterrupt):
	"""The running job exceeded its timeout."""


class JobLeaseLostError(JobInterrupt):
	"""The running job's slot lease expired or was taken away; it must stop so it never runs twice at once."""


class JobDispatchError(PerformanceError):
	"""A job could not be handed to RQ; it stays waiting and a later dispatch or reconcile retries."""


class JobRoundTripError(PerformanceError):
	"""A job submitted to measure a round trip failed or did not finish in time."""


class SQLSyntaxError(PerformanceError, ValueError):
	"""A statement of an advisor workload cannot be tokenized or parsed (reported per statement)."""


class UnsupportedStatementError(SQLSyntaxError):
	"""A well-formed statement outside the SQL subset the index advisor reads (UNION, derived table, ...)."""


class WorkloadSourceError(PerformanceError):
	"""The advisor's workload cannot be read: no such file, or the slow log is off or not readable."""


class AdvisorPrivilegeError(PerformanceError):
	"""The database user may not do what the index advisor needs (read the tables, build its scratch copies)."""


class UsageError(PerformanceError, ValueError):
	"""A command-line tool was given bad input, or a service it needs cannot be reached (exit status 2)."""
