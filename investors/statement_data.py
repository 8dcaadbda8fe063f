"""The data of the four documents, as immutable records filled by settlement and the ledger.

A document is rendered from one of these records and nothing else: the renderer formats, it
never computes money. Each record checks on construction the identities a reader will check by
hand (a loan balance rolls forward, a notice's lines add up to its total, a trial balance
balances, a payment stays within the budget authorisation), so an inconsistent document cannot
even be built.

Amounts are integers of minor units in the header's currency. Names that appear on documents
are :class:`Text` pairs (Japanese and English), so a Japanese document never shows an English
placeholder and an English one can still show the legal Japanese name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar

from investors.capital import CapitalAccount
from investors.returns import ReturnSummary
from ledger.calendar import NAMED_BY_START, fiscal_year_bounds
from ledger.errors import SibError
from ledger.money import amount_text

LANGS = ("ja", "en")


@dataclass(frozen=True)
class Text:
    """A name or phrase in both document languages.

    Attributes:
        ja: the Japanese form (the legal name for Japanese parties).
        en: the English form.
    """

    ja: str
    en: str

    def get(self, lang: str) -> str:
        """The form for ``lang`` (``ja`` or ``en``)."""
        return self.ja if lang == "ja" else self.en

    def with_original(self, lang: str) -> str:
        """In English, the English form followed by the Japanese one (``Ube City (宇部市)``):
        the Japanese name is the legal one a bank or city office files under."""
        if lang == "ja" or not self.ja or self.ja == self.en:
            return self.get(lang)
        return f"{self.en} ({self.ja})"


@dataclass(frozen=True)
class Party:
    """A party named on a document: bank, municipality, provider, intermediary.

    Attributes:
        party_id: the party's id in the registry.
        name: legal name in Japanese and English.
        address: postal address as it is written on letters.
    """

    party_id: str
    name: Text
    address: str = ""


@dataclass(frozen=True)
class DocumentHeader:
    """What every document states about itself.

    Attributes:
        document_id: stable id of the document (also its file name stem).
        contract_id: the contract.
        contract_name: the contract's name in Japanese and English.
        fiscal_year: the fiscal year covered, by the contract's name for it (by the year it
            starts in, 2019 = 令和元年度, or, where the contract says so, ends in).
        generated_at: when the data was taken from the ledger (timezone-aware); printed on the
            document, so that the same ledger state always gives the same bytes.
        ledger_state_hash: the hash of the ledger state the document was built from, which
            ``sib ledger verify`` recomputes.
        currency: ISO 4217 code of every amount in the document.
        fiscal_year_start_month: first month of the fiscal year (4 in Japan).
        fiscal_year_named_by: ``start`` or ``end``: the calendar year that names a fiscal
            year (:mod:`ledger.calendar`).
    """

    document_id: str
    contract_id: str
    contract_name: Text
    fiscal_year: int
    generated_at: datetime
    ledger_state_hash: str
    currency: str = "JPY"
    fiscal_year_start_month: int = 4
    fiscal_year_named_by: str = NAMED_BY_START

    def bounds(self) -> tuple[date, date]:
        """First and last day of the fiscal year covered."""
        return fiscal_year_bounds(self.fiscal_year, self.fiscal_year_start_month,
                                  self.fiscal_year_named_by)

    def __post_init__(self) -> None:
        if self.generated_at.tzinfo is None or self.generated_at.utcoffset() is None:
            raise SibError("generated_at must carry a time zone: a document is read in "
                           "several places", "GENERATED_AT_NAIVE", "header.generated_at")
        if not self.ledger_state_hash:
            raise SibError("a document must name the ledger state it was built from",
                           "LEDGER_STATE_HASH_MISSING", "header.ledger_state_hash")


@dataclass(frozen=True)
class KpiResult:
    """An audited KPI result as documents show it.

    Attributes:
        kpi_id: the KPI's id in the contract.
        name: the KPI's name.
        unit: ``percent``, ``people`` or ``steps`` (how the value is written).
        value: the audited value.
        target: the period's target, if the contract gives one.
        direction: ``higher`` or ``lower`` is better.
        payer: the municipality the result is measured for, if it is measured per payer.
        evaluation: ``interim`` or ``final``.
        audited_on: the day the evaluator signed the result off.
        maximum_minor: the most the KPI could earn in the period, if shown.
        earned_minor: what it earned, if shown.
        audited_by: who signed the audit off (as the evaluator recorded it), if shown.
        evaluator: the independent evaluator the result is audited for, if shown.
        price_minor: the price of one outcome where a rate card pays on the KPI that year
            (the document then reads "outcomes × price", not an achievement rate).
    """

    kpi_id: str
    name: Text
    unit: str
    value: Decimal
    target: Decimal | None = None
    direction: str = "higher"
    payer: Text | None = None
    evaluation: str = "final"
    audited_on: date | None = None
    maximum_minor: int | None = None
    earned_minor: int | None = None
    audited_by: str = ""
    evaluator: Text | None = None
    price_minor: int | None = None

    @property
    def achievement_percent(self) -> Decimal | None:
        """Value against target in percent (target / value where lower is better); a display
        ratio for charts, not a payment figure — payments come from the rules' traces."""
        if self.target is None or self.target == 0 or self.value == 0:
            return None
        ratio = self.value / self.target if self.direction == "higher" \
            else self.target / self.value
        return ratio * 100


