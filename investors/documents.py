"""Document data from the database: the four documents' records, built from the ledger, the
settlement runs and the holder registry (rendering is :mod:`investors.pdf`'s business).

Every document cites the ledger state it was built from (the head hash of the contract's book)
and is stamped with that state's time — the moment of the last entry — so that rebuilding from
the same ledger gives byte-identical files. Queries are per contract, not per holder: building
twenty thousand investor statements is a handful of queries.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from contracts.chart import provider_payee
from contracts.model import Contract, Tranche
from contracts.rules import RateCardRule
from contracts.store import contract_for_year
from investors import statement_data as sd
from investors.capital import (
    CapitalAccount,
    CapitalMovement,
    HolderPaymentKind,
    MovementKind,
    class_totals,
    payment_movements,
    roll_forward,
)
from investors.returns import CashFlow, summarise
from investors.tables import Holder, HolderPayment, Subscription
from investors.trace_text import JAPANESE_WORDS, TraceStyle, trace_text
from ledger import read
from ledger.errors import NotFound
from ledger.money import HOME_CURRENCY
from ledger.service import get_book
from settlement.budget import budget_year, due_on, planned_by_budget_year
from settlement.close import build_pack
from settlement.debt_service import ScheduleLine, schedule_against_actual
from settlement.loan_ledger import LoanYear, read_loan_year
from settlement.payer_ledger import (
    paid_by_budget_year,
    read_payer_years,
    read_payments_by_results_year,
    read_provider_years,
)
from settlement.results import results_for
from settlement.runs import current_runs
from settlement.tables import SettlementLine, SettlementRun
from settlement.trace import (
    DAY_COUNT_TERMS,
    DAY_ENDS_TERMS,
    ENGLISH_WORDS,
    Subject,
    Trace,
    find,
    is_structured,
)
from settlement.transfers import bank_account


@dataclass(frozen=True)
class Context:
    """What every document of one contract-year shares."""

    contract: Contract
    fiscal_year: int
    start_on: date
    end_on: date
    generated_at: datetime
    ledger_hash: str


def context(session: Session, contract_id: str, fiscal_year: int,
            generated_at: datetime | None = None) -> Context:
    """The contract's terms for the year and the ledger state documents will cite."""
    contract = contract_for_year(session, contract_id, fiscal_year)
    start, end = contract.fiscal_year_bounds(fiscal_year)
    book = get_book(session, contract_id)
    last = read.last_recorded_at(session, contract_id)
    return Context(contract, fiscal_year, start, end, generated_at or last or book.created_at,
                   book.head_hash)


def _header(ctx: Context, kind: str, party: str) -> sd.DocumentHeader:
    """What every document states about itself; its time in the zone its dates are in (JST
    for a yen contract — the same instant, so the bytes still follow the data alone)."""
    c = ctx.contract
    return sd.DocumentHeader(
        document_id=f"{kind}/{c.id}/FY{ctx.fiscal_year}/{party}", contract_id=c.id,
        contract_name=sd.Text(c.name_ja, c.name_en), fiscal_year=ctx.fiscal_year,
        generated_at=ctx.generated_at.astimezone(document_zone(c)),
        ledger_state_hash=ctx.ledger_hash, currency=c.currency,
        fiscal_year_start_month=c.fiscal_year_start_month,
        fiscal_year_named_by=c.fiscal_year_named_by)


def _party(contract: Contract, party_id: str) -> sd.Party:
    p = contract.party(party_id)
    return sd.Party(p.id, sd.Text(p.name_ja or p.name_en, p.name_en or p.name_ja))


def _intermediary(contract: Contract) -> sd.Party:
    parties = contract.parties_with_role("intermediary")
    return _party(contract, parties[0].id) if parties else sd.Party("spv", sd.Text("SPV", "SPV"))


