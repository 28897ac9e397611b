"""What the main job's steps measured, saved after each step so a later run can report it.

``reports/showcase-results.json`` holds the results of the last run of one demo database. A run
that seeds starts from nothing (the data changed); a run that does not reads the saved results
of its database and adds what its own steps measure.
"""

import json
import os
from datetime import datetime, timezone
from pathlib import Path

RESULTS_FILE = Path("reports") / "showcase-results.json"
FORMAT = 1


def load_results(database: str, path: Path = RESULTS_FILE) -> tuple[dict, str | None]:
	"""(results, saved at) of the last run on ``database``, or ({}, None) if there are none."""
	try:
		data = json.loads(Path(path).read_text(encoding="utf-8"))
	except (OSError, ValueError):
		return {}, None
	if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("database") != database:
		return {}, None
	results = data.get("results")
	return (results, data.get("saved")) if isinstance(results, dict) else ({}, None)


def save_results(database: str, results: dict, path: Path = RESULTS_FILE) -> Path:
	"""Write the results atomically (a temporary file renamed over the last one)."""
	path = Path(path)
	path.parent.mkdir(parents=True, exist_ok=True)
	doc = {
		"format": FORMAT,
		"database": database,
		"saved": datetime.now(timezone.utc).isoformat(timespec="seconds"),
		"results": results,
	}
	tmp = path.with_name(path.name + ".tmp")
	tmp.write_text(json.dumps(doc, indent=1, default=str) + "\n", encoding="utf-8")
	os.replace(tmp, path)
	return path
