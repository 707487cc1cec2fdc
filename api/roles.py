"""Who may do what: the three roles of the operations centre and the principal of a request.

``viewer`` reads; ``operator`` also acknowledges, assigns, comments and manages silences;
``admin`` also manages people, other people's tokens and device configuration. Anonymous
principals exist only when the city opens its public data (``api.anonymous_read``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    def allows(self, required: Role) -> bool:
        """A role may do what any lower role may do."""
        order = list(Role)
        return order.index(self) >= order.index(required)


class Credential(enum.StrEnum):
    """How the request proved who it is; cookie sessions must also prove intent (CSRF)."""

    SESSION = "session"
    TOKEN = "token"
    ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Principal:
    username: str | None  # None: anonymous
    role: Role | None
    credential: Credential
    csrf_token: str | None = None

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(None, None, Credential.ANONYMOUS)

    def may(self, required: Role) -> bool:
        return self.role is not None and self.role.allows(required)
