"""The service's defences at the edge: security headers on every response, and a limit on
failed authentications per client address.

The headers tell a browser not to guess content types, not to frame the service's pages, not to
send its addresses on as referrers, and not to keep API responses in any cache (they hold
figures a finance officer must see current, and some are personal). The limit makes guessing
tokens slow: a client address whose bearer tokens were refused too often in the last minute is
answered 429 ``AUTH_RATE_LIMITED`` until the minute has passed, whatever token it sends. It is
kept in the process's memory (each worker counts its own).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.errors import SibError

SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
)
NO_STORE = (b"cache-control", b"no-store")
# Pages a browser renders (the OpenAPI explorer) may be cached; everything else is the API.
CACHEABLE_PATHS = ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect")
AUTH_RATE_LIMITED = "AUTH_RATE_LIMITED"


def security_headers() -> list[tuple[str, str]]:
    """The headers every response carries, and ``Cache-Control: no-store``, as text (for a
    response made outside the middleware)."""
    return [(name.decode(), value.decode()) for name, value in (*SECURITY_HEADERS, NO_STORE)]


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` to every response, and
    ``Cache-Control: no-store`` to every API response (unless the route set its own)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = scope.get("path", "") in CACHEABLE_PATHS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [h for h in SECURITY_HEADERS if h[0] not in present]
                if not cacheable and NO_STORE[0] not in present:
                    headers.append(NO_STORE)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class TooManyFailures(SibError):
    """A client address failed to authenticate too often: 429."""

    status = "rate_limited"

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"too many failed authentications from this address: try again in "
                         f"{retry_after_seconds} s with a valid token", AUTH_RATE_LIMITED,
                         "authorization")
        self.retry_after_seconds = retry_after_seconds


class FailedAuthLimiter:
    """Failed authentications per client address in a sliding window.

    Attributes:
        limit: failures allowed in ``window_seconds``; the next request is refused.
    """

    def __init__(self, limit: int, window_seconds: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(client, deque())
        while failures and failures[0] <= now - self.window_seconds:
            failures.popleft()
        return failures

    def check(self, client: str) -> None:
        """Refuse (:class:`TooManyFailures`) while the address is over its limit."""
        with self._lock:
            now = self._clock()
            failures = self._recent(client, now)
            if len(failures) >= self.limit:
                wait = int(failures[0] + self.window_seconds - now) + 1
                raise TooManyFailures(wait)
            if not failures:
                self._failures.pop(client, None)

    def failed(self, client: str) -> None:
        """Count one failed authentication of the address."""
        with self._lock:
            self._recent(client, self._clock()).append(self._clock())
