"""The published JSON Schema (``contracts/schema/contract.schema.json``) is generated from the
models; this test fails when someone changes a model without running
``python -m contracts.schema``."""

from __future__ import annotations

import json

from contracts.schema import SCHEMA_PATH, contract_json_schema, schema_text


def test_committed_schema_is_up_to_date() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), \
        "run: python -m contracts.schema"


def test_schema_describes_the_document_form() -> None:
    schema = contract_json_schema()
    tranche = schema["$defs"]["Tranche"]["properties"]
    # Document keys, not attribute names: amounts are written in the currency, as strings.
    assert "max_amount" in tranche and "max_amount_minor" not in tranche
    assert {"type": "string", "pattern": r"^[0-9][0-9,_]*(\.[0-9]+)?$"} in \
        tranche["max_amount"]["anyOf"]
    assert tranche["rule"]["discriminator"]["propertyName"] == "type"
    assert set(tranche["rule"]["discriminator"]["mapping"]) == {
        "binary_threshold", "linear", "pro_rata", "stepped", "rate_card", "savings_share",
        "fixed"}
    assert schema["additionalProperties"] is False
    json.dumps(schema)  # plain JSON, nothing Python-specific left in it
