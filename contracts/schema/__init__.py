"""The published JSON Schema of a contract document, generated from the models.

``contract.schema.json`` next to this module is committed so that drafters and other systems
can validate a contract without Python; ``python -m contracts.schema`` regenerates it, and a
test fails when the committed file is out of date. The schema describes the document form
(amounts as strings in the contract currency, keys without ``_minor``); the cross-field rules
are only in :mod:`contracts.checks`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from contracts.model import Contract

SCHEMA_PATH = Path(__file__).with_name("contract.schema.json")
SCHEMA_ID = "https://sib.example/schemas/contract.schema.json"


def contract_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a contract document."""
    schema = Contract.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            **schema}


def schema_text() -> str:
    """The schema as the committed file holds it: sorted keys, two-space indent, newline."""
    return json.dumps(contract_json_schema(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    """Write the schema file and return its path."""
    path.write_text(schema_text(), encoding="utf-8")
    return path
