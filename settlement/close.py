"""Year-end close: accrue interest to the fiscal year's last day, settle what is audited but not
yet settled, build the settlement pack, close the period in both books.

Balances carry forward by construction: the ledger keeps cumulative balances and the close
snapshots them, so the next year opens with exactly the closing figures.

Every money figure of the pack is read from the ledger through its read model
(:mod:`ledger.read`, STYLE habit 10), with account codes and entry kinds from
:mod:`contracts.chart`; only the contract's terms (authorised limits, loan schedules) and the
evaluator's KPI results come from elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from fractions import Fraction
from typing import Any

from sqlmodel import Session

from contracts.chart import Code, Kind, payers_book_code
from contracts.model import Contract
from contracts.store import contract_for_year
from ledger import read
from ledger.errors import SibError
from ledger.money_json import MoneyJSON
from ledger.periods import close_period
from ledger.service import get_book
from ledger.verify import ledger_state_hash
from settlement.closing_rules import require_closable
from settlement.debt_service import accrue_to, schedule_against_actual, service
from settlement.grants import grant_room, grant_rounding_mode, rounded_grant
from settlement.loan_ledger import loan_year
from settlement.payer_ledger import (
    payments_by_results_year,
    read_payer_years,
    read_payments_by_results_year,
    read_provider_years,
)
from settlement.payments import _post
from settlement.results import current_audited, results_for
from settlement.runs import settle

# What takes principal off a loan or a unit class without its borrower paying it: a guarantor
# paying in its place (and subrogated) and the final write-down of what nobody paid.
_LOSS_KINDS = (Kind.WRITE_DOWN, Kind.GUARANTEE_DRAW)


@dataclass
class SettlementPack:
    """The year-end settlement pack data (amounts in minor units of ``currency``).

    "Year" figures are movements within the fiscal year (``period_start``–``period_end``);
    the others are balances or totals at its end, as each key says.

    Attributes:
        payers: per payer: authorised (total and year limit); earned, tax, due and grant of
            the year's obligations (whenever settled); ``paid``: what was paid for the year's
            results (whenever paid; see :mod:`settlement.budget`);
            ``outstanding``: the SPV's receivable from it at year end.
        lenders: per loan: cumulative ``drawn``, ``repaid``, ``written_down`` (written down or
            covered by a guarantee, kept for existing readers), split into ``guaranteed``
            (paid by a guarantor: a recovery for the lender) and ``loss`` (what nobody paid),
            and ``outstanding`` at year end; the year's movement
            (``opening``, ``drawn_year``, ``repaid_year``, ``guaranteed_year``,
            ``written_down_year``, ``closing`` = ``outstanding``); interest payable at the
            year's start (``interest_payable_opening``), accrued and paid in the year, and
            ``interest_payable`` at its end; schedule against actual.
        providers: per provider: fixed fees and outcome fees of the year.
        investor_classes: per class: cumulative ``capital``, ``capital_returned`` and
            ``written_down`` (written down or covered by a guarantee), split into
            ``guaranteed`` (a recovery for the holders) and ``loss``; distributions of the
            year; the year's movement of capital (``opening``, ``contributed_year``,
            ``returned_year``, ``guaranteed_year``, ``written_down_year``, ``closing``).
        kpis: the results of the year, every version, with the KPI's names and unit and the
            target settlement measured it against.
        trial_balance: the SPV book at year end.
        ledger_hash: the head of the SPV book's hash chain when the pack was built.
    """

    contract_id: str
    name_ja: str
    name_en: str
    currency: str
    fiscal_year: int
    period_start: date
    period_end: date
    payers: list[dict[str, Any]] = field(default_factory=list)
    lenders: list[dict[str, Any]] = field(default_factory=list)
    providers: list[dict[str, Any]] = field(default_factory=list)
    investor_classes: list[dict[str, Any]] = field(default_factory=list)
    kpis: list[dict[str, Any]] = field(default_factory=list)
    trial_balance: list[dict[str, Any]] = field(default_factory=list)
    ledger_hash: str = ""
    closed: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The pack as plain data, amounts as integers of minor units (as stored)."""
        plain: dict[str, Any] = json.loads(json.dumps(asdict(self), default=str))
        return plain

    def as_json(self) -> dict[str, Any]:
        """The pack as ``--json`` prints it: every amount ``{"amount": "1250.50", "currency":
        "GBP"}`` in major units, as the HTTP API writes money (:data:`PACK_MONEY_KEYS`)."""
        wire: dict[str, Any] = _money_as_wire(self.as_dict(), MoneyJSON.writer(self.currency))
        return wire