def kpi_results(session: Session, ctx: Context, payer: str | None = None) -> tuple[sd.KpiResult,
                                                                                    ...]:
    """The year's audited results (newest version per KPI, payer and evaluation), with what
    each earned in the current settlement runs."""
    c = ctx.contract
    latest: dict[tuple[str, str, str], Any] = {}
    for row in results_for(session, c.id, ctx.fiscal_year):
        if row.state in ("audited", "settled"):
            latest[(row.kpi_id, row.payer_id, row.evaluation)] = row
    earned: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for (year, evaluation), run in current_runs(session, c.id).items():
        if year != ctx.fiscal_year:
            continue
        for line in session.scalars(select(SettlementLine).where(SettlementLine.run_id == run.id)):
            if payer and line.payer_id != payer:
                continue
            kpi = c.kpi(line.kpi_id) if line.kpi_id else None
            key = (line.kpi_id, line.payer_id if kpi and kpi.measured == "per_payer" else "",
                   evaluation)
            earned[key][0] += line.maximum_minor
            earned[key][1] += line.earned_minor
    out = []
    for (kpi_id, payer_id, evaluation), row in sorted(latest.items()):
        if payer and payer_id and payer_id != payer:
            continue
        kpi = c.kpi(kpi_id)
        target = kpi.targets_by_payer.get(payer_id, {}).get(ctx.fiscal_year) if payer_id \
            else None
        figures = earned.get((kpi_id, payer_id, evaluation))
        prices = {t.rule.price_per_outcome_minor for t in c.tranches_in(ctx.fiscal_year)
                  if t.kpi == kpi_id and t.evaluation == evaluation
                  and isinstance(t.rule, RateCardRule)}
        out.append(sd.KpiResult(
            kpi_id=kpi_id, name=sd.Text(kpi.name_ja or kpi.id, kpi.name_en or kpi.id),
            unit=kpi.unit, value=Decimal(row.value),
            target=target if target is not None else kpi.targets.get(ctx.fiscal_year),
            direction=kpi.direction,
            payer=sd.Text(*_names(c, payer_id)) if payer_id else None, evaluation=evaluation,
            audited_on=row.audited_at.date() if row.audited_at else None,
            maximum_minor=figures[0] if figures else None,
            earned_minor=figures[1] if figures else None,
            price_minor=prices.pop() if len(prices) == 1 else None))
    return tuple(out)


def _names(contract: Contract, party_id: str) -> tuple[str, str]:
    p = contract.party(party_id)
    return p.name_ja or p.name_en, p.name_en or p.name_ja


# --------------------------------------------------------------------------- lender statement

def lender_statement(session: Session, ctx: Context, lender: str) -> sd.LenderStatement:
    """A bank's statement: each of its loans over the fiscal year."""
    c = ctx.contract
    loans = [loan for loan in c.loans if loan.lender == lender]
    if not loans:
        raise NotFound(f"{c.id} has no loan from {lender!r}", "LENDER_NOT_FOUND", "lender")
    borrower = loans[0].borrower
    return sd.LenderStatement(
        header=_header(ctx, "lender", lender), lender=_party(c, lender),
        borrower=_party(c, borrower), period_start_on=ctx.start_on,
        period_end_on=ctx.end_on, loans=tuple(_loan_section(session, ctx, loan)
                                              for loan in loans),
        kpi_results=kpi_results(session, ctx))


def _loan_year(session: Session, ctx: Context, loan_id: str) -> LoanYear:
    return read_loan_year(session, ctx.contract.id, loan_id, ctx.start_on, ctx.end_on)


def _day_count(loan: Any, japanese_terms: bool = True) -> sd.Text:
    """The loan's day count and which ends of a period count, in the words the calculation
    traces use in each language (実日数／365日、片端（初日算入・末日不算入）). A contract
    outside Japan (``japanese_terms`` false) reads its English without the Japanese terms."""
    terms = (DAY_COUNT_TERMS[loan.day_count],
             DAY_ENDS_TERMS[(loan.count_first_day, loan.count_last_day)])
    english = [str(ENGLISH_WORDS[t].label) for t in terms]
    if not japanese_terms:
        english = [_PLAIN_ENGLISH.get(word, word) for word in english]
    return sd.Text("、".join(str(JAPANESE_WORDS[t].label) for t in terms), ", ".join(english))


# The English of 片端 / 両端 without the Japanese term, for contracts outside Japan.
_PLAIN_ENGLISH = {str(ENGLISH_WORDS[phrase].label): plain for phrase, plain in (
    (DAY_ENDS_TERMS[(True, False)], "first day counted, last not"),
    (DAY_ENDS_TERMS[(True, True)], "both ends counted"))}


