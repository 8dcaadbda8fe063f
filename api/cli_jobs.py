"""``sib worker`` and ``sib job`` (issue 15, long jobs)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Adds the job commands to ``app``."""
