"""The main job's cache step on a small seeded database: misses, hits, an invalidation."""

import re

from tests.conftest import db_settings, redis_settings
from verenigingen.performance.keys import unlink_site
from verenigingen.showcase.__main__ import main


def test_cache_step_shows_misses_hits_and_an_invalidation(
	scratch_databases, redis_server_client, capsys, tmp_path, monkeypatch
):
	monkeypatch.chdir(tmp_path)  # the main job saves its results in reports/ of the current folder
	name = f"vtest_{scratch_databases.run_id}_showcase_cache"
	scratch_databases.created.append(name)  # dropped at the end of the session
	s = db_settings()
	r = redis_settings()
	argv = ["--members", "60", "--database", name, "--steps", "seed,cache", "--host", s["host"], "--port",
		str(s["port"]), "--user", s["user"], "--password", s["password"], "--redis-host", r["host"],
		"--redis-port", str(r["port"])]  # fmt: skip
	try:
		assert main(argv) == 0
	finally:
		unlink_site(redis_server_client, f"{name}-showcase")
	out = capsys.readouterr().out
	assert re.search(r"^first visit \(misses\) +50 ", out, re.M)
	assert re.search(r"^second visit \(hits\) +50 ", out, re.M)
	found = re.search(r"until the invalidation the cache says (\d+) .* and says (\d+)", out)
	assert found and int(found.group(2)) == int(found.group(1)) + 1
	assert re.search(r"this step: 5\d hits, \d+ misses \(1 after invalidation\)", out)