def _loan_name(contract: Contract, loan: Any) -> sd.Text:
    """What a bank calls the loan: the contract's name for it, or else the lender's loan to the
    borrower in words (株式会社京都銀行 貸付金) — never a bare id."""
    lender_ja, lender_en = _names(contract, loan.lender)
    return sd.Text(loan.name_ja or f"{lender_ja} 貸付金",
                   loan.name_en or f"Loan from {lender_en}")


def _in_period(line: ScheduleLine, ctx: Context) -> bool:
    """A due date the statement shows: due in the period, settled in it (an arrear of an
    earlier date paid late), or still overdue at its end."""
    return (ctx.start_on <= line.due_on <= ctx.end_on
            or any(ctx.start_on <= on <= ctx.end_on for on in line.paid_on)
            or line.overdue > 0)


def _loan_section(session: Session, ctx: Context, loan: Any) -> sd.LoanSection:
    year = _loan_year(session, ctx, loan.id)
    rows = schedule_against_actual(session, ctx.contract, loan, ctx.end_on)
    return sd.LoanSection(
        loan_id=loan.id, name=_loan_name(ctx.contract, loan),
        commitment_minor=loan.commitment_minor,
        interest_rate_percent=loan.rate_annual * 100,
        day_count=_day_count(loan, ctx.contract.currency == HOME_CURRENCY),
        opening_balance_minor=year.opening_minor,
        draws=tuple(sd.LoanDraw(on, amount) for on, amount in year.draws),
        principal_repaid_minor=year.repaid_minor + year.other_minor,
        # A guarantor's payment is a recovery for the bank; written down is what nobody paid.
        recovered_minor=year.guaranteed_minor,
        written_down_minor=year.written_down_minor,
        closing_balance_minor=year.closing_minor,
        interest_accrued_minor=year.interest_accrued_minor,
        interest_paid_minor=year.interest_paid_minor,
        schedule=tuple(sd.ScheduleRow(r.due_on, r.scheduled_principal, r.scheduled_interest,
                                      r.paid_principal, r.paid_interest,
                                      r.paid_on[-1] if r.paid_on else None, r.overdue,
                                      r.default_interest, r.status)
                       for r in rows if _in_period(r, ctx)),
        overdue_minor=sum(r.overdue for r in rows),
        default_interest_minor=year.default_interest_accrued_minor,
        balance_series=tuple(sd.BalancePoint(on, balance)
                             for on, balance in year.balance_series))


# --------------------------------------------------------------------------- payment notice