# ---------------------------------------------------------------------------------------------
# Lender statement


@dataclass(frozen=True)
class LoanDraw:
    """One draw of a loan.

    Attributes:
        drawn_on: value date.
        amount_minor: amount drawn.
    """

    drawn_on: date
    amount_minor: int


@dataclass(frozen=True)
class ScheduleRow:
    """One instalment: what the schedule says against what was paid, as the ledger records it
    at the end of the statement period.

    Attributes:
        due_on: due date (already moved to a bank business day).
        principal_scheduled_minor: principal due (the schedule as it stands, rebuilt after
            any prepayment).
        interest_scheduled_minor: interest due (on the principal actually outstanding).
        principal_paid_minor: principal paid against this due date.
        interest_paid_minor: interest paid against this due date.
        paid_on: the day it was settled (the last payment against it), or None.
        overdue_minor: principal and interest of it still unpaid after the due date.
        default_interest_minor: 遅延損害金 it ran up (paid or not).
        status: ``paid_on_time``, ``paid_late``, ``prepaid``, ``overdue``, ``written_down``,
            ``recovered``, ``part_recovered`` or ``not_due``.
    """

    due_on: date
    principal_scheduled_minor: int
    interest_scheduled_minor: int
    principal_paid_minor: int = 0
    interest_paid_minor: int = 0
    paid_on: date | None = None
    overdue_minor: int = 0
    default_interest_minor: int = 0
    status: str = "not_due"

    @property
    def difference_minor(self) -> int:
        """Paid minus scheduled, principal and interest together (negative: short)."""
        return (self.principal_paid_minor + self.interest_paid_minor
                - self.principal_scheduled_minor - self.interest_scheduled_minor)


@dataclass(frozen=True)
class BalancePoint:
    """The loan balance on a day, a point of the statement's chart.

    Attributes:
        on: the day.
        balance_minor: principal outstanding at the end of that day.
    """

    on: date
    balance_minor: int


