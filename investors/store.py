"""Holders and their money in the database: registry, subscriptions, per-holder payments.

Class-level money comes from the settlement waterfall (``investor_distribution`` and
``capital_return`` entries credit ``distributions-payable:<class>``); :func:`pay_holders` splits
each such entry among the holders (exactly, largest remainder), withholds tax per holder
category and income type, and pays the net from cash in one balanced entry. A return
(distribution) is split by each holder's own return not yet paid — its capital from the day it
subscribed, less what it was already paid — so a later subscriber is not paid for time before it
held units; capital returned and write-downs are split by units held (no cash moves for a
write-down). Services never commit.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, fields, replace
from datetime import date

from sqlalchemy import func, insert, select
from sqlmodel import Session, col

from contracts.chart import Code, Kind
from contracts.instruments import UnitClass
from contracts.model import Contract
from contracts.store import get_contract
from investors.capital import (
    CapitalAccount,
    CapitalMovement,
    HolderPaymentKind,
    MovementKind,
    payment_movements,
    roll_forward,
)
from investors.returns import CashFlow, ReturnSummary, summarise
from investors.tables import Holder, HolderPayment, Subscription
from investors.tax import Month, RemittanceSlip, WithheldPayment, parse_month, remittance_slip
from investors.tax import days_late as _days_late
from investors.withholding import (
    PaymentRecord,
    Recipient,
    RecordSummary,
    WithholdingPayment,
    payment_record,
    rate_for,
    record_summary,
    withhold,
)
from ledger import read
from ledger.entries import DEBIT, EntryDraft, credit, debit
from ledger.errors import Conflict, NotFound, Problem, SibError
from ledger.inputs import normalise_code
from ledger.money import amount_text, from_minor
from ledger.rounding import RemainderPolicy, allocate
from ledger.service import post_entry, utc_now
from settlement.payments import return_rates
from settlement.unit_returns import unpaid_weights_scheduled

HOLDER_KINDS = ("bank", "individual", "company")
TAX_CATEGORIES = ("individual", "corporate", "tax_exempt")


@dataclass(frozen=True)
class HolderSpec:
    """A holder to register (see :class:`investors.tables.Holder`)."""

    code: str
    kind: str
    name_kanji: str
    name_kana: str = ""
    name_en: str = ""
    tax_category: str = "individual"
    email: str = ""
    address: str = ""
    bank_code: str = ""
    bank_name: str = ""
    branch_code: str = ""
    branch_name: str = ""
    account_type: str = "1"
    account_number: str = ""
    account_holder_kana: str = ""


MAX_HOLDER_TEXT = 200  # characters of a name, kana, address or e-mail


def add_holder(session: Session, spec: HolderSpec) -> Holder:
    """Register a holder (idempotent: the same details again return the holder).

    The code is stored in NFKC form and must be a safe code (:func:`normalise_code`): it names
    the holder's documents and must not look like another holder's.
    """
    problems = []
    if spec.code:
        try:
            spec = replace(spec, code=normalise_code(spec.code, "code", "holder code"))
        except SibError as error:
            problems += error.problems
    problems += [Problem("TEXT_TOO_LONG", f"at most {MAX_HOLDER_TEXT} characters, "
                         f"not {len(value):,}", name)
                 for name, value in vars(spec).items()
                 if isinstance(value, str) and len(value) > MAX_HOLDER_TEXT]
    if spec.kind not in HOLDER_KINDS:
        problems.append(Problem("HOLDER_KIND_UNKNOWN", f"kind must be one of "
                                f"{', '.join(HOLDER_KINDS)}", "kind"))
    if spec.tax_category not in TAX_CATEGORIES:
        problems.append(Problem("TAX_CATEGORY_UNKNOWN", f"tax category must be one of "
                                f"{', '.join(TAX_CATEGORIES)}", "tax_category"))
    if not spec.code or not spec.name_kanji:
        problems.append(Problem("HOLDER_NAME_REQUIRED", "a holder needs a code and a name",
                                "name_kanji"))
    if problems:
        raise SibError(problems)
    existing = session.scalars(select(Holder).where(Holder.code == spec.code)).first()
    values = {f.name: getattr(spec, f.name) for f in fields(spec)}
    if existing is not None:
        if any(getattr(existing, k) != v for k, v in values.items()):
            raise Conflict(f"holder {spec.code} is already registered with other details",
                           "HOLDER_EXISTS", "code")
        return existing
    holder = Holder(**values, created_at=utc_now())
    session.add(holder)
    session.flush()
    return holder


def get_holder(session: Session, code: str) -> Holder:
    holder = session.scalars(select(Holder).where(Holder.code == code)).first()
    if holder is None:
        raise NotFound(f"no holder {code!r}", "HOLDER_NOT_FOUND", "holder")
    return holder


def list_holders(session: Session, offset: int = 0, limit: int | None = None) -> list[Holder]:
    query = select(Holder).order_by(Holder.code).offset(offset)
    return list(session.scalars(query.limit(limit) if limit else query))


def subscribe(session: Session, contract_id: str, class_id: str, holder_code: str, units: int,
              on: date) -> Subscription:
    """A holder buys units: cash received, units issued (once per holder, class and date)."""
    contract = get_contract(session, contract_id)
    unit_class = next((u for u in contract.unit_classes if u.id == class_id), None)
    if unit_class is None:
        raise NotFound(f"{contract_id} has no unit class {class_id!r}", "UNIT_CLASS_NOT_FOUND",
                       "unit_class")
    holder = get_holder(session, holder_code)
    key = f"{contract_id}:subscribe:{class_id}:{holder_code}:{on.isoformat()}"
    amount = units * unit_class.unit_price_minor
    problems = []
    if units <= 0:
        problems.append(Problem("UNITS_NOT_POSITIVE", "units must be positive", "units"))
    sold = session.scalar(select(func.coalesce(func.sum(Subscription.units), 0)).where(
        Subscription.contract_id == contract_id, Subscription.unit_class == class_id)) or 0
    done = read.entry_by_key(session, contract_id, key)
    if done is not None:
        row = session.scalars(select(Subscription).where(Subscription.entry_id == done.id)).one()
        if row.units != units:
            raise Conflict(f"{holder_code} already subscribed on {on} for {row.units} units",
                           "SUBSCRIPTION_EXISTS", "units")
        return row
    if sold + units > unit_class.units_offered:
        problems.append(Problem("UNITS_EXCEED_OFFER", f"{class_id} offers "
                                f"{unit_class.units_offered} units; {sold} are sold, {units} "
                                "more would exceed it", "units"))
    if contract.fiscal_year_of(on) < unit_class.first_sale_fiscal_year:
        problems.append(Problem("UNITS_NOT_ON_SALE", f"{class_id} is sold from "
                                f"FY{unit_class.first_sale_fiscal_year}", "subscribed_on"))
    if problems:
        raise SibError(problems)
    money = from_minor(amount, contract.currency)
    entry = post_entry(session, EntryDraft(
        contract_id, key, Kind.UNIT_SUBSCRIPTION, on,
        [debit(Code.CASH, money), credit(Code.units(class_id), money)],
        f"{units} units of {class_id} — {holder.name_kanji}",
        {"contract": contract_id, "unit_class": class_id, "holder": holder_code}))
    row = Subscription(contract_id=contract_id, unit_class=class_id, holder_id=holder.id or 0,
                       units=units, amount_minor=amount, subscribed_on=on, entry_id=entry.id or 0)
    session.add(row)
    session.flush()
    return row


def subscribe_round(session: Session, contract_id: str, class_id: str,
                    orders: list[tuple[str, int]], on: date, reference: str) -> int:
    """A subscription round closing on ``on``: many holders' ``(code, units)`` orders, the cash
    received in one entry, a subscription row per holder. Returns the units issued. The same
    round again (same reference) issues nothing more."""
    contract = get_contract(session, contract_id)
    unit_class = next((u for u in contract.unit_classes if u.id == class_id), None)
    if unit_class is None:
        raise NotFound(f"{contract_id} has no unit class {class_id!r}", "UNIT_CLASS_NOT_FOUND",
                       "unit_class")
    key = f"{contract_id}:round:{class_id}:{reference}"
    if read.entry_by_key(session, contract_id, key) is not None:
        return 0
    ids: dict[str, int] = dict(session.execute(select(Holder.code, Holder.id).where(
        col(Holder.code).in_([code for code, _ in orders]))).all())
    problems = [Problem("HOLDER_NOT_FOUND", f"no holder {code!r}", f"orders[{i}].holder")
                for i, (code, _) in enumerate(orders) if code not in ids]
    problems += [Problem("UNITS_NOT_POSITIVE", "units must be positive", f"orders[{i}].units")
                 for i, (_, units) in enumerate(orders) if units <= 0]
    sold = session.scalar(select(func.coalesce(func.sum(Subscription.units), 0)).where(
        Subscription.contract_id == contract_id, Subscription.unit_class == class_id)) or 0
    total_units = sum(units for _, units in orders)
    if sold + total_units > unit_class.units_offered:
        problems.append(Problem("UNITS_EXCEED_OFFER", f"{class_id} offers "
                                f"{unit_class.units_offered} units; {sold} are sold, "
                                f"{total_units} more would exceed it", "orders"))
    if contract.fiscal_year_of(on) < unit_class.first_sale_fiscal_year:
        problems.append(Problem("UNITS_NOT_ON_SALE", f"{class_id} is sold from "
                                f"FY{unit_class.first_sale_fiscal_year}", "subscribed_on"))
    if problems:
        raise SibError(problems)
    money = from_minor(total_units * unit_class.unit_price_minor, contract.currency)
    entry = post_entry(session, EntryDraft(
        contract_id, key, Kind.UNIT_SUBSCRIPTION, on,
        [debit(Code.CASH, money), credit(Code.units(class_id), money)],
        f"Subscription round {reference}: {total_units} units of {class_id}, "
        f"{len(orders)} holders", {"contract": contract_id, "unit_class": class_id,
                                   "round": reference}))
    session.execute(insert(Subscription), [dict(
        contract_id=contract_id, unit_class=class_id, holder_id=ids[code], units=units,
        amount_minor=units * unit_class.unit_price_minor, subscribed_on=on,
        entry_id=entry.id) for code, units in orders])
    return total_units


def units_held(session: Session, contract_id: str, class_id: str,
               as_of: date) -> dict[int, int]:
    """Holder id → units held at the end of ``as_of``, in holder id order."""
    rows = session.execute(select(Subscription.holder_id, func.sum(Subscription.units))
                           .where(Subscription.contract_id == contract_id,
                                  Subscription.unit_class == class_id,
                                  Subscription.subscribed_on <= as_of)
                           .group_by(Subscription.holder_id).order_by(Subscription.holder_id))
    return {holder_id: int(units) for holder_id, units in rows}


@dataclass(frozen=True)
class PaidShare:
    """One holder's part of a class payment, as :func:`pay_holders` reports it."""

    holder_id: int
    unit_class: str
    paid_on: date
    kind: str
    gross_minor: int
    withheld_minor: int
    net_minor: int
    source_entry_id: int
    entry_id: int | None


