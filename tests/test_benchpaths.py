"""Finding a bench's sites folder for the scripts' --site mode (they must run from it, as bench does)."""

import pytest

from verenigingen.performance.benchpaths import find_sites_folder
from verenigingen.performance.exceptions import DatabaseConnectionError, SitesFolderNotFoundError


@pytest.fixture
def bench(tmp_path):
	"""A bench layout: sites/ (with apps.txt) and apps/verenigingen/ beside it."""
	(tmp_path / "sites").mkdir()
	(tmp_path / "sites" / "apps.txt").write_text("frappe\nverenigingen\n")
	(tmp_path / "apps" / "verenigingen" / "scripts").mkdir(parents=True)
	(tmp_path / "logs").mkdir()
	return tmp_path


def test_found_from_the_bench_folder_the_sites_folder_or_beside_the_app(bench, tmp_path_factory):
	sites = (bench / "sites").resolve()
	app = bench / "apps" / "verenigingen"
	assert find_sites_folder(cwd=bench) == sites
	assert find_sites_folder(cwd=sites) == sites
	elsewhere = tmp_path_factory.mktemp("elsewhere")
	assert find_sites_folder(cwd=elsewhere, app_root=app) == sites  # apps/verenigingen/../../sites
	assert find_sites_folder("sites", cwd=bench) == sites
	assert find_sites_folder(str(sites), cwd=elsewhere) == sites


def test_a_folder_that_is_not_a_sites_folder_is_refused_with_where_it_looked(bench, tmp_path_factory):
	elsewhere = tmp_path_factory.mktemp("elsewhere")
	with pytest.raises(SitesFolderNotFoundError, match="no bench sites folder found .*give --sites-path"):
		find_sites_folder(cwd=elsewhere)
	with pytest.raises(SitesFolderNotFoundError, match="--sites-path logs: not a bench's sites folder"):
		find_sites_folder("logs", cwd=bench)
	assert issubclass(SitesFolderNotFoundError, DatabaseConnectionError)  # the scripts' exit status 2
