"""Money movements over HTTP: loan draws, fixed fees, payments received, the waterfall, paying
holders, bank accounts; and the 支払調書 data and the contract schema.

The same services as ``sib money …``, ``sib holder pay|records``, ``sib bank-account set`` and
``sib contract schema``. Only the intermediary (and admin) moves money or asks for a bank
account to be registered (another of them approves it); the auditor reads everything here that
is read.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from api.deps import ContractYear, CurrentUser, SessionDep, require, require_own_payer
from api.routes.changes import ChangeRequestPublic, change_detail, change_public
from api.writes import run_write
from contracts.schema import contract_json_schema
from contracts.store import get_contract
from investors.store import pay_holders, payment_records
from investors.tables import Holder
from ledger.errors import NotFound, SibError
from ledger.money_json import MoneyJSON
from settlement.change_requests import request_bank_account
from settlement.payments import (
    distribute,
    draw_loans,
    pay_fixed_fees,
    receive_grant,
    record_contributions,
    record_payment,
    record_provider_payment,
)

router = APIRouter(tags=["money"])
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key")]
MOVERS = ("admin", "intermediary")
READERS = ("admin", "intermediary", "auditor")


class PostedPublic(BaseModel):
    """Ledger entries a movement posted (or had already posted: each is posted once)."""

    entries: list[int]


class DrawRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    through_on: date = Field(description="every loan draw dated on or before this day")


class FeesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    paid_on: date


class ContributionsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    received_on: date = Field(description="the day the year's contributions are booked")


class GrantReceiptCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payer: str = Field(min_length=1, description="the municipality the grant is paid to")
    amount: MoneyJSON
    received_on: date
    reference: str = Field(min_length=1, max_length=100,
                           description="the grant's 交付決定 or payment reference")


class DonationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    donation: str = Field(min_length=1, max_length=64,
                          description="the contract's donation instrument")
    payer: str = Field(min_length=1, description="the municipality that received it")
    amount: MoneyJSON
    received_on: date
    donor: str = Field(min_length=1, max_length=200)
    reference: str = Field(min_length=1, max_length=100,
                           description="the donation's receipt (受領証) number")


class DonationYearPublic(BaseModel):
    """Donations a payer received for the programme in one fiscal year."""

    payer: str
    fiscal_year: int
    amount: MoneyJSON
    count: int


class ReceiptCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payer: str = Field(min_length=1)
    amount: MoneyJSON
    received_on: date
    reference: str = Field(min_length=1, max_length=100,
                           description="groups the receipts one waterfall distributes")
    fiscal_year: int | None = Field(
        None, ge=1900, le=2999, description="the results year the payment settles, which "
        "decides the budget year it is paid from; default: the year the reference names "
        "(FY2021), else the year of received_on with the closing period (出納整理期間)")


class ProviderPaymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payer: str = Field(min_length=1, max_length=100)
    provider: str = Field(min_length=1, max_length=100,
                          description="the provider a tranche routes the payer's payment to")
    amount: MoneyJSON
    paid_on: date
    reference: str = Field(min_length=1, max_length=100)
    fiscal_year: int | None = Field(None, ge=1900, le=2999,
                                    description="the results year the payment settles")


class ProviderPaymentPublic(BaseModel):
    payer: str
    provider: str
    amount: MoneyJSON
    paid_on: date
    reference: str
    entries: list[int]


class ReceiptPublic(BaseModel):
    payer: str
    amount: MoneyJSON
    received_on: date
    reference: str
    entries: list[int]


class DistributionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on: date
    reference: str = Field("", max_length=100,
                           description="only the receipts recorded under this reference (see "
                                       "POST …/receipts); empty: every receipt not yet "
                                       "distributed")
    final: bool = Field(False, description="the end of the contract: unpaid principal "
                                           "becomes a loss (guaranteed or written down)")


class AllocationPublic(BaseModel):
    step: str
    instrument: str
    party: str
    owed: MoneyJSON
    paid: MoneyJSON


class LossPublic(BaseModel):
    instrument: str
    party: str
    unpaid: MoneyJSON
    guaranteed: MoneyJSON
    written_down: MoneyJSON


class DistributionPublic(BaseModel):
    on: date
    reference: str
    receipts: dict[str, MoneyJSON]
    available: MoneyJSON
    left: MoneyJSON
    allocations: list[AllocationPublic]
    losses: list[LossPublic]
    entries: list[int]
    traces: list[dict[str, Any]] = Field(description="how each owed figure was obtained: "
                                                    "investor returns, the waterfall, losses")


class HolderPaymentsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on: date = Field(description="the waterfall date whose class payments are paid out")


class HolderPaymentPublic(BaseModel):
    holder: str
    unit_class: str
    kind: str
    gross: MoneyJSON
    withheld: MoneyJSON
    net: MoneyJSON
    entry_id: int | None


class PaymentRecordPublic(BaseModel):
    holder: str
    name: str
    name_kana: str
    year: int
    paid: MoneyJSON
    withheld: MoneyJSON
    count: int
    must_file: bool = Field(description="paid more than the filing threshold in the year: "
                                        "a 支払調書 is filed for this recipient")


class BankAccountSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bank_code: str = Field(pattern=r"^[0-9]{4}$")
    bank_name: str = Field("", max_length=15, description="in half-width kana, as on a "
                                                           "Zengin file")
    branch_code: str = Field(pattern=r"^[0-9]{3}$")
    branch_name: str = Field("", max_length=15)
    account_type: str = Field("1", pattern=r"^[124]$", description="1 普通, 2 当座, 4 貯蓄")
    account_number: str = Field(pattern=r"^[0-9]{1,7}$")
    holder_kana: str = Field(min_length=1, max_length=40,
                             description="口座名義 in half-width kana")
    requester_code: str = Field("", pattern=r"^([0-9]{10})?$")


def _m(amount_minor: int, currency: str) -> MoneyJSON:
    return MoneyJSON.from_minor(amount_minor, currency)


def _in_contract_currency(session: Any, contract_id: str, amount: MoneyJSON) -> int:
    """The amount in minor units, refused (on ``amount.currency``) unless it is in the
    contract's currency."""
    currency = get_contract(session, contract_id).currency
    if amount.currency != currency:
        raise SibError(f"{contract_id} is in {currency}, not {amount.currency}",
                       "CURRENCY_MISMATCH", "amount.currency")
    return amount.to_minor()