# The keys of a pack's rows that hold amounts of minor units (the others are counts, numbers,
# dates, names and states).
PACK_MONEY_KEYS = frozenset((
    "actual_closing", "actual_interest", "actual_principal", "authorised_total",
    "authorised_year", "capital", "capital_returned", "closing", "commitment", "contributed_year",
    "credit", "debit", "default_interest", "distributions", "drawn", "drawn_year", "due",
    "earned", "fixed_fees", "grant", "guaranteed", "guaranteed_year", "interest_accrued_year",
    "interest_paid_year", "interest_payable", "interest_payable_opening", "loss", "opening",
    "outcome_fees", "outstanding", "overdue", "paid", "provider_due", "provider_earned",
    "provider_outstanding", "provider_paid", "provider_tax", "repaid", "repaid_year",
    "returned_year", "scheduled_closing", "scheduled_interest", "scheduled_principal", "tax",
    "written_down", "written_down_year"))


def _money_as_wire(value: Any, write: Callable[[int], dict[str, str]]) -> Any:
    """``value`` with every integer under a :data:`PACK_MONEY_KEYS` key written as money."""
    if isinstance(value, list):
        return [_money_as_wire(v, write) for v in value]
    if not isinstance(value, dict):
        return value
    return {k: write(v) if k in PACK_MONEY_KEYS and isinstance(v, int)
            and not isinstance(v, bool) else _money_as_wire(v, write) for k, v in value.items()}


def close_year(session: Session, contract_id: str, fiscal_year: int, actor: str = "",
               now: datetime | None = None,
               force_reason: str | None = None) -> SettlementPack:
    """Close FY ``fiscal_year`` of a contract and return its settlement pack. Refused while a
    result awaits audit or a paying KPI has none (:mod:`settlement.closing_rules`), unless
    ``force_reason`` says why it closes anyway (kept in the period's log)."""
    contract = contract_for_year(session, contract_id, fiscal_year)
    start, end = contract.fiscal_year_bounds(fiscal_year)
    book = get_book(session, contract_id)
    if book.closed_through_on is not None and book.closed_through_on >= end:
        raise SibError(f"FY{fiscal_year} of {contract_id} is already closed",
                       "PERIOD_ALREADY_CLOSED", "fiscal_year")
    require_closable(session, contract, fiscal_year, force_reason)
    _settle_audited(session, contract, fiscal_year, by=actor, now=now)
    _grant_on_fixed_fees(session, contract, fiscal_year, end)
    _accrue_to_year_end(session, contract, fiscal_year, end)
    pack = build_pack(session, contract, fiscal_year)
    reason = f"year-end close FY{fiscal_year}" + (f" (forced: {force_reason})"
                                                   if force_reason is not None else "")
    close_period(session, contract_id, fiscal_year, actor, reason, now)
    close_period(session, payers_book_code(contract_id), fiscal_year, actor, reason, now)
    pack.closed = True
    pack.ledger_hash = ledger_state_hash(session, contract_id)
    return pack


def _grant_on_fixed_fees(session: Session, contract: Contract, fiscal_year: int,
                         end: date) -> None:
    """The grant on the fixed fees the subsidised payers paid their providers in the year,
    where the grant's terms make them eligible cost: recognised once at the year's end
    (payers' book: grant receivable / grant income), on the year's total (a completion report
    covers the year), in the grant's unit, within its caps after what it already granted."""
    book = payers_book_code(contract.id)
    for grant in contract.grants:
        if "fixed_fees" not in grant.eligible or \
                not grant.first_fiscal_year <= fiscal_year <= grant.last_fiscal_year:
            continue
        fees = _fees_paid_by_payers(session, contract, fiscal_year)
        granted = read.postings(session, book, accounts=[
            Code.grant_income(p) for p in grant.subsidises])
        before = sum(p.credit_minor - p.debit_minor for p in granted)
        in_year = sum(p.credit_minor - p.debit_minor for p in granted
                      if p.links.get("fiscal_year") == fiscal_year)
        mode = grant_rounding_mode(grant, contract.rounding.mode)
        for payer in grant.subsidises:
            eligible = sum(p.debit_minor for p in fees if p.account == Code.fixed_fees(payer))
            amount = rounded_grant(grant, Fraction(eligible) * grant.rate, mode)
            room = grant_room(grant, before, in_year)
            amount = amount if room is None else min(amount, room)
            if amount <= 0:
                continue
            _post(session, book, f"{contract.id}:grant:{grant.id}:{payer}:FY{fiscal_year}:fees",
                  Kind.GRANT_RECOGNISED, end, amount, Code.grant_receivable(payer),
                  Code.grant_income(payer), f"Grant on fixed fees FY{fiscal_year} — {payer}",
                  {"contract": contract.id, "grant": grant.id, "payer": payer,
                   "fiscal_year": fiscal_year, "eligible_cost": eligible},
                  contract.currency)
            before += amount
            in_year += amount


