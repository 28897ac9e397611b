frappe.ui.form.on("Library Member", {
	onload(frm) {
		frm.set_value("loyalty_points", 0); // ok: custom field from fixtures
		frm.toggle_reqd("emial", true); // expect: FV101
		frm.doc.favourite_books.forEach((row) => console.log(row.whatever)); // ok: row type not followed in JS
	},
	favourite_books_add(frm, cdt, cdn) {
		const row = locals[cdt][cdn];
		row.rating = 5; // ok: Favourite Book field (row event of favourite_books)
		row.ratting = 5; // expect: FV103
	},
});