def _ids(entries: list[Any]) -> list[int]:
    return [int(e.id) for e in entries]


@router.post("/contracts/{contract_id}/loan-draws", status_code=201,
             response_model=PostedPublic)
def post_loan_draws(contract_id: str, body: DrawRequest, request: Request, session: SessionDep,
                    user: CurrentUser, idempotency_key: IdemKey = None) -> Response:
    """Post every loan draw of the contract dated on or before ``through_on`` (intermediary)."""
    require(user, *MOVERS)
    return run_write(request, session, user, idempotency_key, body, "money.draw", lambda: (
        201, PostedPublic(entries=_ids(draw_loans(session, contract_id, body.through_on)))))


@router.post("/contracts/{contract_id}/years/{fiscal_year}/fixed-fees", status_code=201,
             response_model=PostedPublic)
def post_fixed_fees(contract_id: str, fiscal_year: ContractYear, body: FeesRequest,
                    request: Request, session: SessionDep, user: CurrentUser,
                    idempotency_key: IdemKey = None) -> Response:
    """The SPV pays the providers' fixed fees of a year (intermediary)."""
    require(user, *MOVERS)
    return run_write(request, session, user, idempotency_key, body, "money.fees", lambda: (
        201, PostedPublic(entries=_ids(pay_fixed_fees(session, contract_id, fiscal_year,
                                                      body.paid_on)))))


@router.post("/contracts/{contract_id}/years/{fiscal_year}/contributions", status_code=201,
             response_model=PostedPublic)
def post_contributions(contract_id: str, fiscal_year: ContractYear, body: ContributionsRequest,
                       request: Request, session: SessionDep, user: CurrentUser,
                       idempotency_key: IdemKey = None) -> Response:
    """Book the year's contributions, in cash or in kind at their stated value, once
    (intermediary)."""
    require(user, *MOVERS)
    return run_write(request, session, user, idempotency_key, body, "money.contributions",
                     lambda: (201, PostedPublic(entries=_ids(record_contributions(
                         session, contract_id, fiscal_year, body.received_on)))))


@router.post("/contracts/{contract_id}/grant-receipts", status_code=201,
             response_model=PostedPublic)
def post_grant_receipt(contract_id: str, body: GrantReceiptCreate, request: Request,
                       session: SessionDep, user: CurrentUser,
                       idempotency_key: IdemKey = None) -> Response:
    """A municipality receives its grant (payers' book): its grant receivable is settled;
    more than is receivable is refused (intermediary)."""
    require(user, *MOVERS)

    def work() -> tuple[int, PostedPublic]:
        entry = receive_grant(session, contract_id, body.payer,
                              _in_contract_currency(session, contract_id, body.amount),
                              body.received_on, body.reference)
        return 201, PostedPublic(entries=_ids([entry]))
    return run_write(request, session, user, idempotency_key, body, "money.grant_receipt",
                     work)