def _settle_audited(session: Session, contract: Contract, fiscal_year: int, by: str,
                    now: datetime | None = None) -> None:
    """Audited results not yet settled become receivables before the books close."""
    for evaluation in ("interim", "final"):
        if current_audited(session, contract.id, fiscal_year, evaluation):
            settle(session, contract.id, fiscal_year, evaluation, by=by, now=now)


def _accrue_to_year_end(session: Session, contract: Contract, fiscal_year: int,
                        end: date) -> None:
    """Every instalment due in the year is serviced on its date (debt service through the
    year end), then each loan's interest earned to the year end and its default interest are
    booked."""
    service(session, contract.id, end)
    accrue_to(session, contract, end, f"{contract.id}:close:FY{fiscal_year}", fiscal_year)


def build_pack(session: Session, contract: Contract, fiscal_year: int) -> SettlementPack:
    """The settlement pack of a year, from the ledger (through its read model), the contract's
    terms and the evaluator's results."""
    start, end = contract.fiscal_year_bounds(fiscal_year)
    pack = SettlementPack(contract.id, contract.name_ja, contract.name_en, contract.currency,
                          fiscal_year, start, end)
    pack.payers = _payer_rows(session, contract, fiscal_year, start, end)
    direct = _fees_paid_by_payers(session, contract, fiscal_year)
    for payer_row in pack.payers:
        payer_row["fixed_fees_paid"] = sum(p.debit_minor for p in direct
                                           if p.account == Code.fixed_fees(payer_row["payer"]))
    pack.lenders = [_lender_row(session, contract, loan, start, end) for loan in contract.loans]
    for provider in contract.providers:
        fees = _Postings(read.postings(session, contract.id, account=Code.fees(provider.party),
                                       from_on=start, through_on=end))
        pack.providers.append({"provider": provider.party,
                               "name_ja": contract.party(provider.party).name_ja,
                               "name_en": contract.party(provider.party).name_en,
                               "fixed_fees": fees.debits(kinds=(Kind.SERVICE_FEE,))
                               + sum(p.debit_minor for p in direct
                                     if p.links.get("provider") == provider.party),
                               "outcome_fees": fees.debits(kinds=(Kind.PROVIDER_FEE,))})
    pack.investor_classes = [_class_row(session, contract, unit_class, start, end)
                             for unit_class in contract.unit_classes]
    for row in results_for(session, contract.id, fiscal_year):
        kpi = contract.kpi(row.kpi_id)
        pack.kpis.append({"kpi": row.kpi_id, "payer": row.payer_id,
                          "evaluation": row.evaluation, "version": row.version,
                          "value": row.value, "state": row.state,
                          "target": str(_target(kpi, row.payer_id, fiscal_year) or ""),
                          "name_ja": kpi.name_ja, "name_en": kpi.name_en, "unit": kpi.unit})
    for r in read.trial_balance(session, contract.id, end).rows:
        if r.debits_posted or r.credits_posted:
            pack.trial_balance.append({"account": r.code, "name_ja": r.name_ja,
                                       "name_en": r.name_en, "type": r.type,
                                       "debit": r.debit_minor, "credit": r.credit_minor})
    pack.ledger_hash = ledger_state_hash(session, contract.id)
    return pack


