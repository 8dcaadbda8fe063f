"""Contracts in the database: versions kept forever, books opened, tranche commitments reserved.

Loading a contract opens its two books (see :mod:`contracts.chart`) and records, for each
tranche and payer, a **pending** ledger entry for that payer's part of the tranche maximum, so
that the ledger shows at any time, per payer: committed maximum (pending), earned (posted),
paid (credited). An amendment is a new version: commitments of the fiscal years it governs are
voided and reserved again under the new terms; earlier years are never touched, and a year
whose commitments were already settled cannot be amended. Services never commit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlmodel import Session, col

from contracts.chart import (
    Code,
    Kind,
    payer_accounts,
    payers_book_code,
    provider_payee,
    spv_accounts,
)
from contracts.model import Contract, to_document
from contracts.tables import ContractVersion, TrancheCommitment
from contracts.terms import apply_amendment, max_outcome_by_tranche_payer
from ledger import read
from ledger.entries import DEBIT, EntryDraft, credit, debit
from ledger.errors import Conflict, Forbidden, NotFound, Problem, SibError
from ledger.money import from_minor
from ledger.service import (
    create_book,
    open_account,
    post_entry,
    resolution_of,
    utc_now,
    void_pending,
)

COMMITMENT_KIND = Kind.TRANCHE_COMMITMENT


def document_json(contract: Contract) -> str:
    """The contract's canonical JSON (what is stored and hashed)."""
    return json.dumps(to_document(contract), sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))


def contract_from_row(row: ContractVersion) -> Contract:
    """Rebuild the typed contract from a stored version."""
    return Contract.model_validate(json.loads(row.document))


@dataclass(frozen=True)
class LoadResult:
    """What loading did: the version stored and whether it was new."""

    contract_id: str
    version: int
    created: bool
    commitments: int


def load_contract(session: Session, contract: Contract, source: str = "",
                  now: datetime | None = None) -> LoadResult:
    """Store version 1 of a contract, open its books and reserve its tranche commitments.

    Loading the same terms again returns the first load (idempotent); other terms under an
    existing id are refused — use an amendment.
    """
    document = document_json(contract)
    digest = hashlib.sha256(document.encode()).hexdigest()
    existing = latest_version(session, contract.id, required=False)
    if existing is not None:
        first = session.scalars(select(ContractVersion).where(
            col(ContractVersion.contract_id) == contract.id,
            col(ContractVersion.version) == 1)).one()
        if first.document_hash == digest:
            return LoadResult(contract.id, 1, False, _count_commitments(session, contract.id))
        raise Conflict(f"contract {contract.id} is already loaded with other terms; amend it "
                       "with `sib contract amend`", "CONTRACT_EXISTS", "id")
    session.add(ContractVersion(contract_id=contract.id, version=1, name_ja=contract.name_ja,
                                name_en=contract.name_en, currency=contract.currency,
                                document=document, document_hash=digest,
                                effective_from=contract.first_fiscal_year, reason="initial",
                                source=source, loaded_at=now or utc_now()))
    _open_books(session, contract)
    count = _reserve(session, contract, 1, contract.first_fiscal_year)
    session.flush()
    return LoadResult(contract.id, 1, True, count)


def _open_books(session: Session, contract: Contract) -> None:
    create_book(session, contract.id, contract.currency, contract.name_ja, contract.name_en,
                contract.fiscal_year_start_month,
                fiscal_year_named_by=contract.fiscal_year_named_by)
    create_book(session, payers_book_code(contract.id), contract.currency,
                f"{contract.name_ja}（支払者）", f"{contract.name_en} — payers",
                contract.fiscal_year_start_month,
                fiscal_year_named_by=contract.fiscal_year_named_by)
    for spec in spv_accounts(contract):
        open_account(session, contract.id, spec)
    for spec in payer_accounts(contract):
        open_account(session, payers_book_code(contract.id), spec)


def _reserve(session: Session, contract: Contract, version: int, from_year: int) -> int:
    """Pending entries for each (tranche, payer) part of fiscal years ≥ ``from_year``.

    Only the SPV's tranches: one that names a provider as payee is never the SPV's income, so
    the SPV book holds no commitment for it (its earned amount is posted in the payers' book
    when it is settled, :mod:`contracts.chart`)."""
    maxima = max_outcome_by_tranche_payer(contract)
    count = 0
    for tranche in contract.tranches:
        if tranche.fiscal_year < from_year or provider_payee(contract, tranche) is not None:
            continue
        for payer in contract.payer_ids:
            amount = maxima.get((tranche.id, payer), 0)
            if amount <= 0:
                continue
            entry = post_entry(session, EntryDraft(
                contract.id, f"{contract.id}:v{version}:commit:{tranche.id}:{payer}",
                COMMITMENT_KIND, _year_start(contract, tranche.fiscal_year),
                [debit(Code.receivable(payer), from_minor(amount, contract.currency)),
                 credit(Code.outcome_income(payer), from_minor(amount, contract.currency))],
                f"Maximum outcome payment FY{tranche.fiscal_year} {tranche.id} — {payer}",
                {"contract": contract.id, "version": version, "tranche": tranche.id,
                 "payer": payer, "fiscal_year": tranche.fiscal_year}), pending=True)
            session.add(TrancheCommitment(contract_id=contract.id, version=version,
                                          tranche_id=tranche.id, payer_id=payer,
                                          fiscal_year=tranche.fiscal_year,
                                          evaluation=tranche.evaluation, amount_minor=amount,
                                          entry_id=entry.id or 0))
            count += 1
    session.flush()
    return count


