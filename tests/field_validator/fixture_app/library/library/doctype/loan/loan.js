// Copyright: fixture for the field validator tests
frappe.ui.form.on("Loan", {
	refresh(frm) {
		if (frm.doc.status === "Open") { // ok: field
			frm.add_custom_button(__("Return"), () => frm.trigger("mark_returned"));
		}
		frm.toggle_display("total_fine", frm.doc.docstatus === 1); // ok: field, standard column
		frm.toggle_display(["due_date", "loan_dte"], true); // expect: FV101
		frm.set_df_property("calculate_fines", "hidden", 0); // ok: a Button field has no column but is a field
		frm.set_df_property("calc_fines", "hidden", 0); // expect: FV101
		frm.set_df_property("items", "read_only", 1, frm.doc.name, "anything_here"); // ok: child-row form
		const label = `Fine: ${frm.doc.total_fin}`; // expect: FV101
		const text = "frm.doc.not_code"; // ok: inside a string
		// frm.doc.commented_out is not code
		/* frm.doc.block_comment neither */
		const re = /frm.doc.in_regex/g; // ok: a regular expression
		console.log(label, text, re, frm.doc.__islocal); // ok: private property
	},
	mark_returned(frm) { // ok: called through frm.trigger
		frm.set_value("status", "Returned"); // ok
		frm.set_value({ summary: "done", sumary: "x" }); // expect: FV101
		frm.set_value("stauts", "Returned"); // expect: FV101
		frm.events.helper(frm);
	},
	helper: function (frm) { // ok: called through frm.events
		frm.fields_dict.items.grid.refresh(); // ok
		frm.fields_dict.itmes.grid.refresh(); // expect: FV101
		frm.set_query("book", "items", () => ({ filters: { available: 1 } })); // ok: field of Loan Item rows
		frm.set_query("bok", "items", () => ({})); // expect: FV101
		frm.set_query("borrower", () => ({})); // ok
	},
	borrower: function (frm) { // ok: field change handler
		frm.set_value("due_date", frappe.datetime.add_days(frm.doc.loan_date, 14));
	},
	borower(frm) { // expect: FV102
		frm.refresh_field("items");
	},
	items_add(frm, cdt, cdn) { // ok: row event of the items table
		frappe.model.set_value(cdt, cdn, "returned", 0); // ok: cdt is a Loan Item row here
		frappe.model.set_value(cdt, cdn, "retrned", 0); // expect: FV103
	},
	before_save: async (frm) => { // ok: form event
		await frm.save_or_update?.();
	},
});

frappe.ui.form.on("Loan Item", {
	book(frm, cdt, cdn) { // ok: field of Loan Item
		let row = locals[cdt][cdn];
		if (row.returned) { // ok
			frappe.model.set_value(cdt, cdn, "fine", 0); // ok
			frappe.model.set_value(cdt, cdn, { fine: 0, fien: 1 }); // expect: FV103
		}
		console.log(row.bok); // expect: FV103
		frm.set_value("total_fine", 0); // ok: frm is the parent Loan form
		frm.set_value("fine", 0); // expect: FV101
		console.log(frm.doc.borrower); // ok: parent's field
	},
	fine: function (frm, cdt, cdn) {
		const item = frappe.get_doc(cdt, cdn);
		frappe.model.set_value(item.doctype, item.name, "return_date", null); // ok
		frappe.model.set_value(item.doctype, item.name, "return_dat", null); // expect: FV103
	},
	form_render(frm, cdt, cdn) {}, // ok: child form event
	fines(frm) {}, // expect: FV102
});

frappe.ui.form.on("Unknown DocType", {
	whatever(frm) { // ok: DocType not known
		frm.doc.anything = 1;
	},
});

frappe.ui.form.on("Book", "isbn", function (frm) { // ok: three-argument form, isbn is a field
	frm.set_value("titel", frm.doc.isbn); // expect: FV101
});
