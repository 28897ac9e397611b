"""``bench --site SITE run-tests --app verenigingen`` runs the shell conformance suite too.

Frappe's runner only finds unittest TestCases in the app package; the shell suite is pytest, in
the repository's ``tests/`` folder. This TestCase runs its conformance part against the site the
runner is on, in a pytest process of the bench's own Python (which needs the app's test extras:
``./env/bin/pip install -e "apps/verenigingen[test]"``).
"""

import subprocess
import sys
import unittest
from pathlib import Path

import frappe

REPO = Path(__file__).resolve().parents[2]


class TestShellConformance(unittest.TestCase):
	def test_frappe_conformance_suite_passes_on_this_site(self):
		suite = REPO / "tests" / "test_frappe_conformance.py"
		self.assertTrue(suite.is_file(), f"the shell suite is not next to the app: {suite} is missing")
		sites_path = Path(frappe.local.sites_path).resolve()
		done = subprocess.run(
			[sys.executable, "-m", "pytest", str(suite), "-q", "-p", "no:cacheprovider",
				"--frappe-site", frappe.local.site, "--sites-path", str(sites_path)],
			cwd=REPO, capture_output=True, text=True, timeout=900,
		)  # fmt: skip
		output = done.stdout + done.stderr
		self.assertNotIn("No module named pytest", output, "install the app's test extras into the bench env")
		self.assertEqual(done.returncode, 0, output[-6000:])
		self.assertRegex(output, r"\d+ passed")
		self.assertNotRegex(output, r"\d+ skipped")