def pay_holders(session: Session, contract_id: str, on: date) -> list[PaidShare]:
    """Pay holders every class distribution, capital return and write-down of ``on``."""
    contract = get_contract(session, contract_id)
    sources = read.postings(session, contract_id, on=on, side=DEBIT,
                            kinds=[Kind.INVESTOR_DISTRIBUTION, Kind.CAPITAL_RETURN,
                                   Kind.WRITE_DOWN, Kind.GUARANTEE_DRAW])
    out: list[PaidShare] = []
    for source in sources:
        if ":" not in source.account:
            continue  # the instrument's own account is the one debited
        class_id = source.links.get("unit_class") or source.links.get("instrument")
        unit_class = next((u for u in contract.unit_classes if u.id == class_id), None)
        if unit_class is None:
            continue  # a loan's write-down, not a unit class's
        already = session.execute(select(*[getattr(HolderPayment, f) for f in
                                             PaidShare.__dataclass_fields__]).where(
            HolderPayment.source_entry_id == source.entry_id)
            .order_by(HolderPayment.holder_id)).all()
        if already:
            out.extend(PaidShare(*row) for row in already)
            continue
        out.extend(_pay_one(session, contract, unit_class, source, on))
    return out


def _pay_one(session: Session, contract: Contract, unit_class: UnitClass,
             source: read.PostingView, on: date) -> list[PaidShare]:
    """Split one class payment (``source``: the posting to the class's account) among its
    holders; one ledger entry pays them all."""
    gross = source.amount_minor
    held = units_held(session, contract.id, unit_class.id, on)
    if not held:
        raise SibError(f"{unit_class.id} has no holders on {on} to pay", "NO_HOLDERS",
                       "unit_class")
    # A guarantor's payment is a recovery for the holders (money received), not a write-down.
    kind = {Kind.INVESTOR_DISTRIBUTION: HolderPaymentKind.DISTRIBUTION,
            Kind.CAPITAL_RETURN: HolderPaymentKind.CAPITAL_RETURN,
            Kind.GUARANTEE_DRAW: HolderPaymentKind.GUARANTEE_RECOVERY}.get(
        Kind(source.kind), HolderPaymentKind.WRITE_DOWN)
    weights = (_returns_unpaid(session, contract, unit_class, on, list(held))
               if kind is HolderPaymentKind.DISTRIBUTION else None) or list(held.values())
    parts = allocate(gross, weights, RemainderPolicy.LARGEST_REMAINDER)
    categories: dict[int, str] = dict(session.execute(select(Holder.id, Holder.tax_category).where(
        col(Holder.id).in_(select(Subscription.holder_id).where(
            Subscription.contract_id == contract.id,
            Subscription.unit_class == unit_class.id)))).all())
    rates = {category: rate_for(category, unit_class.tax_category, on)
             for category in set(categories.values())} \
        if kind is HolderPaymentKind.DISTRIBUTION else {}
    rows, tax_total = [], 0
    taxes: dict[tuple[int, str], int] = {}  # many holders get the same part: compute it once
    for (holder_id, _), part in zip(held.items(), parts):
        category = categories[holder_id]
        if rates and part and (part, category) not in taxes:
            taxes[(part, category)] = withhold(part, rates[category])[0]
        withheld = taxes.get((part, category), 0)
        tax_total += withheld
        rows.append(dict(contract_id=contract.id, unit_class=unit_class.id,
                         holder_id=holder_id, paid_on=on, kind=kind.value,
                         income_type=unit_class.tax_category
                         if kind is HolderPaymentKind.DISTRIBUTION else "",
                         gross_minor=part, withheld_minor=withheld, net_minor=part - withheld,
                         source_entry_id=source.entry_id, entry_id=None))
    if kind.paid_by_vehicle:  # a guarantor pays its recovery to the holders itself
        cur = contract.currency
        postings = [debit(Code.distributions_payable(unit_class.id), from_minor(gross, cur)),
                    credit(Code.CASH, from_minor(gross - tax_total, cur))]
        if tax_total:
            postings.append(credit(Code.WITHHOLDING_PAYABLE, from_minor(tax_total, cur)))
        paying = post_entry(session, EntryDraft(
            contract.id, f"{contract.id}:holders:{source.entry_id}", Kind.HOLDER_PAYMENT, on,
            postings, f"Paid to {len(rows)} holders of {unit_class.id} (withheld "
                      f"{amount_text(tax_total, cur)})",
            {"contract": contract.id, "unit_class": unit_class.id,
             "source_entry": source.entry_id}))
        for row in rows:
            row["entry_id"] = paying.id
    # SQLModel sets a table model's __table__ without declaring it to type checkers.
    session.execute(insert(HolderPayment.__table__), rows)  # type: ignore[attr-defined]
    return [PaidShare(**{k: row[k] for k in PaidShare.__dataclass_fields__}) for row in rows]