def _donations_scope(user: Any, payer: str, contract_id: str) -> None:
    """A finance officer records and reads only its own municipality's donations (the lead
    payer's view of the other payers does not extend to recording theirs)."""
    require_own_payer(user, contract_id, payer)
    require(user, *MOVERS, "finance_officer")


@router.post("/contracts/{contract_id}/donations", status_code=201, response_model=PostedPublic)
def post_donation(contract_id: str, body: DonationCreate, request: Request,
                  session: SessionDep, user: CurrentUser,
                  idempotency_key: IdemKey = None) -> Response:
    """A donation made through a municipality for the programme (寄附（自治体経由）),
    recorded as received (payers' book): the municipality's designated revenue. The
    municipality's finance officer, the intermediary or an admin."""
    from settlement.donations import record_donation
    _donations_scope(user, body.payer, contract_id)

    def work() -> tuple[int, PostedPublic]:
        entry = record_donation(session, contract_id, body.donation, body.payer,
                                _in_contract_currency(session, contract_id, body.amount),
                                body.received_on, body.reference, body.donor)
        return 201, PostedPublic(entries=_ids([entry]))
    return run_write(request, session, user, idempotency_key, body, "money.donation", work)


@router.get("/contracts/{contract_id}/donations", response_model=list[DonationYearPublic])
def get_donations(contract_id: str, session: SessionDep,
                  user: CurrentUser) -> list[DonationYearPublic]:
    """Donations received for the programme by payer and fiscal year (a finance officer: its
    own)."""
    from settlement.donations import donations_by_year
    contract = get_contract(session, contract_id)
    if user.role != "finance_officer":
        require(user, *MOVERS, "auditor")
    elif user.scope not in contract.payer_ids:  # not one of this contract's municipalities
        raise NotFound(f"no payer {user.scope!r} in {contract_id} that you may see",
                       "PAYER_NOT_FOUND", "payer")
    return [DonationYearPublic(payer=d.payer, fiscal_year=d.fiscal_year,
                               amount=MoneyJSON.from_minor(d.amount_minor, contract.currency),
                               count=d.count)
            for d in donations_by_year(session, contract)
            if user.role != "finance_officer" or d.payer == user.scope]


@router.post("/contracts/{contract_id}/receipts", status_code=201, response_model=ReceiptPublic)
def post_receipt(contract_id: str, body: ReceiptCreate, request: Request, session: SessionDep,
                 user: CurrentUser, idempotency_key: IdemKey = None) -> Response:
    """Record a municipality's outcome payment received by the SPV (intermediary): its
    payable in the payers' book and the SPV's receivable are settled. More than it owes is
    refused."""
    require(user, *MOVERS)

    def work() -> tuple[int, Any]:
        entries = record_payment(session, contract_id, body.payer,
                                 _in_contract_currency(session, contract_id, body.amount),
                                 body.received_on, body.reference, body.fiscal_year)
        return 201, ReceiptPublic(payer=body.payer, amount=body.amount,
                                  received_on=body.received_on, reference=body.reference,
                                  entries=_ids(list(entries)))
    return run_write(request, session, user, idempotency_key, body, "money.receive", work)


@router.post("/contracts/{contract_id}/provider-payments", status_code=201,
             response_model=ProviderPaymentPublic)
def post_provider_payment(contract_id: str, body: ProviderPaymentCreate, request: Request,
                          session: SessionDep, user: CurrentUser,
                          idempotency_key: IdemKey = None) -> Response:
    """Record a municipality's payment made directly to a service provider for the tranches
    routed to it (payee routing): its payable to the provider — the provider's receivable —
    is settled in the payers' book. More than it owes, or a provider no tranche routes to, is
    refused."""
    require(user, *MOVERS)

    def work() -> tuple[int, Any]:
        entry = record_provider_payment(
            session, contract_id, body.payer, body.provider,
            _in_contract_currency(session, contract_id, body.amount), body.paid_on,
            body.reference, body.fiscal_year)
        return 201, ProviderPaymentPublic(payer=body.payer, provider=body.provider,
                                          amount=body.amount, paid_on=body.paid_on,
                                          reference=body.reference, entries=_ids([entry]))
    return run_write(request, session, user, idempotency_key, body, "money.provider_payment",
                     work)


@router.post("/contracts/{contract_id}/distributions", status_code=201,
             response_model=DistributionPublic)
