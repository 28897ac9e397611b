"""What every showcase step receives: connections, settings and a printer."""

import sys
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class ShowcaseEnv:
	db: object  # verenigingen.performance.db.PyMySQLDatabase on the demo database
	redis: object  # a redis-py client
	namespace: str  # the demo "site" namespace for Redis keys
	members: int
	seed: int
	db_settings: dict
	redis_settings: dict
	out: TextIO = field(default_factory=lambda: sys.stdout)
	results: dict = field(default_factory=dict)  # what steps measured, for later steps and the report

	def heading(self, text: str) -> None:
		self.out.write(f"\n== {text}\n")
		self.out.flush()

	def line(self, text: str = "") -> None:
		self.out.write(text + "\n")
		self.out.flush()

	def table(self, headers: list[str], rows: list[list]) -> None:
		"""Print rows as an aligned text table."""
		cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
		widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
		for n, row in enumerate(cells):
			self.line(
				"  ".join(
					c.ljust(w) if i == 0 else c.rjust(w)
					for i, (c, w) in enumerate(zip(row, widths, strict=True))
				)
			)
			if n == 0:
				self.line("  ".join("-" * w for w in widths))