def _returns_unpaid(session: Session, contract: Contract, unit_class: UnitClass, on: date,
                    holder_ids: list[int]) -> list[int] | None:
    """Weights proportional to each holder's return not yet paid at ``on``, in ``holder_ids``
    order (integers, see :func:`settlement.unit_returns.unpaid_weights_scheduled`): the target
    return on the holder's own capital, from the day each subscription was paid to ``on``
    (less capital returned or written down, from its day), exactly, less the distributions
    already paid to the holder. A holder who subscribed later is thus not paid for time
    before its subscription, and one paid less than its due before gets proportionally more.
    None when the class has no target return or nothing is unpaid (the class payment is then
    split by units)."""
    rates = return_rates(session, contract, unit_class.id)
    contract_id = contract.id
    if rates is None:
        return None
    yen_days: dict[int, int] = defaultdict(int)  # yen × rate-days (see RateSchedule)
    rate_days: dict[date, int] = {}
    paid: dict[int, int] = defaultdict(int)
    for holder_id, subscribed_on, amount in session.execute(
            select(Subscription.holder_id, Subscription.subscribed_on, Subscription.amount_minor)
            .where(Subscription.contract_id == contract_id,
                   Subscription.unit_class == unit_class.id, Subscription.subscribed_on <= on)):
        if subscribed_on not in rate_days:  # a subscription round: one date, many holders
            rate_days[subscribed_on] = rates.rate_days(subscribed_on, on)
        yen_days[holder_id] += amount * rate_days[subscribed_on]
    for holder_id, kind, paid_on, gross in session.execute(
            select(HolderPayment.holder_id, HolderPayment.kind, HolderPayment.paid_on,
                   HolderPayment.gross_minor)
            .where(HolderPayment.contract_id == contract_id,
                   HolderPayment.unit_class == unit_class.id, HolderPayment.paid_on <= on)):
        if kind == "distribution":
            paid[holder_id] += gross
        else:  # capital returned or written down stops earning from its day
            yen_days[holder_id] -= gross * rates.rate_days(paid_on, on)
    unpaid = unpaid_weights_scheduled([(yen_days[h], paid[h]) for h in holder_ids], rates)
    return unpaid if sum(unpaid) > 0 else None


