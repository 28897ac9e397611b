"""Every whitelisted function over real HTTP on a real site: 200 with real data for Administrator,
403 for a plain desk user and for Guest; the cache statistics show the hits and misses just made.

Runs against the site given with ``--frappe-site``: it starts a gunicorn web server of the bench
(bound to 127.0.0.1 on a free port) serving ``frappe.app:application`` from the bench's sites
folder, authenticates with API keys made for the test (Administrator's previous key and secret are
put back afterwards, the desk user is deleted) and leaves no row behind. The test double has no
HTTP layer, so outside a bench this module is skipped.
"""

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from http.client import HTTPConnection
from urllib.parse import urlencode

import pytest

pytestmark = pytest.mark.shell

DESK_USER_ROLE = "Desk User"  # frappe.permissions.SYSTEM_USER_ROLE in v15: desk access, nothing else


def _free_port() -> int:
	with socket.socket() as s:
		s.bind(("127.0.0.1", 0))
		return s.getsockname()[1]


class Site:
	"""A web server of the bench serving the site, and requests to it."""

	def __init__(self, site: str, port: int):
		self.site, self.port = site, port

	def call(self, method: str, *, http: str = "GET", auth: str | None = None, **args):
		headers = {"Host": self.site, "Accept": "application/json"}
		if auth:
			headers["Authorization"] = f"token {auth}"
		path = f"/api/method/{method}"
		body = None
		if http == "GET":
			path += ("?" + urlencode(args)) if args else ""
		else:
			body = json.dumps(args)
			headers["Content-Type"] = "application/json"
		conn = HTTPConnection("127.0.0.1", self.port, timeout=120)
		try:
			conn.request(http, path, body=body, headers=headers)
			response = conn.getresponse()
			text = response.read().decode()
		finally:
			conn.close()
		try:
			data = json.loads(text)
		except ValueError:
			data = {"raw": text[:500]}
		return response.status, data


@pytest.fixture
def web(frappe_site):
	if frappe_site.is_double:
		pytest.skip("needs a real site and its web server (run with --frappe-site)")
	import frappe

	sites_path = os.path.abspath(frappe.local.sites_path)
	port = _free_port()
	log = open(os.path.join(sites_path, "..", "logs", f"verenigingen-test-web-{port}.log"), "w")
	server = subprocess.Popen(
		[sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1", "-t", "120",
		 "frappe.app:application"],
		cwd=sites_path, stdout=log, stderr=subprocess.STDOUT,
	)  # fmt: skip
	site = Site(frappe.local.site, port)
	deadline = time.monotonic() + 60
	while True:  # until the server answers (a real condition, bounded)
		try:
			if site.call("ping")[0] == 200:
				break
		except OSError:
			pass
		if server.poll() is not None or time.monotonic() > deadline:
			server.kill()
			log.close()
			pytest.fail(f"the web server did not come up on port {port} (see {log.name})")
		time.sleep(0.2)
	try:
		yield site
	finally:
		server.terminate()
		try:
			server.wait(timeout=30)
		except subprocess.TimeoutExpired:
			server.kill()
		log.close()
		os.unlink(log.name)


def _api_token(frappe, user: str) -> str:
	from frappe.utils.password import set_encrypted_password

	key, secret = secrets.token_hex(8), secrets.token_hex(8)
	frappe.db.set_value("User", user, "api_key", key, update_modified=False)
	set_encrypted_password("User", user, secret, "api_secret")
	return f"{key}:{secret}"


@pytest.fixture
def tokens(web):
	"""API tokens for Administrator and a plain desk user; everything put back afterwards."""
	import frappe

	admin_key = frappe.db.get_value("User", "Administrator", "api_key")
	admin_secret = frappe.db.sql(
		"SELECT `password`, `encrypted` FROM `__Auth` WHERE `doctype`='User' AND `name`='Administrator' "
		"AND `fieldname`='api_secret'"
	)
	desk = f"desk-{uuid.uuid4().hex[:8]}@example.org"
	frappe.get_doc(
		{"doctype": "User", "email": desk, "first_name": "Desk", "send_welcome_email": 0,
		 "roles": [{"role": DESK_USER_ROLE}]}
	).insert(ignore_permissions=True)  # fmt: skip
	made = {"Administrator": _api_token(frappe, "Administrator"), "desk": _api_token(frappe, desk)}
	frappe.db.commit()
	try:
		yield made
	finally:
		frappe.db.rollback()
		frappe.db.set_value("User", "Administrator", "api_key", admin_key, update_modified=False)
		frappe.db.sql(
			"DELETE FROM `__Auth` WHERE `doctype`='User' AND `name` IN (%s, %s) AND `fieldname`='api_secret'",
			("Administrator", desk),
		)
		for password, encrypted in admin_secret:
			frappe.db.sql(
				"INSERT INTO `__Auth` (`doctype`, `name`, `fieldname`, `password`, `encrypted`) "
				"VALUES ('User', 'Administrator', 'api_secret', %s, %s)",
				(password, encrypted),
			)
		frappe.delete_doc("User", desk, ignore_permissions=True, force=True)
		frappe.db.commit()


