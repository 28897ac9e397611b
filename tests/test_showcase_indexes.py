"""The main job's index step: measure every probe, apply the catalogs, measure again, print the table."""

import re

from verenigingen.showcase.__main__ import main

from .conftest import db_settings, redis_settings


def _argv(name, steps):
	s, r = db_settings(), redis_settings()
	return ["--members", "300", "--database", name, "--steps", steps, "--host", s["host"], "--port", str(s["port"]),
		"--user", s["user"], "--password", s["password"], "--redis-host", r["host"], "--redis-port", str(r["port"])]  # fmt: skip


def test_index_step_prints_before_and_after(scratch_databases, capsys, tmp_path, monkeypatch):
	monkeypatch.chdir(tmp_path)  # the main job saves its results in reports/ of the current folder
	name = f"vtest_{scratch_databases.run_id}_showidx"
	scratch_databases.created.append(name)
	assert main(_argv(name, "seed,indexes")) == 0
	out = capsys.readouterr().out
	assert "Index manager: the index catalogs" in out
	assert "idx_sinv_customer_date: table 'tabSales Invoice' does not exist" in out
	assert re.search(r"^idx_payment_member_date +[\d,]+ +[\d.]+ +[\d.]+ +ALL -> ref ", out, re.M)
	assert "too small for a difference to show" in out  # 300 members: no ratios are claimed
	assert "faster" not in out
	# A second run (without seeding) first drops what the first one added, then measures again.
	assert main(_argv(name, "indexes")) == 0
	again = capsys.readouterr().out
	assert "dropped 8 index(es) a previous run had added" in again
	assert re.search(r"^idx_payment_sepa_batch +[\d,]+ ", again, re.M)
