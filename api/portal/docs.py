"""``/docs`` and ``/redoc`` served with no network: Swagger UI and ReDoc come from the
``fastapi-offline`` package (MIT; its files are Swagger UI's and ReDoc's own builds), mounted
under ``/portal/static/docs``, not from a CDN. The paths stay those FastAPI gives them."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, Response

DOCS_ASSETS = Path(fastapi_offline.__file__).resolve().parent / "static"
ASSETS_URL = "/portal/static/docs"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
# ReDoc's sidebar shows its maker's logo from the maker's CDN; the portal's copy of the script
# points it at our own favicon instead (served by the portal at REDOC_URL).
REDOC_URL = "/portal/docs-assets/redoc.standalone.js"
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


@cache
def redoc_script() -> bytes:
    """ReDoc's script with its one outside address replaced by a local one."""
    script = (DOCS_ASSETS / "redoc.standalone.js").read_bytes()
    return script.replace(REDOC_LOGO, f"{ASSETS_URL}/favicon.png".encode())


def redoc_script_response() -> Response:
    return Response(redoc_script(), media_type="text/javascript",
                    headers={"Cache-Control": "public, max-age=86400"})


def install(app: FastAPI) -> None:
    """The explorer pages on ``app`` (created with ``docs_url=None, redoc_url=None``)."""
    openapi_url = app.openapi_url or "/openapi.json"
    title = app.title

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=openapi_url, title=f"{title} — API",
                                   swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
                                   swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
                                   oauth2_redirect_url=OAUTH2_REDIRECT)

    @app.get(OAUTH2_REDIRECT, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=openapi_url, title=f"{title} — ReDoc",
                              redoc_js_url=REDOC_URL,
                              redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
                              with_google_fonts=False)