class _Postings:
    """Postings read once, summed several ways (by account, entry kind, side and date)."""

    def __init__(self, found: Sequence[read.PostingView]) -> None:
        self.found = found

    def _pick(self, account: str | None, kinds: Iterable[str] | None,
              from_on: date | None) -> list[read.PostingView]:
        wanted = set(kinds) if kinds is not None else None
        return [p for p in self.found
                if (account is None or p.account == account)
                and (wanted is None or p.kind in wanted)
                and (from_on is None or p.effective_on >= from_on)]

    def debits(self, account: str | None = None, kinds: Iterable[str] | None = None,
               from_on: date | None = None) -> int:
        return sum(p.debit_minor for p in self._pick(account, kinds, from_on))

    def credits(self, account: str | None = None, kinds: Iterable[str] | None = None,
                from_on: date | None = None) -> int:
        return sum(p.credit_minor for p in self._pick(account, kinds, from_on))


def _fees_paid_by_payers(session: Session, contract: Contract,
                         fiscal_year: int) -> list[read.PostingView]:
    """The fixed fees of ``fiscal_year`` the payers paid their providers directly (payers'
    book: each payer's fixed-fee cost, linked to the year and the provider)."""
    return [p for p in read.postings(session, payers_book_code(contract.id), accounts=[
        Code.fixed_fees(payer) for payer in contract.payer_ids], kinds=[Kind.SERVICE_FEE])
        if p.links.get("fiscal_year") == fiscal_year]


def _target(kpi: Any, payer: str, fiscal_year: int) -> Any:
    """The target settlement measured a result against: the payer's own where the contract
    sets one, else the contract's (as :func:`settlement.runs.kpi_inputs` does)."""
    own = kpi.targets_by_payer.get(payer, {}).get(fiscal_year) if payer else None
    return own if own is not None else kpi.targets.get(fiscal_year)


def _payer_rows(session: Session, contract: Contract, fiscal_year: int, start: date,
                end: date) -> list[dict[str, Any]]:
    """Per payer, what its obligations of ``fiscal_year`` came to in the books (the one
    computation the notice and the year-end report share:
    :func:`settlement.payer_ledger.read_payer_years`), what it paid, what it still owes."""
    years = read_payer_years(session, contract.id, [p.party for p in contract.payers],
                             fiscal_year)
    rows = []
    book = payers_book_code(contract.id)
    for payer in contract.payers:
        p, year = payer.party, years[payer.party]
        # What it paid for the year: to the SPV and (payee routing) to the providers its
        # tranches route to; the providers' part is also shown apart.
        paid = read_payments_by_results_year(session, contract, p).get(fiscal_year, 0)
        providers = read_provider_years(session, contract, p, fiscal_year)
        provider_paid = payments_by_results_year(contract, [
            posting for prov in providers for posting in read.postings(
                session, book, account=Code.payable_to(p, prov), kinds=[Kind.OUTCOME_PAYMENT])
        ]).get(fiscal_year, 0) if providers else 0
        provider_earned = sum(y.earned_minor for y in providers.values())
        provider_tax = sum(y.tax_minor for y in providers.values())
        provider_due = sum(y.due_minor for y in providers.values())
        receivable = read.totals(session, contract.id, Code.receivable(p), through_on=end)
        rows.append({
            "payer": p, "name_ja": contract.party(p).name_ja,
            "name_en": contract.party(p).name_en,
            "authorised_total": payer.authorisation.max_amount_minor,
            "authorised_year": payer.authorisation.limits_by_year_minor.get(fiscal_year),
            # Earned and tax of every tranche the payer pays, whoever it pays (the SPV, or a
            # provider directly); due is its whole cost for the year.
            "earned": year.earned_minor + provider_earned,
            "tax": year.tax_minor + provider_tax, "due": year.due_minor,
            "grant": year.grant_minor, "paid": paid,
            "outstanding": receivable.net_debit_minor,
            "provider_earned": provider_earned, "provider_tax": provider_tax,
            "provider_due": provider_due, "provider_paid": provider_paid,
            "provider_outstanding": provider_due - provider_paid})
    return rows


