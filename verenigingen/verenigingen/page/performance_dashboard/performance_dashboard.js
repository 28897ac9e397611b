// Performance Dashboard: score and components, time series (frappe.Chart), bottlenecks,
// open alerts, queues per priority, cache statistics per level, index catalog status, and the
// index advisor's latest report (with a button that asks it for a new one, as a background job).
frappe.pages["performance-dashboard"].on_page_load = function (wrapper) {
	const page = frappe.ui.make_app_page({ parent: wrapper, title: __("Performance Dashboard"), single_column: true });
	const state = { window: "24h" };
	const field = page.add_field({
		fieldname: "window", label: __("Window"), fieldtype: "Select",
		options: ["1h", "6h", "24h", "7d", "30d"], default: "24h",
		change() { state.window = field.get_value(); load(); },
	});
	page.set_primary_action(__("Refresh"), () => load());
	page.add_inner_button(__("Suggest indexes"), () => {
		frappe.prompt(
			[
				{ fieldname: "workload", fieldtype: "Code", label: __("Workload: SQL statements, one per line (empty: the slow log)") },
				{ fieldname: "since_minutes", fieldtype: "Int", label: __("Slow log: the last minutes"), default: 1440 },
			],
			(values) => {
				const args = { action: "suggest" };
				if (values.workload && values.workload.trim()) args.workload = values.workload;
				else if (values.since_minutes) args.since_minutes = values.since_minutes;
				frappe.xcall("verenigingen.api.indexes.database_index_manager_api", args).then((r) =>
					frappe.show_alert({ message: __("The index advisor runs as background job {0}", [r.job_id]), indicator: "blue" })
				);
			},
			__("Index advisor"),
			__("Suggest")
		);
	});
	const $body = $('<div class="performance-dashboard"></div>').appendTo(page.main);

	const esc = (v) => frappe.utils.escape_html(v === null || v === undefined ? "–" : String(v));
	const table = (headers, rows) =>
		`<table class="table table-bordered table-sm"><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead>` +
		`<tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`).join("") ||
			`<tr><td colspan="${headers.length}">${__("Nothing to show")}</td></tr>`}</tbody></table>`;
	const section = (title, html) => `<div class="frappe-card p-3 mb-3"><h5>${esc(title)}</h5>${html}</div>`;

	function render(summary, series) {
		if (!summary.enabled) {
			$body.html(section(__("Monitoring is not enabled"), esc(summary.message)));
			return;
		}
		const comps = Object.entries(summary.components).map(([k, c]) => [k, (c.score * 100).toFixed(0), c.effective_weight]);
		const missing = Object.entries(summary.missing).map(([k, why]) => [k, why]);
		const tier = (summary.cache || {}).local;
		const html = [
			section(__("Score"), `<h2>${summary.score === null ? __("not measured") : esc(summary.score)}</h2>` +
				table([__("Component"), __("Score"), __("Weight")], comps) +
				(missing.length ? `<p class="text-muted">${__("Left out for lack of data:")}</p>` + table([__("Component"), __("Why")], missing) : "")),
			section(__("Requests"), '<div class="chart-requests"></div>'),
			section(__("Score over time"), '<div class="chart-score"></div>'),
			section(__("Bottlenecks"), table([__("Rule"), __("Subject"), __("Severity"), __("Evidence"), __("Recommendation")],
				summary.bottlenecks.map((b) => [b.rule, b.subject, b.severity, JSON.stringify(b.evidence), b.recommendation]))),
			section(__("Open alerts"), table([__("Metric"), __("Severity"), __("Value"), __("Threshold"), __("Since")],
				summary.open_alerts.map((a) => [a.metric, a.severity, a.value, a.threshold, a.first_seen]))),
			section(__("Queues"), table([__("Queue"), __("Length"), __("Workers"), __("Failed"), __("Oldest wait (s)")],
				Object.entries(summary.queues || {}).map(([k, q]) => [k, q.length, q.workers, q.failed, q.oldest_wait_s]))),
			section(__("Job priorities"), table([__("Priority"), __("Running"), __("Cap"), __("Queued")],
				Object.entries(summary.job_priorities || {}).map(([k, p]) => [k, p.running, p.cap, p.queued]))),
			section(__("Cache by level"), table([__("Level"), __("Hits"), __("of which in-process"), __("Misses")],
				Object.entries((summary.cache || {}).levels || {}).map(([k, l]) => [k, l.hits, l.local_hits, l.misses]))),
			tier ? section(__("In-process cache tier"), table(
				[__("Processes"), __("Entries"), __("Bytes held"), __("Evictions"), __("Refused installs"), __("Flushes by cause")],
				[[tier.processes, tier.entries, tier.bytes, tier.evictions, tier.refused_installs,
					Object.entries(tier.flushes || {}).filter(([, n]) => n).map(([c, n]) => `${c}: ${n}`).join(", ") || "0"]])) : "",
			section(__("Index catalog"), table([__("Index"), __("Table"), __("Columns"), __("State")],
				(summary.indexes || []).map((i) => [i.name, i.table, (i.columns || []).join(", "), i.state]))),
			section(__("Index advisor"), '<div class="index-advice"></div>'),
		].join("");
		$body.html(html);
		const points = (series.requests && series.requests.points) || [];
		if (points.length) {
			new frappe.Chart($body.find(".chart-requests")[0], {
				type: "line", height: 220,
				data: {
					labels: points.map((p) => p.t.slice(11)),
					datasets: [
						{ name: __("Requests/min"), values: points.map((p) => p.per_min) },
						{ name: __("p95 ms"), values: points.map((p) => p.p95_ms || 0) },
					],
				},
			});
		}
		const snaps = (series.snapshots || []).filter((s) => s.score !== null);
		if (snaps.length) {
			new frappe.Chart($body.find(".chart-score")[0], {
				type: "line", height: 200,
				data: { labels: snaps.map((s) => s.t), datasets: [{ name: __("Score"), values: snaps.map((s) => s.score) }] },
			});
		}
	}

	const speedups = (s) => s.shapes.map((e) => `${e.id} ${e.speedup === null ? "–" : e.speedup.toFixed(1) + "x"}`).join(", ");
	const size = (b) => (b === null || b === undefined ? __("unknown") : `${(b / 1048576).toFixed(1)} MiB`);

	function renderAdvice(report) {
		const $el = $body.find(".index-advice");
		if (!report) {
			$el.html(`<p class="text-muted">${esc(__("No report yet: use Suggest indexes."))}</p>`);
			return;
		}
		const w = report.workload;
		$el.html(
			`<p class="text-muted">${esc(__("{0}: {1} statements, {2} shapes; {3} not analysed. Proven on scratch copies; nothing was changed.", [
				report.generated_at, w.statements, w.shapes, w.problems.length]))}</p>` +
			table([__("Index"), __("Table"), __("Columns"), __("Share of time"), __("Speed-up per shape"), __("Size (est.)"), __("DDL")],
				report.suggestions.map((s) => [s.name, s.table, s.columns.join(", "), `${(s.share * 100).toFixed(1)}%`, speedups(s), size(s.estimated_size_bytes), s.ddl])) +
			`<p>${esc(__("Unused by this workload: {0}; redundant: {1} (to review, never dropped).", [
				report.unused_indexes.map((u) => `${u.table}.${u.index}`).join(", ") || "–",
				report.redundant_indexes.map((r) => `${r.table}.${r.index}`).join(", ") || "–"]))}</p>`
		);
	}

	function load() {
		Promise.all([
			frappe.xcall("verenigingen.api.monitoring.get_performance_summary"),
			frappe.xcall("verenigingen.api.monitoring.get_performance_dashboard_data", { window: state.window }),
		]).then(([summary, series]) => {
			render(summary, series);
			frappe.xcall("verenigingen.api.indexes.get_index_advice").then((r) => renderAdvice(r.report));
		});
	}
	load();
};