def _year_start(contract: Contract, fiscal_year: int) -> date:
    return contract.fiscal_year_bounds(fiscal_year)[0]


def _count_commitments(session: Session, contract_id: str) -> int:
    return session.scalar(select(func.count()).select_from(TrancheCommitment).where(
        col(TrancheCommitment.contract_id) == contract_id, col(TrancheCommitment.active))) or 0


def latest_version(session: Session, contract_id: str,
                   required: bool = True) -> ContractVersion | None:
    """The newest stored version of a contract."""
    row = session.scalars(select(ContractVersion)
                          .where(col(ContractVersion.contract_id) == contract_id)
                          .order_by(col(ContractVersion.version).desc())).first()
    if row is None and required:
        raise NotFound(f"no contract {contract_id!r}", "CONTRACT_NOT_FOUND", "contract")
    return row


def get_contract(session: Session, contract_id: str, version: int | None = None) -> Contract:
    """The typed terms of a contract (newest version unless one is named)."""
    if version is None:
        row = latest_version(session, contract_id)
    else:
        row = session.scalars(select(ContractVersion).where(
            col(ContractVersion.contract_id) == contract_id,
            col(ContractVersion.version) == version)).first()
        if row is None:
            raise NotFound(f"contract {contract_id!r} has no version {version}",
                           "CONTRACT_VERSION_NOT_FOUND", "version")
    if row is None:
        raise NotFound(f"no contract {contract_id!r}", "CONTRACT_NOT_FOUND", "contract")
    return contract_from_row(row)


def contract_for_year(session: Session, contract_id: str, fiscal_year: int) -> Contract:
    """The terms that govern ``fiscal_year``: the newest version effective from it or before."""
    row = session.scalars(select(ContractVersion).where(
        col(ContractVersion.contract_id) == contract_id,
        col(ContractVersion.effective_from) <= fiscal_year)
        .order_by(col(ContractVersion.version).desc())).first()
    if row is None:
        row = latest_version(session, contract_id)  # raises CONTRACT_NOT_FOUND
    if row is None:
        raise NotFound(f"no contract {contract_id!r}", "CONTRACT_NOT_FOUND", "contract")
    return contract_from_row(row)


def versions(session: Session, contract_id: str) -> list[ContractVersion]:
    """Every version of a contract, oldest first (the history ``show`` displays)."""
    rows = list(session.scalars(select(ContractVersion).where(
        col(ContractVersion.contract_id) == contract_id).order_by(col(ContractVersion.version))))
    if not rows:
        raise NotFound(f"no contract {contract_id!r}", "CONTRACT_NOT_FOUND", "contract")
    return rows


def list_contracts(session: Session) -> list[ContractVersion]:
    """The newest version of every contract."""
    contract_column = col(ContractVersion.contract_id)
    newest = (select(contract_column, func.max(col(ContractVersion.version)).label("v"))
              .group_by(contract_column).subquery())
    return list(session.scalars(select(ContractVersion).join(
        newest, (newest.c.contract_id == col(ContractVersion.contract_id)) &
        (newest.c.v == col(ContractVersion.version))).order_by(col(ContractVersion.contract_id))))


EARLY_TERMINATION_NEEDS_APPROVAL = "EARLY_TERMINATION_NEEDS_APPROVAL"


def ends_sooner(session: Session, contract_id: str, amended: Contract) -> bool:
    """Whether an amendment ends the contract's term before its current last year (an early
    termination: a second person approves it)."""
    return amended.last_fiscal_year < get_contract(session, contract_id).last_fiscal_year