@dataclass(frozen=True)
class LoanSection:
    """One loan of the lender over the statement period.

    Attributes:
        loan_id: the loan's id.
        name: the loan's name (``成果連動型事業資金 第1号``).
        commitment_minor: the amount the bank committed.
        interest_rate_percent: annual rate in percent (``Decimal("1.2")``).
        day_count: the day-count convention and which ends of a period count, in each
            language (``実日数／365日…、片端…`` / ``ACT/365F, 片端 (first day counted…)``).
        opening_balance_minor: principal outstanding at the start of the period.
        draws: draws in the period.
        principal_repaid_minor: principal repaid in the period.
        written_down_minor: principal written down in the period: the loss nobody paid
            (outcomes fell short and no guarantee covered it).
        closing_balance_minor: principal outstanding at the end of the period.
        interest_accrued_minor: interest accrued in the period.
        interest_paid_minor: interest paid in the period.
        recovered_minor: principal a guarantor paid in the borrower's place in the period
            (保証履行): money the lender received, a recovery, never a loss.
        schedule: instalments of the period (and arrears of earlier ones settled in it or
            still overdue), scheduled against actual.
        balance_series: the balance over time, for the chart.
        overdue_minor: principal and interest fallen due and unpaid at the period's end.
        default_interest_minor: 遅延損害金 booked in the period.
    """

    loan_id: str
    name: Text
    commitment_minor: int
    interest_rate_percent: Decimal
    day_count: Text
    opening_balance_minor: int
    draws: tuple[LoanDraw, ...]
    principal_repaid_minor: int
    written_down_minor: int
    closing_balance_minor: int
    interest_accrued_minor: int
    interest_paid_minor: int
    recovered_minor: int = 0
    schedule: tuple[ScheduleRow, ...] = ()
    balance_series: tuple[BalancePoint, ...] = ()
    overdue_minor: int = 0
    default_interest_minor: int = 0

    def __post_init__(self) -> None:
        expected = (self.opening_balance_minor + self.drawn_minor - self.principal_repaid_minor
                    - self.recovered_minor - self.written_down_minor)
        if expected != self.closing_balance_minor:
            raise SibError(f"loan {self.loan_id} does not roll forward: opening + draws − "
                           f"repaid − recovered − written down = {expected}, closing "
                           f"{self.closing_balance_minor}", "LOAN_BALANCE_UNBALANCED",
                           "closing_balance_minor")

    @property
    def drawn_minor(self) -> int:
        """Total drawn in the period."""
        return sum(d.amount_minor for d in self.draws)


@dataclass(frozen=True)
class LenderStatement:
    """The statement a bank receives for its loans to the contract's vehicle.

    Attributes:
        header: the common header.
        lender: the bank.
        borrower: the intermediary or vehicle that borrowed.
        period_start_on: first day covered.
        period_end_on: last day covered.
        loans: the bank's loans.
        kpi_results: the audited KPI results that drove repayment in the period.
    """

    kind: ClassVar[str] = "lender_statement"
    header: DocumentHeader
    lender: Party
    borrower: Party
    period_start_on: date
    period_end_on: date
    loans: tuple[LoanSection, ...]
    kpi_results: tuple[KpiResult, ...] = ()


# ---------------------------------------------------------------------------------------------
# Investor statement


@dataclass(frozen=True)
class Holder:
    """A unit holder as a statement addresses them (no national identification number).

    Attributes:
        holder_id: the holder's id in the registry.
        name: name (kanji) and its romanised form.
        name_kana: reading in katakana.
        tax_category: ``individual``, ``corporate``, ``tax_exempt``.
        address: postal address.
    """

    holder_id: str
    name: Text
    name_kana: str = ""
    tax_category: str = "individual"
    address: str = ""


@dataclass(frozen=True)
class DistributionRow:
    """One distribution paid to the holder in the period.

    Attributes:
        paid_on: payment date.
        income_type: ``tokumei_kumiai`` distribution or ``interest``.
        gross_minor: before withholding.
        withheld_minor: tax withheld.
    """

    paid_on: date
    income_type: str
    gross_minor: int
    withheld_minor: int

    @property
    def net_minor(self) -> int:
        """Paid to the holder's bank account."""
        return self.gross_minor - self.withheld_minor


@dataclass(frozen=True)
class InvestorStatement:
    """The statement a unit holder receives for one class.

    Attributes:
        header: the common header.
        issuer: the operator of the silent partnership / vehicle.
        holder: the holder.
        class_id: the class (tranche).
        class_name: its name (``匿名組合出資 劣後クラス``).
        units: units held at the end of the period.
        unit_price_minor: issue price of one unit.
        capital_account: the roll-forward over the period.
        distributions: distributions of the period; they add up to the account's.
        returns: returns since the first contribution, to the end of the period.
    """

    kind: ClassVar[str] = "investor_statement"
    header: DocumentHeader
    issuer: Party
    holder: Holder
    class_id: str
    class_name: Text
    units: int
    unit_price_minor: int
    capital_account: CapitalAccount
    distributions: tuple[DistributionRow, ...]
    returns: ReturnSummary

    def __post_init__(self) -> None:
        account = self.capital_account
        gross = sum(d.gross_minor for d in self.distributions)
        withheld = sum(d.withheld_minor for d in self.distributions)
        if (gross, withheld) != (account.distributions_gross_minor,
                                 account.distributions_withheld_minor):
            raise SibError(f"distributions listed ({gross} gross, {withheld} withheld) differ "
                           f"from the capital account ({account.distributions_gross_minor}, "
                           f"{account.distributions_withheld_minor})",
                           "STATEMENT_DISTRIBUTIONS_MISMATCH", "distributions")
        if account.currency != self.header.currency:
            raise SibError("the capital account is not in the document's currency",
                           "CURRENCY_MIXED", "capital_account.currency")


