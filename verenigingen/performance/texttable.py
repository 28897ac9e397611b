"""Plain-text tables for terminals: the one renderer of the scripts, the bench commands and the
core's own reports."""

from collections.abc import Iterable, Sequence


def render_table(
	headers: Sequence, rows: Iterable[Sequence], *, right: Iterable[int] = (), none: str = ""
) -> str:
	"""Columns padded to their widest cell, a rule under the headers; the columns in ``right``
	(numbers) aligned right, the others left; ``None`` cells shown as ``none``."""
	right = set(right)
	cells = [[str(h) for h in headers]] + [[none if c is None else str(c) for c in row] for row in rows]
	widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
	lines = []
	for n, row in enumerate(cells):
		padded = [
			c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
		]
		lines.append("  ".join(padded).rstrip())
		if n == 0:
			lines.append("  ".join("-" * w for w in widths))
	return "\n".join(lines)
