"""Bounded, unambiguous request bodies, checked before any route or dependency runs.

A body is read at most up to its limit (the ``Content-Length`` is not trusted): 413
``BODY_TOO_LARGE`` names the limit. A JSON body must mean one thing: a key written twice in one
object (``JSON_DUPLICATE_KEY``, which Python would resolve last-wins), ``NaN`` or ``Infinity``
(``JSON_NUMBER_INVALID``, not JSON at all, though Python reads them), a number of thousands of
digits, or nesting deep enough to exhaust the parser (``JSON_TOO_DEEP``) are refused with 422.
Malformed JSON is left to FastAPI, which answers 422 ``JSON_INVALID``.

Dates are named ``…_on`` across the service (STYLE.md, habit 7), so a date outside 1990–2100 in
any such JSON field or query parameter (``received_on: "9999-12-31"``, ``?as_of=0001-01-01``)
is refused here as ``DATE_OUT_OF_RANGE`` naming it, before a service compares it with anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import date
from typing import Any
from urllib.parse import parse_qsl

from api.problems import problem_response
from ledger.errors import Problem, SibError
from ledger.inputs import check_date_window
from settlement.imports import MAX_FILE_BYTES

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


MAX_BODY_BYTES = 1024 * 1024  # a contract document is about 20 KB
MAX_UPLOAD_BYTES = MAX_FILE_BYTES + 64 * 1024  # the KPI file limit and the form around it


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class BodyRefused(Exception):
    """A body that is too large or ambiguous, with the status and problem to answer."""

    def __init__(self, status: int, problem: Problem) -> None:
        super().__init__(problem.message)
        self.status, self.problem = status, problem


class BoundedBodies:
    """ASGI middleware: reads each request body within its limit, checks JSON strictly, then
    hands the same bytes on to the application.

    Attributes:
        max_body_bytes: limit of every body but a file upload (a contract is about 20 KB).
        max_upload_bytes: limit of a ``multipart/form-data`` body (a KPI results file).
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int = MAX_BODY_BYTES,
                 max_upload_bytes: int = MAX_UPLOAD_BYTES) -> None:
        self.app = app
        self.max_body_bytes, self.max_upload_bytes = max_body_bytes, max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        limit = (self.max_upload_bytes if content_type.startswith("multipart/form-data")
                 else self.max_body_bytes)
        try:
            check_query_dates(scope.get("query_string", b""))
            body = await _read_within(receive, headers.get(b"content-length"), limit)
            if body is not None and body and "json" in content_type:
                check_json(body)
        except BodyRefused as refused:
            response = problem_response(refused.status, [refused.problem], scope.get("path"))
            await response(scope, receive, send)
            return
        if body is None:  # the client went away: nothing to answer
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, replay, send)


def _too_large(limit: int) -> BodyRefused:
    return BodyRefused(413, Problem("BODY_TOO_LARGE", f"the request body is larger than "
                                    f"{limit:,} bytes, the most this service accepts; send "
                                    "less (split a file into smaller ones)", "body"))


async def _read_within(receive: Receive, declared: bytes | None, limit: int) -> bytes | None:
    """The whole body, or :class:`BodyRefused` as soon as it exceeds ``limit``; None if the
    client disconnected."""
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def check_json(body: bytes) -> None:
    """Refuse a JSON body that Python would read but that does not mean one thing."""
    try:
        json.loads(body, object_pairs_hook=_one_value_per_key, parse_constant=_not_a_number)
    except BodyRefused:
        raise
    except RecursionError:
        raise BodyRefused(422, Problem("JSON_TOO_DEEP", "the JSON body is nested too deeply",
                                       "body")) from None
    except json.JSONDecodeError:
        return  # malformed: FastAPI answers 400 BODY_UNREADABLE with where it fails
    except ValueError:  # a number of more digits than Python converts (4,300)
        raise BodyRefused(422, Problem("JSON_NUMBER_INVALID", "the JSON body holds a number "
                                       "with thousands of digits", "body")) from None


def _one_value_per_key(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise BodyRefused(422, Problem("JSON_DUPLICATE_KEY", f"{key!r} is written twice in "
                                           "the same JSON object; send it once", key[:100]))
        _check_date(key, value)
        seen[key] = value
    return seen


def check_query_dates(query_string: bytes) -> None:
    """Refuse a date parameter (``as_of``, ``from_on``…) outside the sane window."""
    for key, value in parse_qsl(query_string.decode("latin-1")):
        _check_date(key, value)


def _check_date(key: str, value: Any) -> None:
    if not (isinstance(value, str) and (key.endswith("_on") or key in ("on", "as_of"))
            and _ISO_DATE.fullmatch(value)):
        return
    try:
        check_date_window(date.fromisoformat(value), key)
    except ValueError:
        return  # not a day of the calendar: the schema reports it
    except SibError as error:
        raise BodyRefused(422, error.problems[0]) from None


def _not_a_number(constant: str) -> Any:
    raise BodyRefused(422, Problem("JSON_NUMBER_INVALID", f"{constant} is not a JSON number; "
                                   "send a finite value", "body"))