def holder_payments(session: Session, contract_id: str, holder_id: int | None = None,
                    class_id: str | None = None) -> list[HolderPayment]:
    query = select(HolderPayment).where(HolderPayment.contract_id == contract_id)
    if holder_id is not None:
        query = query.where(HolderPayment.holder_id == holder_id)
    if class_id is not None:
        query = query.where(HolderPayment.unit_class == class_id)
    return list(session.scalars(query.order_by(HolderPayment.paid_on, HolderPayment.id)))


def movements(session: Session, contract_id: str, holder: Holder, class_id: str,
              currency: str) -> list[CapitalMovement]:
    """A holder's capital movements in a class, from subscriptions and payments."""
    out = [CapitalMovement(holder.code, class_id, s.subscribed_on, MovementKind.CONTRIBUTION,
                           s.amount_minor, currency=currency, memo=f"entry {s.entry_id}")
           for s in session.scalars(select(Subscription).where(
               Subscription.contract_id == contract_id, Subscription.unit_class == class_id,
               Subscription.holder_id == holder.id))]
    for p in holder_payments(session, contract_id, holder.id, class_id):
        # One reading of a holder payment for the API and the statement alike: a guarantor's
        # payment is a recovery, not a loss.
        out += payment_movements(holder.code, class_id, p.kind, p.paid_on, p.gross_minor,
                                 p.withheld_minor, currency,
                                 f"entry {p.entry_id or p.source_entry_id}")
    return sorted(out, key=lambda m: (m.on, m.kind.value))


