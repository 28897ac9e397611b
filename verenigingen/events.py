"""doc_events handlers: invalidate the app cache after the transaction that changed a document
commits (invalidating before would let a concurrent reader cache the old value again).

Wired in hooks.py on ``"*"`` for after_insert, on_update, on_submit, on_cancel,
on_update_after_submit, on_change, on_trash and after_rename. ``on_change`` is the only event
``doc.db_set`` fires; a save fires it too (after on_update), so the changes are collected into
one batch per transaction (``verenigingen.caching.record``): a repeated event adds nothing and
costs no second write. Besides the document's DocType:

* a child row (``db_set`` on a row fires its own on_change): its parent DocType, field = the
  row's table field;
* User: that user's entries (roles live in the User's child table, so a role change is an
  update of the User);
* Role: entries of everyone holding the role;
* Custom DocPerm: entries of its role (before and after the change);
* DocType (its DocPerm rows are child rows and fire no events of their own): everything;
* User Permission: the user it restricts (before and after);
* Role Profile: entries of every role in it (before and after).
"""

from verenigingen.caching import record
from verenigingen.performance.invalidation import InvalidationBatch

# Fields that change on every save and say nothing about content.
_NOISE = frozenset({"modified", "modified_by", "_liked_by", "_comments", "_assign", "_user_tags", "_seen"})
# Events after which the fields that changed are known from the copy loaded before the save.
_UPDATES = ("on_update", "on_update_after_submit", "on_change")


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


def change_batch(doc, method: str | None) -> InvalidationBatch:
	"""What a change of ``doc`` (reported by the event ``method``) can affect."""
	doctype = doc.doctype
	batch = InvalidationBatch()
	batch.add_doctype(doctype, changed_fields(doc) if method in _UPDATES else None)
	parenttype, parentfield = doc.get("parenttype"), doc.get("parentfield")
	if parenttype and doc.get("parent"):
		batch.add_doctype(parenttype, [parentfield] if parentfield else None)
	users: set = set()
	roles: set = set()
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
		if not roles:  # cannot tell which roles: more, never less
			batch.add_everything()
	elif doctype == "DocType":
		batch.add_everything()
	if parenttype == "User":  # a Has Role row of a user changed by itself
		users.add(doc.get("parent"))
	for user in users - {None, ""}:
		batch.add_user(user)
	for role in roles - {None, ""}:
		batch.add_role(role)
	return batch


def on_document_change(doc, method=None, *args) -> None:
	"""Invalidate what ``doc``'s change can affect, once the transaction commits."""
	record(change_batch(doc, method))
