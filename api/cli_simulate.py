"""``sib simulate`` (issue 16)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Adds the simulation commands to ``app``."""