def capital_account(session: Session, contract_id: str, holder: Holder, class_id: str,
                    start_on: date, end_on: date) -> CapitalAccount:
    """The holder's capital account in a class rolled forward over a period."""
    currency = get_contract(session, contract_id).currency
    return roll_forward(holder.code, class_id, movements(session, contract_id, holder,
                                                           class_id, currency),
                        start_on, end_on, currency)


def returns_of(session: Session, contract_id: str, holder: Holder, class_id: str,
               as_of: date) -> ReturnSummary:
    """IRR (XIRR on dated cash flows) and MOIC of a holder's units up to ``as_of``."""
    flows = [CashFlow(s.subscribed_on, -s.amount_minor) for s in session.scalars(
        select(Subscription).where(Subscription.contract_id == contract_id,
                                   Subscription.unit_class == class_id,
                                   Subscription.holder_id == holder.id))]
    flows += [CashFlow(p.paid_on, p.net_minor + p.withheld_minor)
              for p in holder_payments(session, contract_id, holder.id, class_id)
              if p.kind != "write_down"]
    account = capital_account(session, contract_id, holder, class_id, date(1900, 1, 1), as_of)
    return summarise(flows, account.closing_minor, as_of)


def payment_records(session: Session, contract_id: str, year: int) -> list[PaymentRecord]:
    """支払調書 data per recipient for a calendar year: totals paid and withheld, and whether
    the record is filed (paid more than the legal threshold, see
    :class:`investors.withholding.FilingThreshold`)."""
    currency = get_contract(session, contract_id).currency
    by_holder: dict[int, list[WithholdingPayment]] = defaultdict(list)
    for p in holder_payments(session, contract_id):
        if p.kind == "distribution" and p.paid_on.year == year:
            by_holder[p.holder_id].append(WithholdingPayment(p.paid_on, p.income_type,
                                                             p.gross_minor, p.withheld_minor,
                                                             currency))
    records = []
    for holder_id, payments in sorted(by_holder.items()):
        holder = session.get(Holder, holder_id)
        assert holder is not None
        records.append(payment_record(Recipient(holder.code, holder.name_kanji,
                                                holder.name_kana, holder.address), year,
                                      payments, currency))
    return records


