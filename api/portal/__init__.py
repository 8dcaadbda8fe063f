"""The web portal (issue 15): server-rendered pages inside the API application."""

from __future__ import annotations

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Adds the portal's routes, static files and middleware to ``app``."""