# ---------------------------------------------------------------------------------------------
# Payment notice


@dataclass(frozen=True)
class EarnedLine:
    """One earned amount of a payer, with the trace that explains it.

    Attributes:
        line_id: the tranche or payment line id.
        name: what was earned (the KPI and period).
        maximum_minor: the most this line could earn.
        earned_minor: what it earned (the payer's share).
        trace_lines: the calculation trace, line by line, in both languages (both written
            from the trace data settlement stored; see ``investors.trace_text``).
    """

    line_id: str
    name: Text
    maximum_minor: int
    earned_minor: int
    trace_lines: tuple[Text, ...] = ()


@dataclass(frozen=True)
class AuthorisationYear:
    """One year of the budget authorisation's table (調書): planned and paid.

    Attributes:
        fiscal_year: the fiscal year.
        planned_minor: planned payment in that year.
        paid_minor: paid in that year so far (including this notice if it is that year's).
    """

    fiscal_year: int
    planned_minor: int
    paid_minor: int


@dataclass(frozen=True)
class BudgetAuthorisation:
    """A multi-year budget authorisation (債務負担行為) for the contract.

    Attributes:
        name: the authorisation's title in the budget.
        first_fiscal_year: first year of its period.
        last_fiscal_year: last year of its period.
        limit_minor: the maximum amount the council authorised.
        years: planned and paid per fiscal year.
    """

    name: Text
    first_fiscal_year: int
    last_fiscal_year: int
    limit_minor: int
    years: tuple[AuthorisationYear, ...] = ()


# Zengin account types (預金種目) as a payee's bank registered them.
ACCOUNT_TYPES = ("1", "2", "4", "9")  # 普通, 当座, 貯蓄, その他
_REGISTRATION_NUMBER = re.compile(r"^T[0-9]{13}$")


@dataclass(frozen=True)
class RemitAccount:
    """The account a payer pays into (振込先), as the payee's bank registered it.

    Attributes:
        bank_code: 金融機関コード (4 digits).
        bank_name: the bank's name as registered (half-width kana on Zengin files).
        branch_code: 支店コード (3 digits).
        branch_name: the branch's name as registered.
        account_type: 預金種目: ``1`` 普通 (ordinary), ``2`` 当座 (current), ``4`` 貯蓄
            (savings), ``9`` other.
        account_number: 口座番号 (up to 7 digits).
        holder_kana: 口座名義 in kana, exactly as the bank holds it: a transfer to another
            name is returned.
    """

    bank_code: str
    bank_name: str
    branch_code: str
    branch_name: str
    account_type: str
    account_number: str
    holder_kana: str

    def __post_init__(self) -> None:
        if self.account_type not in ACCOUNT_TYPES:
            raise SibError(f"account type {self.account_type!r} is not a Zengin 預金種目 "
                           f"({', '.join(ACCOUNT_TYPES)})", "ACCOUNT_TYPE_UNKNOWN",
                           "remit_to.account_type")