def payment_records_summary(session: Session, contract_id: str, year: int) -> RecordSummary:
    """The 合計表 figures of a calendar year's 支払調書: records filed and those below the
    threshold, each with its count, total paid and total withheld."""
    currency = get_contract(session, contract_id).currency
    return record_summary(year, payment_records(session, contract_id, year), currency)


@dataclass(frozen=True)
class TaxRemittance:
    """A month's withholding paid over to the tax office, or the finding that there is none.

    Attributes:
        contract_id: the contract whose SPV withheld the tax.
        slip: the month's payment slip data (納付書: 所得税徴収高計算書).
        paid_on: the remittance's date (None when nothing was withheld in the month).
        entry_id: the remittance entry (None when nothing was withheld).
        posted: True when this call posted the remittance; False when it had been posted
            before (the same result again) or there was nothing to post.
    """

    contract_id: str
    slip: RemittanceSlip
    paid_on: date | None
    entry_id: int | None
    posted: bool

    @property
    def days_late(self) -> int:
        """Days paid after the due date (0 when on time or nothing was paid)."""
        return _days_late(self.slip.due_on, self.paid_on) if self.paid_on else 0


def remit_withholding(session: Session, contract_id: str, month: str | Month,
                      paid_on: date | None = None, today: date | None = None) -> TaxRemittance:
    """Pay over to the tax office the tax withheld from holder payments made in ``month``:
    Dr withholding-payable / Cr cash, on ``paid_on`` (default: the due date, the 10th of the
    next month or the next business day). Once per month: the same month again returns the
    same remittance and posts nothing. A month with nothing withheld posts nothing.

    The amount is the month's withholding twice over — the holder payments' rows and the
    ledger's credits to withholding-payable by holder payments — and must be the same
    (``WITHHOLDING_LEDGER_MISMATCH`` otherwise). Refusals name their field: an unknown contract
    (``CONTRACT_NOT_FOUND``), a month not written YYYY-MM (``TAX_MONTH_INVALID``) or after
    ``today`` (``TAX_MONTH_IN_FUTURE``), a payment date before the month's last holder payment
    (``TAX_PAID_BEFORE_WITHHELD``), another date for a month already remitted
    (``TAX_ALREADY_REMITTED``), a month whose withholding changed after it was remitted
    (``TAX_REMITTANCE_OUTDATED``).
    """
    contract = get_contract(session, contract_id)
    period = parse_month(month) if isinstance(month, str) else month
    if today is not None and period.first_day > today:
        raise SibError(f"{period} has not begun (today is {today.isoformat()}): nothing can "
                       "have been withheld in it yet", "TAX_MONTH_IN_FUTURE", "month")
    slip = remittance_slip(period, _withheld_payments(session, contract_id, period),
                           contract.currency)
    _tie_to_ledger(session, contract_id, slip)
    key = f"{contract_id}:tax-remittance:{period}"
    done = read.entry_by_key(session, contract_id, key)
    if done is not None:
        return _remitted_before(contract_id, slip, done, paid_on)
    if slip.withheld_minor == 0:
        return TaxRemittance(contract_id, slip, None, None, False)
    day = paid_on or slip.due_on
    if slip.last_paid_on is not None and day < slip.last_paid_on:
        raise SibError(f"tax withheld on {slip.last_paid_on.isoformat()} cannot be paid over "
                       f"on {day.isoformat()}, before it was withheld",
                       "TAX_PAID_BEFORE_WITHHELD", "paid_on")
    money = from_minor(slip.withheld_minor, contract.currency)
    entry = post_entry(session, EntryDraft(
        contract_id, key, Kind.TAX_REMITTANCE, day,
        [debit(Code.WITHHOLDING_PAYABLE, money), credit(Code.CASH, money)],
        f"源泉所得税 {period}分 納付 — {slip.recipients} recipients, withheld "
        f"{amount_text(slip.withheld_minor, contract.currency)}, due {slip.due_on.isoformat()}",
        {"contract": contract_id, "month": str(period), "due_on": slip.due_on.isoformat()}))
    return TaxRemittance(contract_id, slip, day, entry.id, True)


