"""Seals: tamper evidence for the records around the ledger that decide money.

A record (a KPI result, a contract version, a bank account, a holder payment, an audit row…)
is sealed when it is written: the SHA-256 of a canonical serialisation of its deciding columns
(its ``content_hash``) is chained with the seal before it in the same table, hashed with
HMAC-SHA256 under a key kept outside the database (plain SHA-256 when no key is set). A row
legitimately changed later (a result audited) gets a new seal appended, so the *latest* seal of
a row must match its current content. Seals are insert-only, like the ledger's entries.

:func:`verify_seals` recomputes every chain and every row's content and reports, naming the
table and the record, any row edited, removed or added outside the service, and any seal
edited or recomputed (without the key, a recomputed chain does not match). A checkpoint
(:func:`checkpoint`) lists every chain's head, signed with the key, so that a later verify can
check the chains still extend those heads (a chain recomputed with the key, or truncated, is
then found too).

This module knows no table of ours: the caller names the tables and their deciding columns.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Index, Table, UniqueConstraint, func, insert, select
from sqlmodel import Field, SQLModel

from ledger.errors import Problem

GENESIS = "0" * 64

# The sealed tables and the columns that decide money in each (frozen: a migration that adds
# a deciding column reseals its table).
SEALED: dict[str, tuple[str, ...]] = {
    # The ledger's own entries: their chain (hash, prev_hash) is SHA-256 and can be recomputed
    # by anyone who can write the file; the keyed seal over each entry and its hash cannot.
    "ledger_entry": (
        "book_id", "sequence", "idempotency_key", "content_hash", "kind", "status",
        "effective_on", "recorded_at", "description", "links", "resolves_entry_id",
        "reverses_entry_id", "prev_hash", "hash"),
    "settlement_kpi_result": (
        "contract_id", "fiscal_year", "kpi_id", "payer_id", "evaluation", "version", "value",
        "outcomes_per_person", "state", "submitted_by", "submitted_at", "audited_by",
        "audited_at", "settled_run_id", "reason", "supersedes_id", "source"),
    "contract_version": (
        "contract_id", "version", "name_ja", "name_en", "currency", "document",
        "document_hash", "effective_from", "reason", "source", "loaded_at"),
    "contract_commitment": (
        "contract_id", "version", "tranche_id", "payer_id", "fiscal_year", "evaluation",
        "amount_minor", "entry_id", "active"),
    "settlement_bank_account": (
        "contract_id", "party", "bank_code", "bank_name", "branch_code", "branch_name",
        "account_type", "account_number", "holder_kana", "requester_code"),
    "settlement_change_request": (
        "act", "contract_id", "subject", "proposed", "previous", "reason", "state",
        "requested_by", "requested_at", "decided_by", "decided_at", "decision_reason"),
    "settlement_transfer_file_payee": (
        "contract_id", "party", "account_digest", "account_masked", "transfer_on",
        "produced_by", "produced_at"),
    "settlement_run": (
        "contract_id", "fiscal_year", "evaluation", "run_no", "contract_version", "inputs_hash",
        "supersedes_run_id", "settled_on", "created_by", "summary", "trace"),
    "settlement_line": (
        "run_id", "tranche_id", "kpi_id", "payer_id", "maximum_minor", "earned_minor",
        "entry_id"),
    "settlement_receipt_application": (
        "contract_id", "distribution_key", "receipt_entry_id", "payer_id", "amount_minor",
        "applied_on", "recorded_at"),
    "settlement_notice_approval": (
        "contract_id", "fiscal_year", "payer_id", "amount_minor", "inspected_on",
        "approved_by", "approved_at"),
    "investor_holder": (
        "code", "kind", "name_kanji", "name_kana", "name_en", "email", "address",
        "tax_category", "bank_code", "bank_name", "branch_code", "branch_name", "account_type",
        "account_number", "account_holder_kana", "created_at"),
    "investor_subscription": (
        "contract_id", "unit_class", "holder_id", "units", "amount_minor", "subscribed_on",
        "entry_id"),
    "investor_payment": (
        "contract_id", "unit_class", "holder_id", "paid_on", "kind", "income_type",
        "gross_minor", "withheld_minor", "net_minor", "source_entry_id", "entry_id"),
    "api_user": ("username", "display_name", "role", "scope", "created_at"),
    "api_audit": (
        "at", "username", "role", "action", "target", "request_id", "idempotency_key",
        "status", "detail"),
}

PENDING_KEY = "sib_seal_pending"
"""``session.info`` key: table name → ids of the rows written in the transaction and not yet
sealed (``None``: a bulk write), sealed when it commits."""


# Columns that are never deciding: the row id is sealed separately.
SealedTables = Mapping[str, Sequence[str]]


class RecordSeal(SQLModel, table=True):
    """One seal of one row of a sealed table; the rows of one table form a chain.

    Attributes:
        table_name: the sealed table.
        seq: 1, 2, 3… within the table: a gap or a missing tail is a removed seal.
        row_id: the sealed row's id.
        content_hash: SHA-256 of the row's deciding columns when it was sealed.
        prev_seal: the seal before this one in the table (``GENESIS`` for the first).
        seal: HMAC-SHA256 (or SHA-256 without a key) of the previous seal, table, sequence,
            row id and content hash.
    """

    __tablename__ = "record_seal"
    __table_args__ = (
        UniqueConstraint("table_name", "seq"),
        Index("ix_record_seal_row", "table_name", "row_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    table_name: str = Field(max_length=64)
    seq: int
    row_id: int
    content_hash: str = Field(max_length=64)
    prev_seal: str = Field(max_length=64)
    seal: str = Field(max_length=64)


def _canonical(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | float):
        return str(value)
    return str(value)


def content_hash(table_name: str, row: Mapping[Any, Any], columns: Sequence[str]) -> str:
    """SHA-256 of a row's deciding columns as canonical JSON (names with values, in order)."""
    payload = [table_name, row["id"], [[name, _canonical(row[name])] for name in columns]]
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def chain_seal(key: bytes | None, prev_seal: str, table_name: str, seq: int, row_id: int,
               digest: str) -> str:
    """The seal linking a row's content hash to the seal before it in its table."""
    message = f"{prev_seal}|{table_name}|{seq}|{row_id}|{digest}".encode()
    if key:
        return hmac.new(key, message, hashlib.sha256).hexdigest()
    return hashlib.sha256(message).hexdigest()


