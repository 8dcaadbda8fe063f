"""Every table of the project, imported in one place so Alembic sees one metadata."""

from ledger.schema import (Account, AccountBalance, Book, Entry, Period, PeriodEvent,  # noqa: F401
                           PeriodSnapshot, Posting)