@dataclass(frozen=True)
class PaymentNotice:
    """The notice a municipality's finance office files and pays from: what it owes for the
    year and why, written as a qualified invoice (適格請求書) of the payee.

    A qualified invoice states the issuer's name and registration number, the recipient, the
    date, what it is for, the amount per tax rate with the tax, and (for a payment request)
    where to pay; the notice carries each of them, and the KPI results and audits the amount
    rests on.

    Attributes:
        header: the common header; its ``document_id`` is the notice's number
            (``SIB2019-UBE-FY2021-01``), stable when the notice is built again.
        payer: the municipality (the recipient, 御中).
        payee: who is paid (the intermediary), the invoice's issuer.
        kpi_results: the audited KPI results of the year for this payer, each with its audit.
        earned_lines: each earned amount with its trace.
        earned_total_minor: the sum of the lines.
        consumption_tax_minor: consumption tax on the outcome payment (once per invoice):
            added on top, or (``tax_included``) the part of the earned total that is tax.
        amount_due_minor: earned total plus consumption tax added on top (tax included: the
            earned total).
        grant_applies: whether a grant of the contract subsidises this payer at all (the
            grant-covered line is printed only then).
        grant_covered_minor: the part the national grant subsidises (for the payer's records;
            the payer still pays the whole amount due).
        due_on: payment due date.
        paid_to_date_minor: paid under the authorisation before this notice.
        authorisation: the budget authorisation the payment is made under.
        issued_on: the date of issue, in the contract's document time zone (JST for Japanese
            contracts): the day the year's settlement was made.
        registration_number: the payee's qualified-invoice registration number (``T`` + 13
            digits); None if it has none (the notice then says it is not a qualified invoice).
        tax_rate: the consumption tax rate of the outcome payment under the contract's terms
            (``Decimal("0.10")``); None when the payment bears none.
        remit_to: the payee's registered bank account; None if none is registered (the notice
            says so instead of leaving the payer without one).
        tax_included: the contract's amounts include the consumption tax (税込).
    """

    kind: ClassVar[str] = "payment_notice"
    header: DocumentHeader
    payer: Party
    payee: Party
    kpi_results: tuple[KpiResult, ...]
    earned_lines: tuple[EarnedLine, ...]
    earned_total_minor: int
    consumption_tax_minor: int
    amount_due_minor: int
    grant_covered_minor: int
    due_on: date
    paid_to_date_minor: int
    authorisation: BudgetAuthorisation
    issued_on: date
    registration_number: str | None
    tax_rate: Decimal | None
    remit_to: RemitAccount | None
    tax_included: bool = False
    grant_applies: bool = True

    def __post_init__(self) -> None:
        lines_total = sum(line.earned_minor for line in self.earned_lines)
        if lines_total != self.earned_total_minor:
            raise SibError(f"earned lines add up to {self._money(lines_total)}, the total "
                           f"says {self._money(self.earned_total_minor)}",
                           "NOTICE_TOTAL_MISMATCH",
                           "earned_total_minor")
        added = 0 if self.tax_included else self.consumption_tax_minor
        if self.earned_total_minor + added != self.amount_due_minor:
            raise SibError("amount due is not the earned total plus consumption tax added "
                           "on top (or, tax included, the earned total)",
                           "NOTICE_TOTAL_MISMATCH", "amount_due_minor")
        if self.tax_included and not 0 <= self.consumption_tax_minor <= self.earned_total_minor:
            raise SibError("the tax included cannot exceed the amount it is part of",
                           "NOTICE_TOTAL_MISMATCH", "consumption_tax_minor")
        if self.tax_rate is None and self.consumption_tax_minor:
            raise SibError("a notice with consumption tax must state the rate it is at",
                           "NOTICE_TAX_RATE_MISSING", "tax_rate")
        if self.registration_number is not None \
                and not _REGISTRATION_NUMBER.match(self.registration_number):
            raise SibError(f"{self.registration_number!r} is not a registration number: "
                           "\"T\" followed by 13 digits", "NOTICE_REGISTRATION_NUMBER_INVALID",
                           "registration_number")
        if not 0 <= self.grant_covered_minor <= self.amount_due_minor:
            raise SibError("the grant-covered part must lie between 0 and the amount due",
                           "NOTICE_GRANT_INVALID", "grant_covered_minor")
        if self.paid_after_minor > self.authorisation.limit_minor:
            raise SibError(f"paying {self._money(self.amount_due_minor)} after "
                           f"{self._money(self.paid_to_date_minor)} would exceed the budget "
                           f"authorisation of {self._money(self.authorisation.limit_minor)}",
                           "AUTHORISATION_EXCEEDED",
                           "amount_due_minor")

    def _money(self, amount_minor: int) -> str:
        return amount_text(amount_minor, self.header.currency)

    @property
    def paid_after_minor(self) -> int:
        """Paid under the authorisation once this notice is paid."""
        return self.paid_to_date_minor + self.amount_due_minor

    @property
    def remaining_minor(self) -> int:
        """Authorisation left once this notice is paid."""
        return self.authorisation.limit_minor - self.paid_after_minor


# ---------------------------------------------------------------------------------------------
# Year-end settlement report