def _head(connection: Connection, table_name: str) -> tuple[int, str]:
    seals = RecordSeal.__table__  # type: ignore[attr-defined]
    row = connection.execute(
        select(seals.c.seq, seals.c.seal).where(seals.c.table_name == table_name)
        .order_by(seals.c.seq.desc()).limit(1)).first()
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


def _latest_hashes(connection: Connection, table_name: str,
                   row_ids: Iterable[int] | None = None) -> dict[int, str]:
    """The content hash of each row's latest seal (of the rows given, or all)."""
    seals = RecordSeal.__table__  # type: ignore[attr-defined]
    query = (select(seals.c.row_id, seals.c.content_hash)
             .where(seals.c.table_name == table_name).order_by(seals.c.seq))
    if row_ids is not None:
        query = query.where(seals.c.row_id.in_(list(row_ids)))
    return {int(r): str(h) for r, h in connection.execute(query)}


def seal_rows(connection: Connection, key: bytes | None, table: Table, columns: Sequence[str],
              row_ids: Iterable[int] | None = None, unsealed_only: bool = False) -> int:
    """Append a seal for each row (of ``row_ids``, or every row) whose current content is not
    what its latest seal says: new rows and rows changed since. Returns how many were sealed.
    ``unsealed_only``: only rows that have no seal yet (a bulk insert's new rows) — a row
    edited behind the service's back keeps its old seal, so verify still reports it.

    The caller holds the transaction that wrote the rows, so the seals commit with them.
    """
    ids = None if row_ids is None else sorted(set(row_ids))
    if ids == []:
        return 0
    # Only the id and the deciding columns: a migration seals with the tables as they are at
    # its revision, which may lack columns the models added later.
    query = select(*(table.c[name] for name in dict.fromkeys(("id", *columns)))) \
        .order_by(table.c.id)
    if ids is not None:
        query = query.where(table.c.id.in_(ids))
    rows = connection.execute(query).mappings().all()
    latest = _latest_hashes(connection, table.name, ids)
    seq, prev = _head(connection, table.name)
    new: list[dict[str, object]] = []
    for row in rows:
        digest = content_hash(table.name, row, columns)
        if latest.get(row["id"]) == digest or (unsealed_only and row["id"] in latest):
            continue
        seq += 1
        seal = chain_seal(key, prev, table.name, seq, row["id"], digest)
        new.append({"table_name": table.name, "seq": seq, "row_id": row["id"],
                    "content_hash": digest, "prev_seal": prev, "seal": seal})
        prev = seal
    if new:
        connection.execute(insert(RecordSeal.__table__), new)  # type: ignore[attr-defined]
    return len(new)