def payment_notice(session: Session, ctx: Context, payer: str,
                   payee: str | None = None) -> sd.PaymentNotice:
    """A municipality's notice, written as the payee's qualified invoice (適格請求書) and payment
    request: audited results (with who audited them and when), each earned amount with its
    trace, the amount and its consumption tax at the contract's rate, the grant's part, the
    due date, where to pay, and paid to date against its budget authorisation.

    ``payee`` None: the SPV's notice (the intermediary's invoice) for the tranches paid to the
    SPV. A provider's id: that provider's invoice for the tranches that name it as payee, read
    from what the payer owes it in the payers' book (its payable to the provider); the grant
    (the payer's, on its whole cost) is stated on the SPV's notice only."""
    c = ctx.contract
    authorisation = c.require_payer(payer).authorisation
    # The amounts are the ledger's (what the settlement runs posted for the year, net of
    # corrections); the runs say which tranches were settled, their maxima and their traces.
    spv = read_payer_years(session, c.id, [payer], ctx.fiscal_year)[payer]
    owed = read_provider_years(session, c, payer, ctx.fiscal_year).get(payee or "") \
        if payee is not None else None
    if payee is not None and owed is None:
        raise NotFound(f"no tranche of {c.id} routes {payer}'s payment to {payee!r}",
                       "PAYEE_NOT_FOUND", "payee")
    earned_by_tranche = owed.earned_by_tranche if owed else spv.earned_by_tranche
    runs = [run for (year, _evaluation), run in sorted(current_runs(session, c.id).items())
            if year == ctx.fiscal_year]
    lines = []
    for run in runs:
        traces = json.loads(run.trace)
        for line in session.scalars(select(SettlementLine).where(
                SettlementLine.run_id == run.id, SettlementLine.payer_id == payer)):
            tranche = c.tranche(line.tranche_id)
            if provider_payee(c, tranche) != payee:
                continue  # on the other payee's notice
            lines.append(sd.EarnedLine(
                line.tranche_id, tranche_name(c, tranche), line.maximum_minor,
                earned_by_tranche.get(line.tranche_id, 0),
                _trace_lines(traces, line.tranche_id, payer, _trace_style(c, tranche.kpi))))
    # Paid to date: what was paid before this notice — for the results of earlier years,
    # counted in the budget year that paid them — never the notice itself.
    paid = {year: amount for year, amount in
            read_payments_by_results_year(session, c, payer).items() if year < ctx.fiscal_year}
    paid_before = sum(paid.values())
    issuer = _party(c, payee) if payee is not None else _intermediary(c)
    zone = document_zone(c)
    # The notice is numbered as a finance office files it.
    header = replace(_header(ctx, "notice", payer),
                     document_id=notice_number(c, payer, ctx.fiscal_year, payee=payee))
    return sd.PaymentNotice(
        header=header, payer=_party(c, payer), payee=issuer,
        kpi_results=_with_audits(session, ctx, payer, kpi_results(session, ctx, payer)),
        earned_lines=tuple(lines),
        earned_total_minor=owed.earned_minor if owed else spv.earned_minor,
        consumption_tax_minor=owed.tax_minor if owed else spv.tax_minor,
        amount_due_minor=owed.due_minor if owed else spv.receivable_minor,
        tax_included=owed.tax_included if owed else spv.tax_included,
        grant_covered_minor=0 if owed else spv.grant_minor,
        grant_applies=any(payer in g.subsidises for g in c.grants),
        due_on=due_on(c, ctx.fiscal_year),
        paid_to_date_minor=paid_before,
        authorisation=sd.BudgetAuthorisation(
            sd.Text(f"債務負担行為 {c.name_ja}", f"Budget authorisation — {c.name_en}"),
            authorisation.from_fiscal_year, authorisation.to_fiscal_year,
            authorisation.max_amount_minor,
            _authorisation_years(c, payer, paid_by_budget_year(c, paid))),
        issued_on=notice_issued_on(runs, ctx.generated_at, zone),
        registration_number=_registration_number(c, issuer.party_id),
        tax_rate=outcome_tax_rate(c),
        remit_to=_remit_account(session, c.id, issuer.party_id))


JST = timezone(timedelta(hours=9), "JST")


def document_zone(contract: Contract) -> tzinfo:
    """The time zone a contract's documents are dated in: Japan's for a yen contract (a date
    on a Japanese invoice is a Japanese date — a settlement at 01:00 JST is not the day
    before), UTC otherwise, until contracts state their own zone (issue 12, item 7)."""
    return JST if contract.currency == "JPY" else UTC


def notice_number(contract: Contract, payer: str, fiscal_year: int, sequence: int = 1,
                  payee: str | None = None) -> str:
    """A notice's number as a finance office files it, ``SIB2019-UBE-FY2021-01``: the contract
    (its first word and first fiscal year), the payer, the fiscal year and the notice's place
    among the year's notices to that payer. Made of terms only, so the same notice built again
    has the same number. A year's interim and final evaluations are one notice: ``01``. A
    provider's notice (``payee``, not the intermediary) names it after the payer:
    ``SIB2019-UBE-THL-FY2021-01``, distinct from the SPV's."""
    words = [w for w in contract.id.split("-") if w.isalpha()]
    code = f"{(words[0] if words else 'sib').upper()}{contract.first_fiscal_year}"
    to = f"-{payee.upper()}" if payee is not None else ""
    return f"{code}-{payer.upper()}{to}-FY{fiscal_year}-{sequence:02d}"


def notice_issued_on(runs: list[SettlementRun], generated_at: datetime, zone: tzinfo) -> date:
    """The notice's date of issue: the day the year's settlement it states was made (its
    latest run in force), in the document zone. Not the ledger state's time, which moves on
    whenever anything later is posted: an invoice keeps its date. Without a run, the day of
    the ledger state."""
    settled = [run.settled_on if run.settled_on.tzinfo else run.settled_on.replace(tzinfo=UTC)
               for run in runs]
    return max(settled, default=generated_at).astimezone(zone).date()


def _registration_number(contract: Contract, party_id: str) -> str | None:
    """The party's qualified-invoice registration number, as the contract registers it."""
    party = next((p for p in contract.parties if p.id == party_id), None)
    return party.invoice_registration_number if party else None