def amend_contract(session: Session, contract_id: str, amended: Contract, reason: str,
                   effective_from: int, now: datetime | None = None,
                   approved_by: str | None = None) -> LoadResult:
    """Store a new version governing fiscal years ≥ ``effective_from``.

    The terms of earlier years must not change (:func:`contracts.terms.apply_amendment` says
    what may); a year it governs must not be settled yet. The same amendment sent again
    returns the version it created. An amendment ending the term sooner needs the second
    person who ``approved_by`` names (:mod:`settlement.change_requests`).
    """
    current_row = latest_version(session, contract_id)
    assert current_row is not None
    if amended.id != contract_id:
        raise SibError(f"the amended terms are for {amended.id}, not {contract_id}",
                       "CONTRACT_ID_MISMATCH", "id")
    if current_row.version > 1 and current_row.reason == reason and \
            current_row.effective_from == effective_from and \
            _same_terms(contract_from_row(current_row), amended):
        return LoadResult(contract_id, current_row.version, False,
                          _count_commitments(session, contract_id))
    current = contract_from_row(current_row)
    if amended.last_fiscal_year < current.last_fiscal_year and not approved_by:
        raise Forbidden(f"the amendment ends {contract_id} after FY{amended.last_fiscal_year} "
                        f"instead of FY{current.last_fiscal_year}: an early termination takes "
                        "effect only when a second person approves it (sib contract amend "
                        "files it as a change request; sib change approve)",
                        EARLY_TERMINATION_NEEDS_APPROVAL, "last_fiscal_year")
    new_version, problems = apply_amendment(current, amended, reason, effective_from)
    problems += _settled_problems(session, contract_id, effective_from)
    if problems or new_version is None:
        raise SibError(problems)
    document = document_json(new_version)
    session.add(ContractVersion(contract_id=contract_id, version=new_version.version,
                                name_ja=new_version.name_ja, name_en=new_version.name_en,
                                currency=new_version.currency, document=document,
                                document_hash=hashlib.sha256(document.encode()).hexdigest(),
                                effective_from=effective_from, reason=reason,
                                loaded_at=now or utc_now()))
    _release(session, current, contract_id, effective_from, new_version.version)
    _open_new_accounts(session, new_version)
    count = _reserve(session, new_version, new_version.version, effective_from)
    return LoadResult(contract_id, new_version.version, True, count)


def _same_terms(stored: Contract, sent: Contract) -> bool:
    """Whether ``sent`` is the stored version's terms (ignoring version and history)."""
    blank = {"version": 1, "amendments": ()}
    return to_document(stored.model_copy(update=blank)) == to_document(
        sent.model_copy(update=blank))


def _settled_problems(session: Session, contract_id: str, effective_from: int) -> list[Problem]:
    rows = session.scalars(select(TrancheCommitment).where(
        col(TrancheCommitment.contract_id) == contract_id, col(TrancheCommitment.active),
        col(TrancheCommitment.fiscal_year) >= effective_from))
    for row in rows:
        if resolution_of(session, row.entry_id) is not None:
            return [Problem("AMENDMENT_TOUCHES_SETTLED_PERIOD", f"FY{row.fiscal_year} is already "
                            "settled; an amendment can only govern later years",
                            "effective_from")]
    return []


def _release(session: Session, contract: Contract, contract_id: str, effective_from: int,
             version: int) -> None:
    """Void the open commitments of the years the new version governs."""
    rows = list(session.scalars(select(TrancheCommitment).where(
        col(TrancheCommitment.contract_id) == contract_id, col(TrancheCommitment.active),
        col(TrancheCommitment.fiscal_year) >= effective_from)))
    when = _year_start(contract, effective_from)
    for row in rows:
        void_pending(session, contract_id, row.entry_id,
                     f"{contract_id}:v{version}:release:{row.entry_id}", when,
                     f"Released by amendment v{version}", "commitment_released",
                     {"contract": contract_id, "version": version, "tranche": row.tranche_id,
                      "payer": row.payer_id})
        row.active = False
        session.add(row)
    session.flush()


def _open_new_accounts(session: Session, contract: Contract) -> None:
    """Accounts for parties or instruments an amendment adds (existing ones are kept)."""
    for spec in spv_accounts(contract):
        open_account(session, contract.id, spec)
    for spec in payer_accounts(contract):
        open_account(session, payers_book_code(contract.id), spec)


def active_commitments(session: Session, contract_id: str,
                       fiscal_year: int | None = None) -> list[TrancheCommitment]:
    """Commitments in force (not replaced by an amendment), optionally for one year."""
    query = select(TrancheCommitment).where(col(TrancheCommitment.contract_id) == contract_id,
                                            col(TrancheCommitment.active))
    if fiscal_year is not None:
        query = query.where(col(TrancheCommitment.fiscal_year) == fiscal_year)
    return list(session.scalars(query.order_by(col(TrancheCommitment.id))))


def commitment_totals(session: Session, contract_id: str) -> dict[tuple[str, int], int]:
    """(payer, fiscal year) → the amounts reserved in the ledger by active commitments, read
    back from the pending entries' debit postings themselves (not from our own table)."""
    years = {c.entry_id: (c.payer_id, c.fiscal_year)
             for c in active_commitments(session, contract_id)}
    totals: dict[tuple[str, int], int] = {}
    for entry in read.entries(session, contract_id, ids=years) if years else []:
        amount = sum(a for _, side, a in entry.postings if side == DEBIT)
        totals[years[entry.id]] = totals.get(years[entry.id], 0) + amount
    return totals
