"""Where a bench keeps its sites, for the scripts' ``--site`` mode (no frappe import).

Bench commands run with ``frappe-bench/sites`` as their working folder, and Frappe relies on it:
``frappe.init`` reads ``./<site>`` and ``./common_site_config.json``, its loggers write to
``../logs/``. A script run from elsewhere changes into that folder first.
"""

import os
from pathlib import Path

from .exceptions import SitesFolderNotFoundError

SITES_MARKERS = ("apps.txt", "common_site_config.json")


def is_sites_folder(path: Path) -> bool:
	return path.is_dir() and any((path / marker).is_file() for marker in SITES_MARKERS)


def find_sites_folder(
	sites_path: str | os.PathLike | None = None,
	*,
	cwd: str | os.PathLike | None = None,
	app_root: str | os.PathLike | None = None,
) -> Path:
	"""The bench's sites folder: ``sites_path`` if given, else ``./sites``, else the current folder if it
	is one, else the one beside the app (``apps/<app>/../../sites`` from ``app_root``)."""
	here = Path(cwd or os.getcwd())
	if sites_path:
		path = here / sites_path
		if not is_sites_folder(path):
			raise SitesFolderNotFoundError(
				f"--sites-path {sites_path}: not a bench's sites folder (it has no {' or '.join(SITES_MARKERS)})"
			)
		return path.resolve()
	candidates = [here / "sites", here]
	if app_root is not None:
		candidates.append(Path(app_root).resolve().parents[1] / "sites")
	for candidate in candidates:
		if is_sites_folder(candidate):
			return candidate.resolve()
	looked = ", ".join(str(c) for c in candidates)
	raise SitesFolderNotFoundError(
		f"no bench sites folder found (looked in {looked}): run from frappe-bench/ or give --sites-path"
	)
