app_name = "verenigingen"
app_title = "Verenigingen"
app_publisher = "Verenigingen maintainers"
app_description = "Association management with a measured performance and security layer"
app_email = "maintainers@verenigingen.invalid"
app_license = "mit"
# no required_apps: listing "frappe" makes install-app try to fetch it as an app (a network call)

# Installation
# ------------
after_install = "verenigingen.install.after_install"
# the index catalogs: present after every migrate (site config verenigingen_auto_index=0 turns it off)
after_migrate = ["verenigingen.indexes.after_migrate", "verenigingen.monitoring.publish_activation_level"]

# Monitoring: request and job timing, snapshots every five minutes, daily purge
# ------------
before_request = ["verenigingen.monitoring.before_request"]
after_request = ["verenigingen.monitoring.after_request"]
before_job = ["verenigingen.monitoring.before_job"]
after_job = ["verenigingen.monitoring.after_job"]
scheduler_events = {
	"cron": {
		"*/5 * * * *": ["verenigingen.monitoring.take_snapshot"],
		# the job coordinator: expired leases, due retries, load control, dispatch
		"* * * * *": [
			"verenigingen.jobs.reconcile",
			# the app cache's outbox: apply invalidations that never reached Redis, delete applied rows
			"verenigingen.caching.sweep_invalidations",
		],
	},
	"daily": ["verenigingen.monitoring.purge_snapshots"],
}

# The app cache: invalidate after commit on every document change (one outbox row per transaction);
# clear on `bench clear-cache`
# ------------
doc_events = {
	"*": {
		"after_insert": "verenigingen.events.on_document_change",
		"on_update": "verenigingen.events.on_document_change",
		"on_submit": "verenigingen.events.on_document_change",
		"on_cancel": "verenigingen.events.on_document_change",
		"on_update_after_submit": "verenigingen.events.on_document_change",
		"on_trash": "verenigingen.events.on_document_change",
		"after_rename": "verenigingen.events.on_document_change",
		"on_change": "verenigingen.events.on_document_change",  # the only event doc.db_set fires
	},
}
clear_cache = ["verenigingen.caching.clear_all", "verenigingen.monitoring.publish_activation_level"]
