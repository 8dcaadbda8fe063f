"""Debt service endpoints: instalments paid on their due dates, prepayments, and each loan's
instalments as they stand (paid on time, paid late, overdue with default interest…)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CurrentUser, SessionDep, require
from api.writes import run_write
from contracts.store import get_contract
from ledger.errors import NotFound, SibError
from ledger.money_json import MoneyJSON
from settlement.debt_service import ServiceRun, find_loan, prepay, read_state, service
from settlement.servicing import LoanState

router = APIRouter(tags=["debt service"])
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
MOVERS = ("admin", "intermediary")


def _m(amount_minor: int, currency: str) -> MoneyJSON:
    return MoneyJSON.from_minor(amount_minor, currency)


class ServiceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    through: date = Field(description="pay every instalment due up to this date, each on its "
                                      "own due date, from the cash there was")


class PaidPublic(BaseModel):
    loan: str
    component: str = Field(description="default_interest, interest or principal")
    due_on: date
    paid_on: date
    late: bool
    amount: MoneyJSON


class OverduePublic(BaseModel):
    loan: str
    component: str
    due_on: date
    amount: MoneyJSON


class ServiceDayPublic(BaseModel):
    on: date
    available: MoneyJSON
    paid: list[PaidPublic]
    overdue: list[OverduePublic]


class ServicePublic(BaseModel):
    through: date
    days: list[ServiceDayPublic]
    overdue: list[OverduePublic] = Field(description="what is still overdue after the run")
    entries: list[int]


def service_public(run: ServiceRun, currency: str) -> ServicePublic:
    """The run as JSON: each service date, what it paid (against which due date) and what
    stayed overdue."""
    def overdue(items: Any) -> list[OverduePublic]:
        return [OverduePublic(loan=d.loan_id, component=d.component, due_on=d.due_on,
                              amount=_m(d.amount_minor, currency)) for d in items]
    return ServicePublic(
        through=run.through_on,
        days=[ServiceDayPublic(on=day.on, available=_m(day.available_minor, currency),
                               paid=[PaidPublic(loan=d.loan_id, component=d.component,
                                                due_on=d.due_on, paid_on=day.on,
                                                late=day.on > d.due_on,
                                                amount=_m(amount, currency))
                                     for d, amount in day.paid],
                               overdue=overdue(day.overdue))
              for day in run.days if day.paid or day.overdue],
        overdue=overdue(run.overdue), entries=run.entries)


@router.post("/contracts/{contract_id}/debt-service", status_code=201,
             response_model=ServicePublic)
def post_service(contract_id: str, body: ServiceRequest, request: Request,
                 session: SessionDep, user: CurrentUser,
                 idempotency_key: IdemKey = None) -> Response:
    """Service every loan through ``through`` (intermediary): each instalment paid on its due
    date from the cash available then; what cannot be paid stays overdue with 遅延損害金 and
    is paid on the next date cash comes in. Dates already serviced are not serviced again."""
    require(user, *MOVERS)

    def work() -> tuple[int, Any]:
        currency = get_contract(session, contract_id).currency
        return 201, service_public(service(session, contract_id, body.through), currency)
    return run_write(request, session, user, idempotency_key, body, "money.service", work)


class PrepaymentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    loan: str = Field(min_length=1, max_length=100)
    amount: MoneyJSON
    on: date


class PrepaymentPublic(BaseModel):
    loan: str
    on: date
    amount: MoneyJSON
    fee: MoneyJSON
    entries: list[int]
    instalments: list[dict[str, Any]] = Field(description="the schedule after the prepayment")


@router.post("/contracts/{contract_id}/prepayments", status_code=201,
             response_model=PrepaymentPublic)
def post_prepayment(contract_id: str, body: PrepaymentRequest, request: Request,
                    session: SessionDep, user: CurrentUser,
                    idempotency_key: IdemKey = None) -> Response:
    """Prepay a loan (期限前弁済) under its prepayment terms (intermediary); the remaining
    schedule is rebuilt by the terms' effect (shorter term or lower instalments)."""
    require(user, *MOVERS)

    def work() -> tuple[int, Any]:
        currency = get_contract(session, contract_id).currency
        if body.amount.currency != currency:
            raise SibError(f"the amount is in {body.amount.currency}; the contract is in "
                           f"{currency}", "CURRENCY_MISMATCH", "amount.currency")
        result = prepay(session, contract_id, body.loan, body.amount.to_minor(), body.on)
        return 201, PrepaymentPublic(
            loan=result.loan_id, on=result.on, amount=_m(result.amount_minor, currency),
            fee=_m(result.fee_minor, currency), entries=list(result.entries),
            instalments=instalments_json(result.schedule_after, currency))
    return run_write(request, session, user, idempotency_key, body, "money.prepay", work)


def instalments_json(state: LoanState, currency: str) -> list[dict[str, Any]]:
    """Each instalment with its amounts as money, dates as ISO strings, and its status."""
    return [{"number": i.number, "due_on": i.due_on.isoformat(),
             "period_start": i.period_start.isoformat(),
             "interest": _m(i.interest_minor, currency).model_dump(),
             "principal": _m(i.principal_minor, currency).model_dump(),
             "interest_paid": _m(i.interest_paid_minor, currency).model_dump(),
             "principal_paid": _m(i.principal_paid_minor, currency).model_dump(),
             "paid_on": [d.isoformat() for d in i.paid_on],
             "overdue": _m(i.overdue_minor, currency).model_dump(),
             "default_interest": _m(i.default_interest_minor, currency).model_dump(),
             "default_interest_paid": _m(i.default_interest_paid_minor, currency).model_dump(),
             "recovered": _m(i.recovered_minor, currency).model_dump(),
             "written_down": _m(i.written_down_minor, currency).model_dump(),
             "status": i.status} for i in state.instalments]


@router.get("/contracts/{contract_id}/loans/{loan_id}/instalments")
def get_instalments(contract_id: str, loan_id: str, session: SessionDep, user: CurrentUser,
                    as_of: Annotated[date, Query(description="the state at the end of this "
                                                          "day")]) -> dict[str, Any]:
    """The loan's instalments at ``as_of`` from the ledger: scheduled, paid (and when),
    overdue, default interest, status. A bank sees only its own loans."""
    contract = get_contract(session, contract_id)
    if user.role != "lender":
        require(user, "admin", "intermediary", "evaluator", "auditor")
        loan = find_loan(contract, loan_id)
    else:
        # A bank sees its own loans; another bank's looks exactly like a missing one.
        own = [ln for ln in contract.loans if ln.id == loan_id and ln.lender == user.scope]
        if not own:
            raise NotFound(f"{user.scope} has no loan {loan_id!r} in {contract.id}",
                           "LOAN_NOT_FOUND", "loan_id")
        loan = own[0]
    state = read_state(session, contract, loan, as_of)
    return {"loan": loan.id, "lender": loan.lender, "as_of": as_of.isoformat(),
            "outstanding": _m(state.outstanding_minor, contract.currency).model_dump(),
            "instalments": instalments_json(state, contract.currency)}
