"""The database index manager: declarative specs, catalogs, online DDL, measured before and after.

* :mod:`.spec` - :class:`IndexSpec` and its :class:`Probe`
* :mod:`.catalog` - the performance and SEPA catalogs
* :mod:`.manager` - :class:`IndexManager` (inspect, plan, apply, verify, measure, rollback)
* :mod:`.ddl` - how its DDL runs: no pending writes, no old transactions, bounded lock waits
* :mod:`.changelog` - the "Index Change Log" table
* :mod:`.redundancy` - duplicate and left-prefix indexes
"""

from .catalog import CATALOGS, catalog, find_spec
from .changelog import ChangeLog
from .manager import IndexManager, Measurement, Plan, PlanItem, compare
from .redundancy import RedundantIndex, find_redundant
from .spec import IndexSpec, Probe


def index_catalog(name: str = "all") -> tuple[IndexSpec, ...]:
	"""The specs of index catalog ``name`` (``performance``, ``sepa`` or ``all``)."""
	return catalog(name)


def index_catalog_status(db, catalog_name: str = "all") -> dict:
	"""Plain data on the catalogs' indexes of a database (for monitoring): state and last change."""
	return IndexManager(db).status(catalog(catalog_name))


__all__ = [
	"CATALOGS",
	"ChangeLog",
	"IndexManager",
	"IndexSpec",
	"Measurement",
	"Plan",
	"PlanItem",
	"Probe",
	"RedundantIndex",
	"catalog",
	"compare",
	"find_redundant",
	"find_spec",
	"index_catalog",
	"index_catalog_status",
]
