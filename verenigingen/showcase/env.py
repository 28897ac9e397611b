"""What every showcase step receives: connections, settings and a printer."""

import re
import sys
from dataclasses import dataclass, field
from typing import TextIO

from verenigingen.performance.texttable import render_table

from .fmt import sig


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

	def start_fresh(self) -> int:
		"""Remove every Redis key of the demo site (and of its job demo) a previous run left, so this
		run's cache, monitoring and job figures are this run's only. Returns how many were removed."""
		from verenigingen.performance.keys import unlink_site

		removed = sum(unlink_site(self.redis, ns) for ns in (self.namespace, f"{self.namespace}-jobs"))
		self.line(f"(fresh Redis namespace {self.namespace}: removed {removed:,} key(s) a previous run left)")
		return removed

	def step_done(self, name: str, seconds: float) -> None:
		"""Record and print how long a step took."""
		self.results.setdefault("step_seconds", {})[name] = seconds
		self.line(f"(step {name} took {sig(seconds)} s)")

	def table(self, headers: list[str], rows: list[list]) -> None:
		"""Print rows as an aligned text table: numeric columns right-aligned, text left-aligned."""
		self.line(format_table(headers, rows))


_NUMBER = re.compile(r"^[-+]?[\d,]*\.?\d+(e[-+]?\d+)?( ?(%|x|ms|s|MB|GB))?$")
_PLACEHOLDERS = ("", "-", "n/m")


def is_numeric_column(cells: list[str]) -> bool:
	"""A column whose every filled cell is a number (with an optional unit) is aligned right."""
	filled = [c for c in cells if c.strip() not in _PLACEHOLDERS]
	return bool(filled) and all(_NUMBER.match(c.strip()) for c in filled)


def format_table(headers: list[str], rows: list[list]) -> str:
	cells = [[str(c) for c in row] for row in rows]
	right = [i for i in range(len(headers)) if is_numeric_column([r[i] for r in cells])]
	return render_table(headers, cells, right=right)
