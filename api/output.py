"""Shared output helpers for the CLI: JSON (money as string amount + currency) or rich tables."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from ledger.errors import SibError
from ledger.money import format_plain, from_minor

# Piped output (CI logs, `make demo`) gets a wide page instead of rich's 80 columns.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def money_json(amount_minor: int, currency: str) -> dict[str, str]:
    """Money as the API carries it: ``{"amount": "1234567", "currency": "JPY"}``."""
    return {"amount": format_plain(from_minor(int(amount_minor), currency)), "currency": currency}


def money_text(amount_minor: int, currency: str, with_code: bool = False) -> str:
    """Money for a person: ``1,234,567`` (``1,234,567 JPY`` with the code) / ``12.50``."""
    plain = format_plain(from_minor(int(amount_minor), currency))
    whole, _, fraction = plain.partition(".")
    sign = "-" if whole.startswith("-") else ""
    text = f"{sign}{int(whole.lstrip('-')):,}" + (f".{fraction}" if fraction else "")
    return f"{text} {currency}" if with_code else text


def _default(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot serialise {type(value).__name__}")


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    sys.stdout.write(json.dumps(value, default=_default, ensure_ascii=False, indent=2) + "\n")


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]],
                right: Iterable[int] = ()) -> None:
    """A rich table; columns listed in ``right`` are right-aligned (amounts)."""
    right = set(right)
    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column, justify="right" if i in right else "left")
    for row in rows:
        table.add_row(*[str(v) for v in row])
    console.print(table)


def report_error(error: SibError) -> None:
    """Every problem of a refusal on stderr, one line each, code first."""
    for problem in error.problems:
        err_console.print(f"[bold red]{problem.code}[/] "
                          f"{problem.source + ': ' if problem.source else ''}"
                          f"{problem.field + ': ' if problem.field else ''}{problem.message}",
                          highlight=False)
