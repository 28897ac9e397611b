"""A site's advisor reports in Redis: the latest one, and each by the job that made it.

Kept under the app's own root (:mod:`...keys`), so ``frappe.clear_cache()`` leaves them alone;
each expires after ``ADVISOR_REPORT_TTL`` seconds.
"""

import json

from ...defaults import ADVISOR_REPORT_TTL
from ...keys import KeyBuilder


class AdviceStore:
	"""Reports of one site (``namespace``) on a plain redis-py client."""

	def __init__(self, redis, namespace: str, *, ttl: int = ADVISOR_REPORT_TTL):
		self.redis = redis
		self.keys = KeyBuilder(namespace)
		self.ttl = int(ttl)

	def _key(self, which: str) -> str:
		return self.keys.key("indexes", "advice", which)

	def save(self, report: dict, job_id: str | None = None) -> None:
		"""Store ``report`` as the latest (and under ``job_id``), as JSON."""
		payload = json.dumps(report, default=str)
		pipe = self.redis.pipeline()
		pipe.set(self._key("latest"), payload, ex=self.ttl)
		if job_id:
			pipe.set(self._key(f"job-{job_id}"), payload, ex=self.ttl)
		pipe.execute()

	def latest(self) -> dict | None:
		return self._load(self._key("latest"))

	def for_job(self, job_id: str) -> dict | None:
		return self._load(self._key(f"job-{job_id}"))

	def _load(self, key: str) -> dict | None:
		raw = self.redis.get(key)
		if raw is None:
			return None
		return json.loads(raw.decode() if isinstance(raw, bytes) else raw)
