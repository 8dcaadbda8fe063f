"""Entry drafts and the checks that need no database: the pure half of posting.

``validate_draft`` returns every problem of a draft as values (never raises), in the beancount
style; the service adds the checks that need the stored state (accounts, periods, limits,
idempotency) and writes nothing if any problem was found.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any

from moneyed import Money

from ledger.errors import Problem
from ledger.inputs import EARLIEST_ON, LATEST_ON, MAX_AMOUNT_MINOR
from ledger.money import from_minor, to_minor

# Values of Entry.status.
POSTED = "posted"
PENDING = "pending"
VOIDED = "voided"  # the status of the entry that voids a pending entry (it has no postings)

# Values of Posting.side.
DEBIT = "D"
CREDIT = "C"

ACCOUNT_TYPES = ("asset", "liability", "equity", "income", "expense")


@dataclass(frozen=True)
class PostingDraft:
    """A posting to be made: ``side`` is ``D`` or ``C``; ``amount`` is positive ``Money``.

    Attributes:
        account: the account's code in the entry's book.
        side: ``D`` (debit) or ``C`` (credit).
        amount: positive amount in the account's currency.
    """

    account: str
    side: str
    amount: Money

    @cached_property
    def amount_minor(self) -> int:
        return to_minor(self.amount)

    @cached_property
    def currency(self) -> str:
        return str(self.amount.currency.code)


def debit(account: str, amount: Money) -> PostingDraft:
    """A debit posting draft."""
    return PostingDraft(account, DEBIT, amount)


def credit(account: str, amount: Money) -> PostingDraft:
    """A credit posting draft."""
    return PostingDraft(account, CREDIT, amount)


@dataclass(frozen=True)
class EntryDraft:
    """An entry to be posted.

    Attributes:
        book: the book's code.
        idempotency_key: the caller's key; a retry with the same key and content is harmless.
        kind: why the entry exists (``loan_drawdown``, ``grant_receipt``…).
        effective_on: accounting date.
        postings: two or more posting drafts that balance per currency.
        description: free text shown on statements.
        links: references to what caused the entry (contract id, KPI result, settlement run…).
    """

    book: str
    idempotency_key: str
    kind: str
    effective_on: date
    postings: Sequence[PostingDraft]
    description: str = ""
    links: Mapping[str, Any] = field(default_factory=dict)


def validate_draft(draft: EntryDraft) -> list[Problem]:
    """Problems a draft has on its own: too few postings, bad amounts or sides, imbalance."""
    problems: list[Problem] = []
    if not draft.idempotency_key or len(draft.idempotency_key) > 200:
        problems.append(Problem("IDEMPOTENCY_KEY_INVALID",
                                "an idempotency key of 1 to 200 characters is required",
                                "idempotency_key"))
    if not EARLIEST_ON <= draft.effective_on <= LATEST_ON:
        problems.append(Problem("DATE_OUT_OF_RANGE", f"{draft.effective_on.isoformat()} is "
                                f"outside {EARLIEST_ON.isoformat()} to {LATEST_ON.isoformat()}",
                                "effective_on"))
    if not draft.kind:
        problems.append(Problem("ENTRY_KIND_MISSING", "every entry needs a kind saying why it "
                                "exists", "kind"))
    if len(draft.postings) < 2:
        problems.append(Problem("ENTRY_TOO_FEW_POSTINGS",
                                f"an entry needs at least two postings, got "
                                f"{len(draft.postings)}", "postings"))
    problems.extend(_posting_problems(draft.postings))
    if not any(p.code.startswith("AMOUNT") for p in problems):
        problems.extend(_balance_problems(draft.postings))
    return problems


def _posting_problems(postings: Iterable[PostingDraft]) -> list[Problem]:
    problems: list[Problem] = []
    for i, posting in enumerate(postings):
        where = f"postings[{i}]"
        if posting.side not in (DEBIT, CREDIT):
            problems.append(Problem("POSTING_SIDE_INVALID",
                                    f"side must be D (debit) or C (credit), got {posting.side!r}",
                                    f"{where}.side"))
        if not isinstance(posting.amount, Money):
            problems.append(Problem("AMOUNT_INVALID", "amount must be Money", f"{where}.amount"))
            continue
        try:
            minor = posting.amount_minor
        except Exception as exc:  # more decimals than the currency allows
            problems.append(Problem("AMOUNT_PRECISION", str(exc), f"{where}.amount"))
            continue
        if minor <= 0:
            problems.append(Problem("AMOUNT_NOT_POSITIVE",
                                    f"posting amounts must be positive, got {posting.amount}",
                                    f"{where}.amount"))
        elif minor > MAX_AMOUNT_MINOR:  # beyond it, sums could overflow the database's int64
            problems.append(Problem("AMOUNT_TOO_LARGE",
                                    f"{minor:,} minor units is more than the ledger accepts in "
                                    f"one posting ({MAX_AMOUNT_MINOR:,})", f"{where}.amount"))
    return problems


def _balance_problems(postings: Iterable[PostingDraft]) -> list[Problem]:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for posting in postings:
        totals[posting.currency][0 if posting.side == DEBIT else 1] += posting.amount_minor
    return [Problem("ENTRY_UNBALANCED",
                    f"debits {from_minor(d, cur)} do not equal credits {from_minor(c, cur)} "
                    f"in {cur}", "postings")
            for cur, (d, c) in sorted(totals.items()) if d != c]


def content_hash(draft: EntryDraft, status: str, extra: Mapping[str, Any] | None = None) -> str:
    """SHA-256 of what the caller asked for; equal for a retry, different for a key reused."""
    body = {
        "book": draft.book, "kind": draft.kind, "status": status,
        "effective_on": draft.effective_on.isoformat(), "description": draft.description,
        "links": dict(draft.links),
        "postings": [[p.account, p.side, p.amount_minor, p.currency] for p in draft.postings],
        "extra": dict(extra or {}),
    }
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def _utc_text(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")


def chain_hash(prev_hash: str, book_code: str, sequence: int, idempotency_key: str, kind: str,
               status: str, effective_on: date, recorded_at: datetime, description: str,
               links: str, resolves_entry_id: int | None, reverses_entry_id: int | None,
               postings: Sequence[tuple[int, str, int, str]]) -> str:
    """The entry's link in its book's hash chain: SHA-256(prev_hash ‖ canonical entry).

    ``postings`` are ``(account_id, side, amount_minor, currency)`` in posting order. Anything
    changed later — an amount, a date, an account — changes this hash and every later one.
    """
    body = canonical_json({
        "book": book_code, "sequence": sequence, "key": idempotency_key, "kind": kind,
        "status": status, "effective_on": effective_on.isoformat(),
        "recorded_at": _utc_text(recorded_at),
        "description": description, "links": links,
        "resolves": resolves_entry_id, "reverses": reverses_entry_id,
        "postings": [list(p) for p in postings],
    })
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()
