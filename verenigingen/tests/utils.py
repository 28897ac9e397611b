"""The base of the app's DocType tests under ``bench run-tests``."""

from frappe.tests.utils import FrappeTestCase

from verenigingen import frappe_bridge
from verenigingen.tests.app_state import restore_app_keys, save_app_keys, site_clients


class AppTestCase(FrappeTestCase):
	"""FrappeTestCase (the class's writes are rolled back at its end) that also puts the app's Redis
	keys of the site back as they were, since a rollback does not reach Redis."""

	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		clients, namespace = site_clients(), frappe_bridge.namespace()
		cls.addClassCleanup(restore_app_keys, clients, namespace, save_app_keys(clients, namespace))
