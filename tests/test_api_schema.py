"""Schemathesis against our own OpenAPI schema, in process: generated requests to every
operation (a bounded number each) never get a 5xx, and every response matches the schema —
status code, content type and body."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

schemathesis = pytest.importorskip("schemathesis")

from api import db  # noqa: E402
from api.main import create_app  # noqa: E402
from api.users import add_user, create_token  # noqa: E402
from contracts.store import load_contract  # noqa: E402
from contracts.validate import load_contract_file  # noqa: E402
from settlement.payments import draw_loans  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DB = Path(__import__("tempfile").mkdtemp(prefix="sib-schema-")) / "schema.db"
URL = f"sqlite:///{DB}"


def _prepare() -> str:
    db.upgrade(URL)
    contract, _ = load_contract_file(ROOT / "contracts/examples/sib-2019-five-municipalities.yaml")
    with db.unit_of_work(URL) as s:
        load_contract(s, contract)
        draw_loans(s, contract.id, date(2020, 3, 31))
        add_user(s, "schema-admin", "admin")
        return create_token(s, "schema-admin")


TOKEN = _prepare()
APP = create_app(URL)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


# What the service promises: no 5xx, and every response as documented. (Whether a
# schema-valid body is accepted depends on the ledger's state — a domain refusal is a
# documented 4xx, not a schema violation — so "positive data acceptance" is not asked.)
CHECKS = [schemathesis.checks.not_a_server_error, schemathesis.checks.status_code_conformance,
          schemathesis.checks.content_type_conformance,
          schemathesis.checks.response_schema_conformance,
          schemathesis.checks.response_headers_conformance]


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_every_response_matches_the_schema(case):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if case.method.upper() != "GET":
        headers["Idempotency-Key"] = __import__("uuid").uuid4().hex
    case.call_and_validate(headers=headers, checks=CHECKS)
