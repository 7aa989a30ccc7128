"""Property-based fuzzing of every API operation from its OpenAPI description (Schemathesis).

For each operation, Schemathesis generates requests from the schema (bodies, paths,
queries, uploads; Hypothesis strategies); whatever arrives, the server must answer with
a status below 500.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402


@pytest.mark.slow
def test_no_request_makes_a_server_error(client: TestClient) -> None:
    # the client has run the app's startup: the store and the job queue are open
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 24

    for operation in operations:
        @settings(max_examples=15, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case: object) -> None:
            response = case.call()
            assert response.status_code < 500, (case, response.text)

        check()