def outcome_tax_rate(contract: Contract) -> Decimal | None:
    """The consumption tax rate of outcome payments under the contract's terms; None when they
    bear none (no tax terms, an exemption, or tax on service fees only)."""
    tax = contract.consumption_tax
    if tax is None or "outcome_payments" not in tax.applies_to or not tax.rate:
        return None
    return Decimal(tax.rate)


def _remit_account(session: Session, contract_id: str, party: str) -> sd.RemitAccount | None:
    """The payee's registered bank account (振込先); None if it has none registered."""
    try:
        row = bank_account(session, contract_id, party)
    except NotFound:
        return None
    return sd.RemitAccount(row.bank_code, row.bank_name, row.branch_code, row.branch_name,
                           row.account_type, row.account_number, row.holder_kana)


def _with_audits(session: Session, ctx: Context, payer: str,
                 results: tuple[sd.KpiResult, ...]) -> tuple[sd.KpiResult, ...]:
    """The notice's KPI results with the audit each rests on: the evaluator it was audited
    for, who signed it off and on which day in the document zone. The rows are the audited
    versions the results were read from (newest per KPI, payer and evaluation)."""
    c = ctx.contract
    zone = document_zone(c)
    audited: dict[tuple[str, str], Any] = {}
    for row in results_for(session, c.id, ctx.fiscal_year):
        if row.state in ("audited", "settled") and row.payer_id in ("", payer):
            audited[(row.kpi_id, row.evaluation)] = row
    evaluators = c.parties_with_role("evaluator")
    out = []
    for result in results:
        audit = audited.get((result.kpi_id, result.evaluation))
        if audit is None or audit.audited_at is None:
            out.append(result)
            continue
        at = audit.audited_at if audit.audited_at.tzinfo \
            else audit.audited_at.replace(tzinfo=UTC)
        party = c.kpi(result.kpi_id).evaluator or (evaluators[0].id if evaluators else None)
        out.append(replace(result, audited_by=audit.audited_by or "",
                           audited_on=at.astimezone(zone).date(),
                           evaluator=sd.Text(*_names(c, party)) if party else None))
    return tuple(out)


def _trace_style(contract: Contract, kpi_id: str | None) -> TraceStyle:
    """How a tranche's trace is written in Japanese: the contract's currency, the KPI's unit,
    the payers' Japanese names (a split between payers names them all) and the KPIs' (a
    condition over several KPIs names each)."""
    names = {k.id: k.name_ja or k.name_en or k.id for k in contract.kpis}
    names |= {p: contract.party(p).name_ja or contract.party(p).name_en or p
              for p in contract.payer_ids}
    return TraceStyle(contract.currency, contract.kpi(kpi_id).unit if kpi_id else "", names)


def tranche_name(contract: Contract, tranche: Tranche) -> sd.Text:
    """What a payment line is called: the tranche's own names, or else its KPI's names (a
    fixed payment's kind) with the evaluation and cohort — never a bare id on a notice."""
    if tranche.name_ja and tranche.name_en:
        return sd.Text(tranche.name_ja, tranche.name_en)
    if tranche.kpi is not None:
        kpi = contract.kpi(tranche.kpi)
        ja, en = kpi.name_ja or kpi.name_en or kpi.id, kpi.name_en or kpi.name_ja or kpi.id
    else:
        ja, en = "固定払", "Fixed payment"
    if tranche.evaluation == "interim":
        ja, en = f"{ja}（中間評価）", f"{en} (interim evaluation)"
    if tranche.cohort:
        ja, en = f"{ja}　{tranche.cohort}", f"{en} — {tranche.cohort}"
    return sd.Text(tranche.name_ja or ja, tranche.name_en or en)


def _trace_lines(traces: list[dict[str, Any]], tranche_id: str, payer: str,
                 style: TraceStyle) -> tuple[sd.Text, ...]:
    """The traces of one tranche that concern ``payer`` (its own, or the contract-wide one
    split between the payers), found by what they are about, line by line in both languages.
    Traces stored as English text only (before trace version 2) cannot be matched: none."""
    found = find((Trace.from_dict(t) for t in traces if is_structured(t)),
                 kind=Subject.TRANCHE, tranche=tranche_id, payer=(payer, None))
    return tuple(line for trace in found for line in trace_text(trace, style))


