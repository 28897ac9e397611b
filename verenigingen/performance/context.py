"""Who is asking: the user and the roles the cache and the APIs decide by."""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from .exceptions import InvalidSecurityContextError


def roles_digest(roles: Iterable[str]) -> str:
	"""A stable digest of a role set: equal for equal sets in every process, order ignored."""
	encoded = "\x1f".join(sorted(set(roles))).encode("utf-8")
	return hashlib.sha256(encoded).hexdigest()[:32]


@dataclass(frozen=True)
class SecurityContext:
	"""An immutable (user, roles) pair. Build one per request; never cache it per process."""

	user: str
	roles: frozenset[str] = field(default_factory=frozenset)

	def __init__(self, user: str, roles: Iterable[str] = ()):
		if not isinstance(user, str) or not user.strip():
			raise InvalidSecurityContextError(f"user must be a non-empty string, got {user!r}")
		if isinstance(roles, str):
			raise InvalidSecurityContextError("roles must be a collection of role names, not one string")
		role_set = frozenset(roles)
		bad = [r for r in role_set if not isinstance(r, str) or not r]
		if bad:
			raise InvalidSecurityContextError(f"roles must be non-empty strings, got {bad!r}")
		object.__setattr__(self, "user", user)
		object.__setattr__(self, "roles", role_set)

	@property
	def roles_digest(self) -> str:
		return roles_digest(self.roles)

	def has_any_role(self, *roles: str) -> bool:
		return self.user == "Administrator" or bool(self.roles.intersection(roles))
