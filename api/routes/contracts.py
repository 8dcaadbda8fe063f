"""Contract endpoints: validate, load, amend, list, show, and a payer's own share."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Request, Response
from pydantic import BaseModel

from api.deps import (
    FULL_READ_ROLES,
    CurrentUser,
    PageDep,
    SessionDep,
    require,
    require_visible_payer,
)
from api.routes.changes import ChangeRequestPublic, change_public
from api.schemas import PageOf
from api.writes import run_write
from contracts import store
from contracts.model import Contract
from contracts.terms import authorisation_table
from contracts.validate import validate_document
from ledger.errors import SibError
from ledger.money_json import MoneyJSON
from settlement.change_requests import request_amendment

router = APIRouter(prefix="/contracts", tags=["contracts"])
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key")]
Document = Annotated[dict[str, Any], Body(description="the contract document, as in YAML")]


class ValidationReport(BaseModel):
    ok: bool
    contract: str | None
    problems: list[dict[str, Any]]


class ContractSummary(BaseModel):
    contract: str
    version: int
    name_ja: str
    name_en: str
    currency: str


class AuthorisationRowPublic(BaseModel):
    payer: str
    fiscal_year: int | None
    max_liability: MoneyJSON
    authorised: MoneyJSON | None
    headroom: MoneyJSON | None


class VersionPublic(BaseModel):
    version: int
    effective_from: int
    reason: str
    loaded_at: str


class ContractPublic(ContractSummary):
    document: dict[str, Any]
    authorisation: list[AuthorisationRowPublic]
    versions: list[VersionPublic]


class LoadPublic(BaseModel):
    contract: str
    version: int
    created: bool
    commitments: int


class AmendRequest(BaseModel):
    reason: str
    effective_from: int
    document: dict[str, Any]


def _load_public(result: store.LoadResult) -> LoadPublic:
    return LoadPublic(contract=result.contract_id, version=result.version,
                      created=result.created, commitments=result.commitments)


def _validated(document: dict[str, Any]) -> Contract:
    contract, problems = validate_document(document, "request")
    if problems or contract is None:
        raise SibError(problems)
    return contract


def _rows(contract: Any, payer: str | None = None) -> list[AuthorisationRowPublic]:
    cur = contract.currency
    return [AuthorisationRowPublic(
        payer=r.payer, fiscal_year=r.fiscal_year,
        max_liability=MoneyJSON.from_minor(r.max_liability_minor, cur),
        authorised=MoneyJSON.from_minor(r.authorised_minor, cur)
        if r.authorised_minor is not None else None,
        headroom=MoneyJSON.from_minor(r.headroom_minor, cur)
        if r.headroom_minor is not None else None)
        for r in authorisation_table(contract) if payer is None or r.payer == payer]


@router.post("/validate", response_model=ValidationReport)
def validate(document: Document, user: CurrentUser) -> ValidationReport:
    """Check a contract document; every problem with its field path. Writes nothing."""
    require(user, "admin", "intermediary")
    contract, problems = validate_document(document, "request")
    return ValidationReport(ok=not problems, contract=contract.id if contract else None,
                            problems=[{"code": p.code, "field": p.field, "message": p.message}
                                      for p in problems])


@router.post("", status_code=201, response_model=LoadPublic)
def load(document: Document, request: Request, session: SessionDep, user: CurrentUser,
         idempotency_key: IdemKey = None) -> Response:
    """Load a contract: store it, open its books, reserve its tranche commitments."""
    require(user, "admin", "intermediary")

    def work() -> tuple[int, Any]:
        result = store.load_contract(session, _validated(document), "api")
        return 201, _load_public(result)
    return run_write(request, session, user, idempotency_key, document, "contract.load", work)


@router.post("/{contract_id}/amendments", status_code=201,
             response_model=LoadPublic | ChangeRequestPublic,
             responses={202: {"model": ChangeRequestPublic,
                              "description": "An early termination: a change request another "
                                             "admin or intermediary approves"}})
def amend(contract_id: str, body: AmendRequest, request: Request, session: SessionDep,
          user: CurrentUser, idempotency_key: IdemKey = None) -> Response:
    """A new version of the terms, governing fiscal years from ``effective_from``. One that
    ends the term sooner is an early termination: a change request (202) that another admin
    or intermediary approves (``POST /change-requests/{id}/approval``)."""
    require(user, "admin", "intermediary")

    def work() -> tuple[int, Any]:
        amended = _validated(body.document)
        if store.ends_sooner(session, contract_id, amended):
            return 202, change_public(request_amendment(
                session, contract_id, amended, body.reason, body.effective_from,
                user.username))
        result = store.amend_contract(session, contract_id, amended, body.reason,
                                      body.effective_from)
        return 201, _load_public(result)
    return run_write(request, session, user, idempotency_key, body, "contract.amend", work,
                     detail=lambda payload: getattr(payload, "summary", ""))


@router.get("", response_model=PageOf[ContractSummary])
def list_contracts(session: SessionDep, user: CurrentUser,
                   page: PageDep) -> PageOf[ContractSummary]:
    """Contracts with their newest version."""
    rows = store.list_contracts(session)
    items = [ContractSummary(contract=r.contract_id, version=r.version, name_ja=r.name_ja,
                             name_en=r.name_en, currency=r.currency)
             for r in rows[page.offset:page.offset + page.limit]]
    return PageOf[ContractSummary](items=items, total=len(rows), limit=page.limit,
                                   offset=page.offset)


@router.get("/{contract_id}", response_model=ContractPublic)
def show(contract_id: str, session: SessionDep, user: CurrentUser) -> ContractPublic:
    """The terms, the authorisation table (債務負担行為) and the version history."""
    require(user, *FULL_READ_ROLES)
    history = store.versions(session, contract_id)
    contract = store.contract_from_row(history[-1])
    from contracts.model import to_document
    return ContractPublic(contract=contract.id, version=contract.version,
                          name_ja=contract.name_ja, name_en=contract.name_en,
                          currency=contract.currency, document=to_document(contract),
                          authorisation=_rows(contract),
                          versions=[VersionPublic(version=v.version,
                                                  effective_from=v.effective_from,
                                                  reason=v.reason,
                                                  loaded_at=v.loaded_at.isoformat())
                                    for v in history])


@router.get("/{contract_id}/payers/{payer}", response_model=list[AuthorisationRowPublic])
def payer_share(contract_id: str, payer: str, session: SessionDep,
                user: CurrentUser) -> list[AuthorisationRowPublic]:
    """One payer's maximum liability against its authorisation, per year.

    A finance officer sees its own municipality's — and, as the lead payer of a contract
    that grants it, every payer's (:func:`api.deps.payers_visible_to`); asking for another
    answers 404, as for a payer that does not exist."""
    if user.role != "finance_officer":
        require(user, *FULL_READ_ROLES)
    contract = store.get_contract(session, contract_id)
    require_visible_payer(user, contract, payer)
    return _rows(contract, payer)