def _authorisation_years(contract: Contract, payer: str,
                         paid_by_budget: dict[int, int]) -> tuple[sd.AuthorisationYear, ...]:
    """The 債務負担行為 table by budget year: the most each year's budget may have to pay
    (the maximum liability of the results it pays) and what it has paid."""
    return tuple(sd.AuthorisationYear(year, planned, paid_by_budget.get(year, 0))
                 for year, (planned, _) in sorted(planned_by_budget_year(contract, payer).items()))


def _year_budget(contract: Contract, payer: str, fiscal_year: int) -> int:
    planned, limit = planned_by_budget_year(contract, payer).get(
        budget_year(contract, fiscal_year), (0, None))
    return limit if limit is not None else planned


# --------------------------------------------------------------------------- investors

_SLICE = 5000  # holders per query when a task asks for some of them


def investor_statements(session: Session, ctx: Context,
                        holder_codes: Iterable[str] | None = None) -> list[sd.InvestorStatement]:
    """Every holder's statement per class for the year (or the named holders'), from three
    queries (a few more when thousands of holders are named)."""
    c = ctx.contract
    # The holders are chosen in the database: a background task asks for a few thousand of a
    # contract's tens of thousands, and reads only theirs.
    # In slices, so that no statement carries more parameters than a database accepts.
    holder_query = select(Holder).where(Holder.id.in_(
        select(Subscription.holder_id).where(Subscription.contract_id == c.id)))
    if holder_codes is None:
        holders = {h.id: h for h in session.scalars(holder_query)}
    else:
        codes, holders = sorted(set(holder_codes)), {}
        for start in range(0, len(codes), _SLICE):
            holders.update((h.id, h) for h in session.scalars(
                holder_query.where(col(Holder.code).in_(codes[start:start + _SLICE]))))
    ids = sorted(id_ for id_ in holders if id_ is not None)
    # Plain rows, not ORM objects: twenty thousand holders' worth of them. (SQLModel sets a
    # table model's __table__ without declaring it to type checkers.)
    subs: dict[tuple[int, str], list[Any]] = defaultdict(list)
    pays: dict[tuple[int, str], list[Any]] = defaultdict(list)
    step = len(ids) if holder_codes is None else _SLICE
    for start in range(0, len(ids), max(step, 1)):
        chunk = ids[start:start + step]
        sub_query = select(Subscription.__table__).where(  # type: ignore[attr-defined]
            Subscription.contract_id == c.id, Subscription.subscribed_on <= ctx.end_on)
        pay_query = select(HolderPayment.__table__).where(  # type: ignore[attr-defined]
            HolderPayment.contract_id == c.id, HolderPayment.paid_on <= ctx.end_on)
        if holder_codes is not None:
            sub_query = sub_query.where(col(Subscription.holder_id).in_(chunk))
            pay_query = pay_query.where(col(HolderPayment.holder_id).in_(chunk))
        for s in session.execute(sub_query):
            subs[(s.holder_id, s.unit_class)].append(s)
        for p in session.execute(pay_query.order_by(HolderPayment.paid_on, HolderPayment.id)):
            pays[(p.holder_id, p.unit_class)].append(p)
    classes = {u.id: u for u in c.unit_classes}
    issuer = _intermediary(c)
    returns_memo: dict[Any, Any] = {}  # holders with the same flows have the same returns
    out = []
    for (holder_id, class_id), rows in sorted(subs.items(), key=lambda kv: (
            holders[kv[0][0]].code, kv[0][1])):
        holder = holders[holder_id]
        out.append(_investor_statement(ctx, issuer, holder, classes[class_id], rows,
                                       pays.get((holder_id, class_id), []), returns_memo))
    return out


