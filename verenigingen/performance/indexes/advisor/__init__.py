"""The index advisor: indexes suggested from the real workload, proven before they are proposed.

* :mod:`.tokens` - a tokenizer for MariaDB SQL; splitting a workload file into statements
* :mod:`.query` - the SELECT subset: tables, sargable predicates, ORDER BY, GROUP BY; shapes
* :mod:`.workload` - workloads from a file or ``mysql.slow_log``, normalised to weighted shapes
* :mod:`.model` - a shape's use of each table, resolved against the schema
* :mod:`.candidates` - candidate indexes per shape, merged across shapes
* :mod:`.scratch` - scratch copies of tables holding a sample
* :mod:`.timing` - p50 timing and ANALYZE/EXPLAIN plans
* :mod:`.proof` - candidates built on the copies and timed; the suggestions chosen
* :mod:`.pipeline` - one advisor run (:func:`advise`) and its report
* :mod:`.report` - the report as text
* :mod:`.apply` - suggestions applied through the index manager
* :mod:`.store` - a site's latest report in Redis
"""

from .apply import WorkloadProbe, apply_advice
from .pipeline import Advice, AdvisorSettings, advise
from .report import render_text
from .workload import Workload, read_slow_log, read_workload_file, read_workload_text, slow_log_access

__all__ = [
	"Advice",
	"AdvisorSettings",
	"Workload",
	"WorkloadProbe",
	"advise",
	"apply_advice",
	"read_slow_log",
	"read_workload_file",
	"read_workload_text",
	"render_text",
	"slow_log_access",
]
