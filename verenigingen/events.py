"""doc_events handlers: invalidate the app cache after the transaction that changed a document
commits (invalidating before would let a concurrent reader cache the old value again).

Wired in hooks.py on ``"*"`` for after_insert, on_update, on_submit, on_cancel,
on_update_after_submit, on_trash and after_rename. Besides the document's DocType:

* User: that user's entries (roles live in the User's child table, so a role change is an
  update of the User);
* Role: entries of everyone holding the role;
* Custom DocPerm: entries of its role (before and after the change);
* DocType (its DocPerm rows are child rows and fire no events of their own): everything;
* User Permission: the user it restricts (before and after);
* Role Profile: entries of every role in it (before and after).
"""

import frappe

from verenigingen.caching import site_cache

# Fields that change on every save and say nothing about content.
_NOISE = frozenset({"modified", "modified_by", "_liked_by", "_comments", "_assign", "_user_tags", "_seen"})


def changed_fields(doc) -> frozenset[str] | None:
	"""The fields an update changed, or None when unknown (no copy from before the save)."""
	before = doc.get_doc_before_save() if hasattr(doc, "get_doc_before_save") else None
	if before is None:
		return None
	old, new = before.as_dict(), doc.as_dict()
	return frozenset(k for k in set(old) | set(new) if k not in _NOISE and old.get(k) != new.get(k))


def _before(doc, field: str):
	before = doc.get_doc_before_save() if hasattr(doc, "get_doc_before_save") else None
	return before.get(field) if before is not None else None


def _rows(value, field: str) -> set[str]:
	return {row.get(field) if isinstance(row, dict) else getattr(row, field, None) for row in value or ()} - {
		None
	}


def on_document_change(doc, method=None, *args) -> None:
	"""Invalidate what ``doc``'s change can affect, once the transaction commits."""
	doctype = doc.doctype
	fields = changed_fields(doc) if method in ("on_update", "on_update_after_submit") else None
	users: set[str] = set()
	roles: set[str] = set()
	everything = False
	if doctype == "User":
		users = {doc.name}
	elif doctype == "Role":
		roles = {doc.name}
	elif doctype in ("Custom DocPerm", "DocPerm"):
		roles = {doc.get("role"), _before(doc, "role")}
	elif doctype == "User Permission":
		users = {doc.get("user"), _before(doc, "user")}
	elif doctype == "Role Profile":
		roles = _rows(doc.get("roles"), "role") | _rows(_before(doc, "roles"), "role")
		everything = not roles  # cannot tell which roles: more, never less
	elif doctype == "DocType":
		everything = True
	users.discard(None)
	roles.discard(None)

	def invalidate():
		cache = site_cache()
		cache.invalidate_doctype(doctype, fields)
		for user in users:
			cache.invalidate_user(user)
		for role in roles:
			cache.invalidate_role(role)
		if everything:
			cache.invalidate_all()

	frappe.db.after_commit.add(invalidate)