def _investor_statement(ctx: Context, issuer: sd.Party, holder: Holder, unit_class: Any,
                        subs: list[Any], pays: list[Any],
                        returns_memo: dict[Any, Any]) -> sd.InvestorStatement:
    cur = ctx.contract.currency
    moves = [CapitalMovement(holder.code, unit_class.id, s.subscribed_on,
                             MovementKind.CONTRIBUTION, s.amount_minor, currency=cur)
             for s in subs]
    flows = [CashFlow(s.subscribed_on, -s.amount_minor) for s in subs]
    for p in pays:
        moves += payment_movements(holder.code, unit_class.id, p.kind, p.paid_on,
                                   p.gross_minor, p.withheld_minor, cur)
        # A guarantor's payment is money received, like the vehicle's: only a write-down isn't.
        if HolderPaymentKind(p.kind).is_money_received:
            flows.append(CashFlow(p.paid_on, p.gross_minor))
    account = roll_forward(holder.code, unit_class.id, moves, ctx.start_on, ctx.end_on, cur)
    to_date = roll_forward(holder.code, unit_class.id, moves, date(1900, 1, 1), ctx.end_on, cur)
    in_year = [p for p in pays if p.kind in ("distribution", "capital_return")
               and p.paid_on >= ctx.start_on]
    return sd.InvestorStatement(
        header=_header(ctx, "investor", f"{holder.code}/{unit_class.id}"), issuer=issuer,
        holder=sd.Holder(holder.code, sd.Text(holder.name_kanji, holder.name_en or
                                              holder.name_kanji), holder.name_kana,
                         holder.tax_category, holder.address),
        class_id=unit_class.id, class_name=sd.Text(unit_class.name_ja or unit_class.id,
                                                   unit_class.name_en or unit_class.id),
        units=sum(s.units for s in subs), unit_price_minor=unit_class.unit_price_minor,
        capital_account=account,
        distributions=tuple(sd.DistributionRow(p.paid_on, p.income_type or "capital_return",
                                               p.gross_minor, p.withheld_minor)
                            for p in in_year),
        returns=_summary(returns_memo, flows, to_date.closing_minor, ctx.end_on))


def _summary(memo: dict[Any, Any], flows: list[CashFlow], residual: int, as_of: date) -> Any:
    key = (tuple((f.on, f.amount_minor) for f in flows), residual, as_of)
    if key not in memo:
        memo[key] = summarise(flows, residual, as_of)
    return memo[key]


# --------------------------------------------------------------------------- year-end report

def year_end_report(session: Session, ctx: Context) -> sd.YearEndReport:
    """The intermediary's year-end settlement report."""
    c = ctx.contract
    pack = build_pack(session, c, ctx.fiscal_year)
    # 予算額: what the budget year paying this year's results may spend on them (the council's
    # limit for that year where it set one), not the whole authorisation. 支出済額 and 未収額
    # are the outcome payments' (fees a payer pays its providers directly are shown with the
    # providers, not as paid against outcomes).
    payers = tuple(sd.PayerRow(_party(c, p["payer"]), _year_budget(c, p["payer"], ctx.fiscal_year),
                               p["earned"], p["paid"], p["grant"])
                    for p in pack.payers)
    years = [(loan, _loan_year(session, ctx, loan.id)) for loan in c.loans]
    lenders = tuple(sd.LenderRow(_party(c, loan.lender), year.opening_minor, year.drawn_minor,
                                 year.repaid_minor + year.other_minor,
                                 year.written_down_minor, year.interest_accrued_minor,
                                 year.interest_paid_minor, year.guaranteed_minor,
                                 year.default_interest_accrued_minor)
                    for loan, year in years)
    providers = tuple(sd.ProviderRow(_party(c, p["provider"]), p["fixed_fees"],
                                     p["outcome_fees"], p["fixed_fees"] + p["outcome_fees"])
                      for p in pack.providers)
    statements = investor_statements(session, ctx)
    classes = []
    for unit_class in c.unit_classes:
        mine = [s for s in statements if s.class_id == unit_class.id]
        accounts = [s.capital_account for s in mine]
        total = class_totals(accounts).get(unit_class.id) or CapitalAccount(
            "*", unit_class.id, c.currency, ctx.start_on, ctx.end_on, 0, 0, 0, 0, 0, 0, 0)
        classes.append(sd.InvestorClassRow(sd.Text(unit_class.name_ja or unit_class.id,
                                                   unit_class.name_en or unit_class.id),
                                           len(mine), sum(s.units for s in mine), total))
    tb = read.trial_balance(session, c.id, ctx.end_on)
    return sd.YearEndReport(
        header=_header(ctx, "year-end", "intermediary"), intermediary=_intermediary(c),
        payers=payers, lenders=lenders, providers=providers, investor_classes=tuple(classes),
        kpi_results=kpi_results(session, ctx),
        trial_balance=tuple(sd.TrialBalanceRow(r.code, sd.Text(r.name_ja, r.name_en),
                                               r.debit_minor, r.credit_minor)
                            for r in tb.rows if r.debit_minor or r.credit_minor),
        has_grants=bool(c.grants))