def _lender_row(session: Session, contract: Contract, loan: Any, start: date,
                end: date) -> dict[str, Any]:
    """A loan's principal (balance to date and the year's movement), its interest of the year
    and its schedule against what was paid: :mod:`settlement.loan_ledger`'s figures, the same
    the lender statement shows."""
    found = read.postings(session, contract.id, through_on=end, accounts=[
        Code.loan(loan.id), Code.interest_expense(loan.id), Code.interest_payable(loan.id)])
    year = loan_year(loan.id, found, start, end)
    life = loan_year(loan.id, found, date.min, end)
    # ``written_down`` keeps its old meaning (guarantor payments included) for existing
    # readers; ``guaranteed`` (recovered from the guarantor) and ``loss`` (nobody paid) split it.
    written = life.written_down_minor + life.guaranteed_minor
    return {"loan": loan.id, "lender": loan.lender,
            "lender_name_ja": contract.party(loan.lender).name_ja,
            "lender_name_en": contract.party(loan.lender).name_en,
            "commitment": loan.commitment_minor, "drawn": life.drawn_minor,
            "repaid": life.repaid_minor, "written_down": written,
            "guaranteed": life.guaranteed_minor, "loss": life.written_down_minor,
            "outstanding": life.drawn_minor - life.repaid_minor - written,
            "interest_accrued_year": year.interest_accrued_minor,
            "interest_paid_year": year.interest_paid_minor,
            "interest_payable_opening": year.interest_payable_opening_minor,
            "interest_payable": year.interest_payable_closing_minor,
            "opening": year.opening_minor, "drawn_year": year.drawn_minor,
            "repaid_year": year.repaid_minor + year.other_minor,
            "guaranteed_year": year.guaranteed_minor,
            "written_down_year": year.written_down_minor, "closing": year.closing_minor,
            "schedule_vs_actual": [
                {"number": r.number, "due_on": r.due_on, "scheduled_principal":
                 r.scheduled_principal, "actual_principal": r.paid_principal,
                 "scheduled_interest": r.scheduled_interest, "actual_interest": r.paid_interest,
                 "scheduled_closing": r.scheduled_closing, "actual_closing": r.actual_closing,
                 "paid_on": ", ".join(d.isoformat() for d in r.paid_on), "overdue": r.overdue,
                 "default_interest": r.default_interest, "status": r.status}
                for r in schedule_against_actual(session, contract, loan, end)]}


@dataclass(frozen=True)
class _Movement:
    """The year's movement of a principal account (a loan; or an investor class's units), in
    minor units: opening + added − returned − guaranteed − written_down = closing.

    Attributes:
        added: drawn (a loan) or subscribed (units) in the year.
        returned: repaid (a loan) or capital returned (units) in the year: every other
            movement of the year, so that the movement always adds up to the closing balance.
        guaranteed: covered by a guarantor paying in the borrower's place (a recovery for the
            lender or investor, not a loss).
        written_down: written down at the end of the contract (the loss nobody paid).
    """

    opening: int
    added: int
    returned: int
    guaranteed: int
    written_down: int
    closing: int


def _principal_movement(found: _Postings, account: str, added_kind: Kind,
                        start: date) -> _Movement:
    """A credit-normal principal account's movement in the year beginning ``start`` (the
    postings read through the year's end)."""
    opening = sum(p.credit_minor - p.debit_minor for p in found.found
                  if p.account == account and p.effective_on < start)
    closing = found.credits(account) - found.debits(account)
    added = found.credits(account, (added_kind,), start)
    guaranteed = found.debits(account, (Kind.GUARANTEE_DRAW,), start)
    written = found.debits(account, (Kind.WRITE_DOWN,), start)
    return _Movement(opening, added, opening + added - guaranteed - written - closing,
                     guaranteed, written, closing)


def _class_row(session: Session, contract: Contract, unit_class: Any, start: date,
               end: date) -> dict[str, Any]:
    """An investor class's capital (to date and the year's movement) and the year's
    distributions."""
    account = Code.units(unit_class.id)
    found = _Postings(read.postings(session, contract.id, account=account, through_on=end))
    distributed = read.totals(session, contract.id, Code.distributions(unit_class.id),
                              from_on=start, through_on=end)
    written = found.debits(account, _LOSS_KINDS)
    year = _principal_movement(found, account, Kind.UNIT_SUBSCRIPTION, start)
    return {"unit_class": unit_class.id, "name_ja": unit_class.name_ja,
            "name_en": unit_class.name_en, "capital": found.credits(account),
            "distributions": distributed.debits_minor,
            "capital_returned": found.debits(account) - written, "written_down": written,
            "guaranteed": found.debits(account, (Kind.GUARANTEE_DRAW,)),
            "loss": found.debits(account, (Kind.WRITE_DOWN,)),
            "opening": year.opening, "contributed_year": year.added,
            "returned_year": year.returned, "guaranteed_year": year.guaranteed,
            "written_down_year": year.written_down, "closing": year.closing}
