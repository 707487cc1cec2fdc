"""Property-based tests generated from the API's own OpenAPI document (schemathesis): every operation,
fed schema-valid and schema-breaking input by an admin, never answers 5xx and always answers what the
schema says (status, content type, body). The live stream is left out: it never ends."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.queries.credentials import create_token
from api.roles import Role
from devstack.postgres import PostgresServer
from tests.api.city import open_alert, seed_city
from tests.conftest import TEMPLATE, open_stack
from tests.harness import ApiProcess

EXAMPLES = 12  # per operation: about 40 operations, a few hundred requests in all
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]


@pytest.fixture(scope="module")
def fuzzed(postgres: PostgresServer) -> Iterator[tuple[ApiProcess, str]]:
    database_url = postgres.create_database(f"t_{uuid.uuid4().hex[:12]}", template=TEMPLATE)
    with open_stack(postgres, database_url) as stack:
        city = seed_city(stack, sites=3, hours=2)
        stack.add_user("admin", Role.ADMIN)
        with stack.connect() as conn:
            for site in city.sites:
                open_alert(conn, site)
            # far from the small ids the fuzzer tries first, so it does not revoke its own token
            conn.execute("ALTER SEQUENCE api_tokens_token_id_seq RESTART WITH 987654321")
            token = create_token(conn, "admin", "fuzzer", None, "test").token
        yield stack.start_api(), token


def _fuzz(operation: Any, token: str) -> list[str]:
    """Run the operation's generated cases; the failures, one line each (schemathesis' own messages)."""
    failures: list[str] = []

    @given(case=st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in GenerationMode)))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def run(case: Any) -> None:
        try:
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
        except (AssertionError, FailureGroup) as error:
            failures.append(f"{operation.label}: {str(error).strip().splitlines()[0:6]}")

    run()
    return failures


@pytest.mark.slow
@pytest.mark.timeout(900)  # a hang guard: about 500 requests, two minutes alone, far longer on a busy machine
def test_no_server_error_and_answers_as_documented(fuzzed: tuple[ApiProcess, str]) -> None:
    api, token = fuzzed
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json").exclude(path="/api/v1/events")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 35
    failures = [failure for operation in operations for failure in _fuzz(operation, token)]
    assert not failures, "\n".join(failures[:40])