@pytest.fixture
def member(web):
	"""A committed Member (the web server reads it in its own transactions); deleted afterwards."""
	import frappe

	tag = uuid.uuid4().hex[:8]
	doc = frappe.get_doc(
		{"doctype": "Member", "member_id": f"HTTP-{tag}", "first_name": "Http", "last_name": "Test",
		 "email": f"http-{tag}@example.org", "status": "Active"}
	).insert(ignore_permissions=True)  # fmt: skip
	frappe.db.commit()
	try:
		yield doc.name
	finally:
		frappe.db.rollback()
		frappe.delete_doc("Member", doc.name, ignore_permissions=True, force=True)
		frappe.db.commit()


def _calls(member: str) -> list[tuple[str, str, dict]]:
	"""(method, HTTP method, arguments) of every whitelisted function of the app."""
	api = "verenigingen.api."
	return [
		(api + "member.get_member_summary", "GET", {"member": member}),
		(api + "member.get_payment_history", "GET", {"member": member}),
		(api + "member.get_chapter_statistics", "GET", {}),
		(api + "cache.get_cache_stats", "GET", {}),
		(api + "indexes.database_index_manager_api", "GET", {"action": "status"}),
		(api + "indexes.database_index_manager_api", "GET", {"action": "plan"}),
		(api + "indexes.database_index_manager_api", "GET", {"action": "redundant"}),
		(api + "indexes.get_index_advice", "GET", {}),
		(api + "jobs.get_queue_status", "GET", {}),
		(api + "monitoring.get_performance_summary", "GET", {}),
		(api + "monitoring.get_performance_dashboard_data", "GET", {"window": "1h"}),
		(api + "profiling.measure_member_performance", "GET", {"member": member}),
		(api + "readiness.validate_performance_infrastructure", "GET", {}),
		(api + "cache.clear_cache", "POST", {}),
	]


def test_every_whitelisted_function_over_http(web, tokens, member):
	import frappe

	from verenigingen.api.guard import admin_roles
	from verenigingen.performance.api_audit import APP_DIR, scan_whitelisted

	calls = _calls(member)
	covered = {m for m, _h, _a in calls} | {
		"verenigingen.api.jobs.get_job_status",
		"verenigingen.api.jobs.cancel_job",
	}
	assert covered == {f["path"] for f in scan_whitelisted(APP_DIR)}, "every whitelisted function is here"
	assert DESK_USER_ROLE not in admin_roles()

	for method, http, args in calls:
		status, data = web.call(method, http=http, auth=tokens["Administrator"], **args)
		assert status == 200, (method, args, data)
		assert data.get("message") is not None, (method, data)
		for who in (tokens["desk"], None):  # a plain desk user, then Guest
			status, data = web.call(method, http=http, auth=who, **args)
			assert status == 403, (method, who and "desk", status, data)

	# real data: the member summary is the member's, and the cache saw the calls just made
	web.call("verenigingen.api.cache.clear_cache", http="POST", auth=tokens["Administrator"])
	for _ in range(3):
		status, data = web.call(
			"verenigingen.api.member.get_member_summary", auth=tokens["Administrator"], member=member
		)
		assert status == 200 and data["message"]["name"] == member
	stats = web.call("verenigingen.api.cache.get_cache_stats", auth=tokens["Administrator"])[1]["message"]
	fn = stats["functions"]["verenigingen.api.member.member_summary"]
	assert fn["misses"] >= 1 and fn["hits"] >= 2, fn

	# a job of Administrator's: its status, then cancelled (POST)
	from verenigingen import frappe_bridge

	frappe.set_user("Administrator")
	job_id = frappe_bridge.job_coordinator().submit(
		"verenigingen.performance.readiness.ping", priority="bulk", job_id=f"http-{uuid.uuid4().hex[:8]}",
		user="Administrator",
	)  # fmt: skip
	try:
		status, data = web.call(
			"verenigingen.api.jobs.get_job_status", auth=tokens["Administrator"], job_id=job_id
		)
		assert status == 200 and data["message"]["job_id"] == job_id, data
		for who in (tokens["desk"], None):
			assert web.call("verenigingen.api.jobs.get_job_status", auth=who, job_id=job_id)[0] == 403
			assert (
				web.call("verenigingen.api.jobs.cancel_job", http="POST", auth=who, job_id=job_id)[0] == 403
			)
		status, data = web.call(
			"verenigingen.api.jobs.cancel_job", http="POST", auth=tokens["Administrator"], job_id=job_id
		)
		assert status == 200, data
		missing = web.call(
			"verenigingen.api.jobs.get_job_status", auth=tokens["Administrator"], job_id="no-such-job"
		)
		assert missing[0] == 404, missing
	finally:
		frappe_bridge.job_coordinator().cancel(job_id)