def post_distribution(contract_id: str, body: DistributionRequest, request: Request,
                      session: SessionDep, user: CurrentUser,
                      idempotency_key: IdemKey = None) -> Response:
    """Run the waterfall on the payments received under ``reference`` (intermediary): each
    claim owed and paid, end-of-term losses, and the trace of every computed claim. Each
    receipt is spent once: what a distribution applied is not there for the next one
    (``NOTHING_TO_DISTRIBUTE``; the same date and reference again: ``ALREADY_DISTRIBUTED``).
    ``receipts`` is what this distribution applied, per payer."""
    require(user, *MOVERS)

    def work() -> tuple[int, Any]:
        cur = get_contract(session, contract_id).currency
        result = distribute(session, contract_id, body.on, body.final, body.reference)
        receipts: dict[str, int] = {}
        for receipt, amount in result.applied:
            receipts[receipt.payer] = receipts.get(receipt.payer, 0) + amount
        waterfall = result.waterfall
        return 201, DistributionPublic(
            on=body.on, reference=body.reference,
            receipts={payer: _m(amount, cur) for payer, amount in sorted(receipts.items())},
            available=_m(waterfall.available_minor, cur), left=_m(waterfall.left_minor, cur),
            allocations=[AllocationPublic(step=a.claim.step, instrument=a.claim.instrument,
                                          party=a.claim.party, owed=_m(a.claim.amount_minor, cur),
                                          paid=_m(a.paid_minor, cur))
                         for a in waterfall.allocations],
            losses=[LossPublic(instrument=x.instrument, party=x.party,
                               unpaid=_m(x.unpaid_minor, cur),
                               guaranteed=_m(x.guaranteed_minor, cur),
                               written_down=_m(x.written_down_minor, cur))
                    for x in result.losses],
            entries=list(result.entries), traces=[t.as_dict() for t in result.traces])
    return run_write(request, session, user, idempotency_key, body, "money.distribute", work)


def _holder_codes(session: Any, ids: set[int]) -> dict[int, str]:
    return dict(session.execute(select(Holder.id, Holder.code).where(Holder.id.in_(ids))).all())


@router.post("/contracts/{contract_id}/holder-payments", status_code=201,
             response_model=list[HolderPaymentPublic])
def post_holder_payments(contract_id: str, body: HolderPaymentsRequest, request: Request,
                         session: SessionDep, user: CurrentUser,
                         idempotency_key: IdemKey = None) -> Response:
    """Pay the holders every class distribution, capital return and write-down of a waterfall
    date, withholding tax per holder (intermediary). Paid once: a second call pays nothing
    more and lists the same payments."""
    require(user, *MOVERS)

    def work() -> tuple[int, Any]:
        cur = get_contract(session, contract_id).currency
        paid = pay_holders(session, contract_id, body.on)
        codes = _holder_codes(session, {p.holder_id for p in paid})
        return 201, [HolderPaymentPublic(
            holder=codes.get(p.holder_id, str(p.holder_id)), unit_class=p.unit_class,
            kind=p.kind, gross=_m(p.gross_minor, cur), withheld=_m(p.withheld_minor, cur),
            net=_m(p.net_minor, cur), entry_id=p.entry_id) for p in paid]
    return run_write(request, session, user, idempotency_key, body, "holder.pay", work)


@router.get("/contracts/{contract_id}/payment-records",
            response_model=list[PaymentRecordPublic])
def get_payment_records(contract_id: str, session: SessionDep, user: CurrentUser,
                        calendar_year: Annotated[int, Query(ge=1900, le=2200)]
                        ) -> list[PaymentRecordPublic]:
    """支払調書 data of a calendar year, per recipient: paid and withheld (intermediary,
    auditor). No national identification number is kept."""
    require(user, *READERS)
    return [PaymentRecordPublic(
        holder=r.recipient.holder_id, name=r.recipient.name, name_kana=r.recipient.name_kana,
        year=r.year, paid=_m(r.paid_minor, r.currency), withheld=_m(r.withheld_minor, r.currency),
        count=r.count, must_file=r.must_file)
        for r in payment_records(session, contract_id, calendar_year)]


@router.put("/contracts/{contract_id}/parties/{party}/bank-account", status_code=202,
            response_model=ChangeRequestPublic)
def put_bank_account(contract_id: str, party: str, body: BankAccountSet, request: Request,
                     session: SessionDep, user: CurrentUser,
                     idempotency_key: IdemKey = None) -> Response:
    """Ask for a party's bank account to be registered or replaced (intermediary, admin): a
    change request that takes effect when another admin or intermediary approves it
    (``POST /change-requests/{id}/approval``). Account numbers are masked in the answer."""
    require(user, *MOVERS)

    def work() -> tuple[int, Any]:
        row = request_bank_account(session, contract_id, party, user.username,
                                   **body.model_dump())
        return 202, change_public(row)
    return run_write(request, session, user, idempotency_key, body,
                     "bank_account.change.request", work, detail=change_detail)


@router.get("/contract-schema")
def contract_schema(user: CurrentUser) -> dict[str, Any]:
    """The JSON Schema of a contract document (what ``POST /contracts`` accepts)."""
    return contract_json_schema()
