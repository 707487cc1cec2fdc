"""The API tests' world: the test stack plus one API process and a person of each role."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from api.roles import Role
from tests.harness import ApiProcess, Stack


@dataclass(frozen=True)
class People:
    """Passwords of one person per role (usernames are the role names)."""

    viewer: str
    operator: str
    admin: str

    def password(self, role: Role) -> str:
        match role:
            case Role.VIEWER:
                return self.viewer
            case Role.OPERATOR:
                return self.operator
            case Role.ADMIN:
                return self.admin


@pytest.fixture
def people(stack: Stack) -> People:
    return People(*(stack.add_user(role.value, role) for role in (Role.VIEWER, Role.OPERATOR, Role.ADMIN)))


@pytest.fixture
def api(stack: Stack, people: People) -> ApiProcess:
    return stack.start_api()
