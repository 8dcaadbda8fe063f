"""Errors as ``application/problem+json`` (RFC 9457): a stable code, the field, a readable detail.

Domain code raises :class:`ledger.errors.SibError`; only here does it become HTTP.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.audit_log import audit_refusal
from api.security import security_headers
from ledger.errors import Problem, SibError

STATUS = {"invalid": 422, "not_found": 404, "conflict": 409, "forbidden": 403,
          "unauthorised": 401, "rate_limited": 429}
TITLES = {400: "Bad request", 401: "Not authenticated", 403: "Forbidden", 404: "Not found",
          405: "Method not allowed", 409: "Conflict", 422: "Unprocessable request",
          429: "Too many requests",
          500: "Internal error"}


class ProblemItem(BaseModel):
    code: str
    field: str | None = None
    detail: str


class ProblemDetails(BaseModel):
    """The body of every error response."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    code: str
    field: str | None = None
    errors: list[ProblemItem] = []
    instance: str | None = None


def _documented(description: str) -> dict[str, Any]:
    return {"description": description, "model": ProblemDetails,
            "content": {"application/problem+json": {
                "schema": {"$ref": "#/components/schemas/ProblemDetails"}}}}


# Every route documents the errors it can answer with, all as problem+json.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _documented("The body is not readable (malformed JSON)"),
    401: _documented("No or unknown bearer token"),
    403: _documented("The caller's role may not do this"),
    404: _documented("Not found, or not visible to the caller"),
    409: _documented("Conflicts with the recorded state (idempotency key reused, already "
                     "resolved…)"),
    422: _documented("The request is not valid; every problem with its field"),
    429: _documented("Too many failed authentications from this address"),
}


def status_of(error: SibError) -> int:
    """The HTTP status a refusal is answered with (403, 404, 409, 422...)."""
    return STATUS.get(error.status, 422)


def problem_response(status: int, problems: list[Problem], instance: str | None = None,
                     headers: dict[str, str] | None = None) -> JSONResponse:
    first = problems[0]
    body = ProblemDetails(
        type=f"https://sib.example/problems/{first.code.lower().replace('_', '-')}",
        title=TITLES.get(status, "Error"), status=status, detail=first.message, code=first.code,
        field=first.field, instance=instance,
        errors=[ProblemItem(code=p.code, field=p.field, detail=p.message) for p in problems])
    return JSONResponse(body.model_dump(), status_code=status,
                        media_type="application/problem+json", headers=headers)


def sib_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SibError)
    status = status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 429:
        headers = {"Retry-After": str(getattr(exc, "retry_after_seconds", 60))}
    audit_refusal(request, status, exc.problems)
    return problem_response(status, exc.problems, str(request.url.path), headers)


def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query",
                                                                          "path", "header")]
        ctx: dict[str, Any] = error.get("ctx") or {}
        code = str(ctx.get("code") or error.get("type", "invalid")).upper()
        problems.append(Problem(code, str(error.get("msg", "invalid value")),
                                ".".join(loc) or None))
    if not problems:
        problems.append(Problem("INVALID", "the request is not valid"))
    audit_refusal(request, 422, problems)
    return problem_response(422, problems, str(request.url.path))


def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    status = getattr(exc, "status_code", 500)
    detail = str(getattr(exc, "detail", "error"))
    code = {400: "BODY_UNREADABLE", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
            401: "UNAUTHENTICATED"}.get(
        status, "HTTP_ERROR")
    headers = dict(getattr(exc, "headers", None) or {})  # e.g. Allow on 405 (RFC 9110)
    if status != 401:
        audit_refusal(request, status, [Problem(code, detail)])
    return problem_response(status, [Problem(code, detail)], str(request.url.path),
                            headers or None)


def unexpected_error_handler(request: Request, exc: Exception) -> JSONResponse:
    # Answered outside the application's middleware (Starlette's error middleware is always
    # outermost), so the security headers are set here.
    problems = [Problem("INTERNAL_ERROR", "an unexpected error occurred; nothing was written")]
    try:  # a write that failed is still recorded (run_write records its own; this, the rest)
        audit_refusal(request, 500, problems)
    except Exception:  # the database itself may be what failed
        logger.error("could not audit the failed write on %s", request.url.path)
    return problem_response(500, problems, str(request.url.path), dict(security_headers()))


def database_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """A database whose tables do not exist yet is 503 ``DATABASE_NOT_MIGRATED`` (the operator
    runs ``sib db upgrade``); any other database failure is an internal error."""
    from api.db import not_migrated, schema_missing
    if schema_missing(exc):
        return problem_response(503, not_migrated(request.app.state.database_url).problems,
                                str(request.url.path))
    logger.error("database error on %s", request.url.path, exc_info=exc)
    return unexpected_error_handler(request, exc)


def overflow_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """A number too large for the database's integers (bounds should have refused it first)."""
    problems = [Problem("NUMBER_TOO_LARGE", "a number sent is too large to be stored")]
    audit_refusal(request, 422, problems)
    return problem_response(422, problems, str(request.url.path))


logger = logging.getLogger(__name__)
TITLES.update({413: "Content too large", 503: "Service unavailable"})
