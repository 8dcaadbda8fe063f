"""The web portal (issue 15): server-rendered pages inside the API application.

Design. The portal is a sub-application mounted at ``/portal`` (``/`` redirects there): its
pages call the same route and service functions the API calls, with the signed-in user as the
caller, so a bank sees only its loans and a finance officer only its municipality, exactly as
through the API — another party's object answers 404 here too. Sign-in turns a one-time link
(or a user's API token) into a session, which is itself an API token of the user, one day long,
kept in an ``HttpOnly``, ``SameSite=Lax`` cookie (``Secure`` over TLS) and revoked at sign-out;
every form carries a CSRF token derived from it. Writes go through :func:`api.writes.run_write`
like the API's, so each is idempotent and in the audit log. Charts are SVG drawn on the server
from the same data the PDFs are drawn from; every script, style and font is served from this
package or an installed one (``/docs`` and ``/redoc`` included), never from a CDN.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send


class RootToPortal:
    """``GET /`` answers 307 to ``/portal/`` (a middleware, not a route: the API's route table
    stays the API's)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") == "/" \
                and scope.get("method") in ("GET", "HEAD"):
            await send({"type": "http.response.start", "status": 307,
                        "headers": [(b"location", b"/portal/"), (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send)


def install(app: FastAPI) -> None:
    """Adds the portal's routes, static files and middleware to ``app``."""
    from api.portal import docs
    from api.portal.pages import portal_app

    docs.install(app)
    portal = portal_app(app)
    from api.portal import simulation_pages
    portal.include_router(simulation_pages.router)  # the outcome simulation (issue 16)
    app.mount("/portal", portal, name="portal")
    app.add_middleware(RootToPortal)