@dataclass
class SealReport:
    """The outcome of :func:`verify_seals`: ``ok`` only when no problem was found.

    Attributes:
        chains: per table, the number of seals and the head seal.
        problems: every record found altered, removed, added or unsealed, named.
    """

    chains: dict[str, dict[str, object]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_seals(connection: Connection, key: bytes | None, tables: Mapping[str, Table],
                 sealed: SealedTables) -> SealReport:
    """Recompute every table's chain of seals and check each row against its latest seal."""
    report = SealReport()
    for name in sorted(sealed):
        _verify_table(connection, key, tables[name], sealed[name], report)
    return report


def _verify_table(connection: Connection, key: bytes | None, table: Table,
                  columns: Sequence[str], report: SealReport) -> None:
    seals = RecordSeal.__table__  # type: ignore[attr-defined]
    latest: dict[int, str] = {}
    prev, count = GENESIS, 0
    chain_ok = True
    for seq, row_id, digest, prev_seal, seal in connection.execute(
            select(seals.c.seq, seals.c.row_id, seals.c.content_hash, seals.c.prev_seal,
                   seals.c.seal)
            .where(seals.c.table_name == table.name).order_by(seals.c.seq)):
        count += 1
        where = f"{table.name} seal {seq} (of row {row_id})"
        if chain_ok and seq != count:
            report.problems.append(Problem("SEAL_CHAIN_GAP", f"{where}: expected seal {count}; "
                                           "a seal is missing", table.name))
            chain_ok = False
        elif chain_ok and prev_seal != prev:
            report.problems.append(Problem("SEAL_CHAIN_BROKEN", f"{where}: does not link to "
                                           "the seal before it", table.name))
            chain_ok = False
        elif chain_ok and chain_seal(key, prev, table.name, seq, row_id, digest) != seal:
            report.problems.append(Problem("SEAL_FORGED", f"{where}: the seal does not match "
                                           "its content (recomputed without the key, or "
                                           "edited)", table.name))
            chain_ok = False
        latest[int(row_id)] = str(digest)
        prev = str(seal)
    report.chains[table.name] = {"seals": count, "head": prev}
    seen: set[int] = set()
    for row in connection.execute(select(table).order_by(table.c.id)).mappings():
        row_id = int(row["id"])
        seen.add(row_id)
        if row_id not in latest:
            report.problems.append(Problem("RECORD_UNSEALED", f"{table.name} {row_id}: has no "
                                           "seal (added outside the service)", table.name))
        elif content_hash(table.name, row, columns) != latest[row_id]:
            report.problems.append(Problem("RECORD_TAMPERED", f"{table.name} {row_id}: content "
                                           "does not match its seal (altered outside the "
                                           "service)", table.name))
    for row_id in sorted(set(latest) - seen):
        report.problems.append(Problem("RECORD_REMOVED", f"{table.name} {row_id}: sealed but "
                                       "no longer present (deleted outside the service)",
                                       table.name))


def seal_count(connection: Connection, table_name: str) -> int:
    """How many seals a table's chain has."""
    seals = RecordSeal.__table__  # type: ignore[attr-defined]
    return int(connection.execute(select(func.count()).select_from(seals)
                                  .where(seals.c.table_name == table_name)).scalar_one())


def seal_at(connection: Connection, table_name: str, seq: int) -> str | None:
    """The seal at position ``seq`` of a table's chain (None when the chain is shorter)."""
    seals = RecordSeal.__table__  # type: ignore[attr-defined]
    return connection.execute(select(seals.c.seal).where(
        seals.c.table_name == table_name, seals.c.seq == seq)).scalar_one_or_none()


def sign(key: bytes, heads: Mapping[str, object]) -> str:
    """HMAC-SHA256 of the canonical JSON of a checkpoint's heads."""
    text = json.dumps(heads, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def altered(session: Any, table_name: str, row_ids: Iterable[int]) -> list[int]:
    """The rows (of ``row_ids``) whose content is not what their latest seal says: changed
    outside the service. Rows written in the session's own transaction (not sealed until it
    commits) and rows never sealed are not judged here (``sib verify`` reports those)."""
    pending = session.info.get(PENDING_KEY, {})
    if table_name in pending and pending[table_name] is None:
        return []
    written = pending.get(table_name) or set()
    ids = sorted(set(row_ids) - written)
    if not ids:
        return []
    table = SQLModel.metadata.tables[table_name]
    connection = session.connection()
    rows = connection.execute(select(table).where(table.c.id.in_(ids))).mappings().all()
    latest = _latest_hashes(connection, table_name, ids)
    columns = SEALED[table_name]
    return [int(r["id"]) for r in rows if r["id"] in latest
            and latest[r["id"]] != content_hash(table_name, r, columns)]
