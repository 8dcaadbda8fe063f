"""A JSON response written by pydantic-core's serializer (Rust) rather than the ``json`` module.

The same bytes as Starlette's ``JSONResponse`` for the data our endpoints send (UTF-8, compact,
no floats), about three times faster on a trial balance's few hundred amounts.
"""

from __future__ import annotations

from typing import Any

import pydantic_core
from fastapi.responses import JSONResponse


class FastJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return pydantic_core.to_json(content)