def _withheld_payments(session: Session, contract_id: str,
                       period: Month) -> list[WithheldPayment]:
    """The holder payments of ``period`` with tax withheld, with each holder's code."""
    rows = session.execute(
        select(Holder.code, HolderPayment.paid_on, HolderPayment.income_type,
               HolderPayment.gross_minor, HolderPayment.withheld_minor)
        .join(Holder, Holder.id == HolderPayment.holder_id)
        .where(HolderPayment.contract_id == contract_id, HolderPayment.withheld_minor > 0,
               HolderPayment.paid_on >= period.first_day,
               HolderPayment.paid_on <= period.last_day)
        .order_by(HolderPayment.paid_on, HolderPayment.id))
    return [WithheldPayment(code, paid_on, income_type, gross, withheld)
            for code, paid_on, income_type, gross, withheld in rows]


def _tie_to_ledger(session: Session, contract_id: str, slip: RemittanceSlip) -> None:
    """Refuse a slip whose tax differs from what the ledger's holder payments credited to
    withholding-payable in the month: the tax office would be paid a figure the books do not
    hold."""
    booked = read.totals(session, contract_id, Code.WITHHOLDING_PAYABLE,
                         kinds=[Kind.HOLDER_PAYMENT], from_on=slip.month.first_day,
                         through_on=slip.month.last_day).credits_minor
    if booked != slip.withheld_minor:
        raise SibError(f"holder payments of {slip.month} withheld "
                       f"{amount_text(slip.withheld_minor, slip.currency)} but the ledger's "
                       f"holder payments credit {amount_text(booked, slip.currency)} to "
                       "withholding-payable",
                       "WITHHOLDING_LEDGER_MISMATCH", "month")


def _remitted_before(contract_id: str, slip: RemittanceSlip, done: read.EntryView,
                     paid_on: date | None) -> TaxRemittance:
    """The remittance already posted for the month, if it still pays what was withheld."""
    remitted = done.amount_on(Code.WITHHOLDING_PAYABLE, DEBIT)
    if remitted != slip.withheld_minor:
        raise Conflict(f"{slip.month} was remitted ({amount_text(remitted, slip.currency)}) but "
                       f"its holder payments now withheld "
                       f"{amount_text(slip.withheld_minor, slip.currency)}: the difference "
                       "needs its own entry",
                       "TAX_REMITTANCE_OUTDATED", "month")
    if paid_on is not None and paid_on != done.effective_on:
        raise Conflict(f"{slip.month} was already remitted on {done.effective_on.isoformat()}",
                       "TAX_ALREADY_REMITTED", "paid_on")
    return TaxRemittance(contract_id, slip, done.effective_on, done.id, False)
