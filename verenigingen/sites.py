"""Open a bench site from a standalone script's ``--site`` mode, the way bench commands do.

Importable outside a bench (frappe is imported only when a site is opened), so the scripts can
say in one line that ``--site`` needs the bench's Python instead of failing on the import.
"""

import os
from pathlib import Path

APP_ROOT = Path(__file__).resolve().parents[1]  # the repository: apps/verenigingen in a bench


def open_site(site: str, sites_path: str | None = None):
	"""Work from the bench's sites folder (Frappe logs to ``../logs`` from there), then
	``frappe.init`` and ``frappe.connect`` the site; return the ``frappe`` module. The caller
	``frappe.destroy()``s it when done; a connect that fails destroys what init set up."""
	from verenigingen.performance.benchpaths import find_sites_folder
	from verenigingen.performance.commandline import require_frappe

	require_frappe("--site")
	import frappe

	os.chdir(find_sites_folder(sites_path, app_root=APP_ROOT))
	frappe.init(site=site)
	try:
		frappe.connect()
	except BaseException:
		frappe.destroy()
		raise
	return frappe
