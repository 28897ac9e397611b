"""The bench around a real site: where its sites folder is, and a real worker for its jobs.

Nothing here builds a bench or assumes how one was built: the sites folder is found from this
app's place in the bench (``apps/verenigingen`` -> ``sites``) or given, and a site's MariaDB and
Redis come from that site's own config (``frappe.conf``), never from the machine defaults the
core tests use.
"""

import os
import subprocess
import sys
from pathlib import Path

APP_ROOT = Path(__file__).resolve().parents[1]


class SiteNotFound(Exception):
	pass


def find_sites_path(site: str, given: str | None = None) -> Path:
	"""The bench's sites folder holding ``site``: ``given``, else ``<bench>/sites`` when this app
	sits in ``<bench>/apps/``, else the current folder. Raises SiteNotFound naming where it looked."""
	candidates = [Path(given)] if given else [APP_ROOT.parent.parent / "sites", Path.cwd()]
	for path in candidates:
		if (path / site / "site_config.json").is_file():
			return path.resolve()
	looked = ", ".join(str(p) for p in candidates)
	raise SiteNotFound(
		f"no site {site!r} (with a site_config.json) in {looked}; run from the app's folder inside the "
		"bench (apps/verenigingen) or pass --sites-path BENCH/sites"
	)


def run_burst_worker(sites_path: Path, queues: str = "short,default,long", timeout: float = 120) -> str:
	"""Run a real bench worker (``bench worker --burst``: Frappe's RQ worker, a forked work horse
	per job) until the bench's queues are empty; return its output. Fails on a non-zero exit."""
	command = [
		sys.executable,
		"-m",
		"frappe.utils.bench_helper",
		"frappe",
		"worker",
		"--queue",
		queues,
		"--burst",
	]
	env = dict(os.environ)
	env.pop("CI", None)  # a worker under CI sets flags.in_test, which the tests do not want here
	done = subprocess.run(command, cwd=sites_path, env=env, capture_output=True, text=True, timeout=timeout)
	output = done.stdout + done.stderr
	if done.returncode != 0:
		raise AssertionError(f"bench worker exited with {done.returncode}:\n{output[-4000:]}")
	return output