@dataclass(frozen=True)
class PayerRow:
    """One outcome payer's year: authorised, earned, paid, outstanding.

    Attributes:
        payer: the municipality.
        authorised_minor: this year's amount under its budget authorisation.
        earned_minor: earned on audited results (tax included).
        paid_minor: received from it.
        grant_covered_minor: the part of its cost the national grant covers.
    """

    payer: Party
    authorised_minor: int
    earned_minor: int
    paid_minor: int
    grant_covered_minor: int = 0

    @property
    def outstanding_minor(self) -> int:
        """Earned but not yet paid (a receivable at year end)."""
        return self.earned_minor - self.paid_minor


@dataclass(frozen=True)
class LenderRow:
    """One lender's year: principal moves and interest.

    Attributes:
        lender: the bank.
        opening_minor: principal outstanding at the start of the year.
        drawn_minor: drawn in the year.
        repaid_minor: principal repaid in the year.
        written_down_minor: principal written down in the year (the loss nobody paid).
        interest_accrued_minor: interest accrued in the year.
        interest_paid_minor: interest paid in the year.
        recovered_minor: principal a guarantor paid in the year (a recovery, not a loss).
        default_interest_minor: 遅延損害金 booked in the year (apart from the interest).
    """

    lender: Party
    opening_minor: int
    drawn_minor: int
    repaid_minor: int
    written_down_minor: int
    interest_accrued_minor: int
    interest_paid_minor: int
    recovered_minor: int = 0
    default_interest_minor: int = 0

    @property
    def closing_minor(self) -> int:
        """Principal outstanding at the end of the year."""
        return (self.opening_minor + self.drawn_minor - self.repaid_minor
                - self.recovered_minor - self.written_down_minor)


@dataclass(frozen=True)
class ProviderRow:
    """One service provider's fees for the year.

    Attributes:
        provider: the provider.
        fixed_fees_minor: fees due regardless of outcome.
        outcome_fees_minor: outcome-linked fees earned.
        paid_minor: paid to it in the year.
    """

    provider: Party
    fixed_fees_minor: int
    outcome_fees_minor: int
    paid_minor: int


@dataclass(frozen=True)
class InvestorClassRow:
    """One investor class's year, as the sum of its holders' capital accounts.

    Attributes:
        name: the class's name.
        holders: number of holders.
        units: units outstanding.
        account: the class total (``investors.capital.class_totals``).
    """

    name: Text
    holders: int
    units: int
    account: CapitalAccount


@dataclass(frozen=True)
class TrialBalanceRow:
    """One account of the trial balance at year end.

    Attributes:
        account_code: the chart-of-accounts code.
        name: the account's name.
        debit_minor: debit balance (zero if credit).
        credit_minor: credit balance (zero if debit).
    """

    account_code: str
    name: Text
    debit_minor: int
    credit_minor: int


@dataclass(frozen=True)
class YearEndReport:
    """The intermediary's year-end settlement report.

    Attributes:
        header: the common header.
        intermediary: who prepares the settlement.
        payers: every outcome payer.
        lenders: every lender.
        providers: every service provider.
        investor_classes: every investor class.
        kpi_results: the year's audited KPI results (the achievement chart).
        trial_balance: the project book's trial balance at year end; it balances.
        has_grants: whether a grant subsidises any payer (the grant-covered column is
            printed only then).
    """

    kind: ClassVar[str] = "year_end_report"
    header: DocumentHeader
    intermediary: Party
    payers: tuple[PayerRow, ...]
    lenders: tuple[LenderRow, ...]
    providers: tuple[ProviderRow, ...]
    investor_classes: tuple[InvestorClassRow, ...]
    kpi_results: tuple[KpiResult, ...]
    trial_balance: tuple[TrialBalanceRow, ...]
    has_grants: bool = True

    def __post_init__(self) -> None:
        debits = column_total(self.trial_balance, "debit_minor")
        credits = column_total(self.trial_balance, "credit_minor")
        if debits != credits:
            raise SibError(f"trial balance debits {debits} differ from credits {credits}",
                           "TRIAL_BALANCE_UNBALANCED", "trial_balance")


Document = LenderStatement | InvestorStatement | PaymentNotice | YearEndReport


def column_total(rows: Sequence[object], name: str) -> int:
    """The exact sum of one integer field or property over ``rows`` (a table's totals row)."""
    return sum(int(getattr(row, name)) for row in rows)
