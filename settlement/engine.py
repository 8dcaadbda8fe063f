"""One contract-year evaluation settled on paper: audited results in, every figure out.

Pure: takes the contract, the audited KPI inputs and what earlier runs already earned, and
returns each tranche's earned amount per payer (never above the payer's committed part), the
caps applied, consumption tax per payer invoice, the grant's share of each payer's cost, and a
trace for every figure. A payer whose budget authorisation (債務負担行為) would be exceeded is
reported as a problem with the figures; the service refuses to post such a settlement.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction

from contracts.chart import provider_payee
from contracts.liability import tax_inside
from contracts.model import Contract, Tranche
from contracts.terms import max_outcome_by_tranche_payer, tax_on
from ledger.errors import Problem
from ledger.money import amount_text
from ledger.rounding import RemainderPolicy, RoundingMode, allocate
from settlement.grants import grant_room, grant_rounding_mode, rounded_grant
from settlement.payouts import KpiInput, Payout, Test, conditional, earned
from settlement.trace import (
    ROUNDING_TERMS,
    About,
    Party,
    Phrase,
    Rounding,
    Step,
    Subject,
    Trace,
    minor,
    rate,
)


@dataclass(frozen=True)
class Line:
    """One payer's part of one tranche."""

    tranche_id: str
    kpi_id: str
    payer: str
    maximum_minor: int
    earned_minor: int


@dataclass
class Invoice:
    """A provider's invoice to a payer for the tranches that name the provider as payee: what
    it earned and its consumption tax, computed once on the invoice (as the SPV's)."""

    earned_minor: int = 0
    tax_minor: int = 0
    tax_included: bool = False

    @property
    def due_minor(self) -> int:
        return self.earned_minor + (0 if self.tax_included else self.tax_minor)


@dataclass
class PayerTotals:
    """What one payer owes for the evaluation.

    Attributes:
        earned_minor: outcome payments earned on the SPV's tranches, as the contract states
            its amounts (including the tax where its amounts include it).
        tax_minor: consumption tax on the payer's invoice from the SPV, computed once: added
            on top, or (``tax_included``) the part of the earned amount that is tax.
        spv_due_minor: what the payer pays the SPV: earned, plus the tax when added on top.
        providers: provider id → the invoice of the tranches paid to that provider directly
            (never the SPV's receivable or income).
        due_minor: the payer's whole cost: what it pays the SPV and every provider (its
            budget authorisation and the grant count all of it).
        grant_minor: the part of the payer's cost the national grant covers.
    """

    earned_minor: int = 0
    tax_minor: int = 0
    grant_minor: int = 0
    tax_included: bool = False
    providers: dict[str, Invoice] = field(default_factory=dict)

    @property
    def spv_due_minor(self) -> int:
        return self.earned_minor + (0 if self.tax_included else self.tax_minor)

    @property
    def due_minor(self) -> int:
        return self.spv_due_minor + sum(i.due_minor for i in self.providers.values())

    @property
    def earned_before_tax_minor(self) -> int:
        """The earned amount without its tax (the SPV's outcome income)."""
        return self.earned_minor - (self.tax_minor if self.tax_included else 0)


@dataclass
class YearBefore:
    """What the year's other evaluation (settled before, on the same invoice) earned and booked
    as tax, per payer."""

    earned: dict[str, int] = field(default_factory=dict)
    tax: dict[str, int] = field(default_factory=dict)

    def add(self, payer: str, earned_minor: int, tax_minor: int) -> None:
        self.earned[payer] = self.earned.get(payer, 0) + earned_minor
        self.tax[payer] = self.tax.get(payer, 0) + tax_minor


@dataclass
class YearSettlement:
    """Everything computed for one contract, fiscal year and evaluation."""

    contract_id: str
    fiscal_year: int
    evaluation: str
    lines: list[Line] = field(default_factory=list)
    payers: dict[str, PayerTotals] = field(default_factory=dict)
    traces: list[Trace] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def earned_minor(self) -> int:
        return sum(line.earned_minor for line in self.lines)


def settle_year(contract: Contract, fiscal_year: int, evaluation: str,
                inputs: Mapping[tuple[str, str], KpiInput],
                earned_before: Mapping[str, int] | None = None,
                due_before: Mapping[str, int] | None = None,
                grant_before: Mapping[str, int] | None = None,
                due_in_year_before: Mapping[str, int] | None = None,
                year_before: YearBefore | None = None) -> YearSettlement:
    """Settle one evaluation. ``inputs`` maps (KPI id, payer id or ``""``) to audited values;
    ``earned_before`` / ``due_before`` / ``grant_before`` are per payer totals of the other
    runs in force (for the contract cap, the authorisations and the grant cap);
    ``due_in_year_before`` is the part of ``due_before`` owed for the same fiscal year (its
    other evaluation), which counts against the year's authorised limit too."""
    out = YearSettlement(contract.id, fiscal_year, evaluation)
    committed = max_outcome_by_tranche_payer(contract)
    for tranche in contract.tranches_in(fiscal_year):
        if tranche.evaluation != evaluation:
            continue
        out.lines += _tranche_lines(contract, tranche, committed, inputs, out)
    _apply_contract_cap(contract, out, sum((earned_before or {}).values()))
    payees = {t.id: provider_payee(contract, t) for t in contract.tranches}
    for payer in contract.payer_ids:
        totals = out.payers[payer] = PayerTotals()
        for ln in out.lines:
            if ln.payer != payer:
                continue
            provider = payees.get(ln.tranche_id)
            if provider is None:
                totals.earned_minor += ln.earned_minor
            else:
                totals.providers.setdefault(provider, Invoice()).earned_minor += ln.earned_minor
    _apply_tax(contract, out, year_before or YearBefore())
    _apply_provider_tax(contract, out, year_before or YearBefore())
    _apply_grants(contract, out, grant_before or {})
    out.problems += authorisation_problems(contract, out, due_before or {},
                                           due_in_year_before or {})
    return out


def _tranche_lines(contract: Contract, tranche: Tranche,
                   committed: Mapping[tuple[str, str], int],
                   inputs: Mapping[tuple[str, str], KpiInput], out: YearSettlement) -> list[Line]:
    parts = {p: committed.get((tranche.id, p), 0) for p in contract.payer_ids}
    parts = {p: m for p, m in parts.items() if m > 0}
    if not parts:
        return []
    kpi = contract.kpi(tranche.kpi) if tranche.kpi else None
    mode = contract.rounding.mode
    about = About(Subject.TRANCHE, fiscal_year=tranche.fiscal_year,
                  evaluation=tranche.evaluation, tranche=tranche.id,
                  kpi=kpi.id if kpi is not None else None)
    if kpi is not None and kpi.measured == "per_payer":
        lines = []
        for payer, maximum in parts.items():
            value = _input(inputs, kpi.id, payer, tranche, out)
            tests = _tests(contract, tranche, inputs, payer, out)
            if value is None or tests is None:
                continue  # reported as a problem: the settlement will be refused
            payout = _pay(tranche, maximum, replace(value, unit=kpi.unit), tests, mode,
                          replace(about, payer=payer))
            out.traces.append(payout.trace)
            lines.append(Line(tranche.id, kpi.id, payer, maximum, payout.amount_minor))
        return lines
    value = _input(inputs, kpi.id, "", tranche, out) if kpi is not None else None
    tests = _tests(contract, tranche, inputs, "", out)
    if (kpi is not None and value is None) or tests is None:
        return []  # reported as a problem: the settlement will be refused
    if kpi is not None and value is not None:
        value = replace(value, unit=kpi.unit)
    payout = _pay(tranche, sum(parts.values()), value, tests, mode, about)
    shares = split_within(payout.amount_minor, list(parts.values()),
                          contract.rounding.remainder_policy)
    payout.trace.step(Phrase.SPLIT_BETWEEN_PAYERS, _parts(zip(parts, shares)),
                      parts=_parts(parts.items()))
    out.traces.append(payout.trace)
    return [Line(tranche.id, kpi.id if kpi else "", p, m, s)
            for (p, m), s in zip(parts.items(), shares)]


def _pay(tranche: Tranche, maximum_minor: int, value: KpiInput | None, tests: list[Test],
         mode: RoundingMode, about: About) -> Payout:
    """The tranche's rule on ``value``, behind its conditions when it has some."""
    if tranche.conditions is None:
        return earned(tranche.rule, maximum_minor, value, mode, about)
    return conditional(tranche.conditions.mode, tests, tranche.rule, maximum_minor, value, mode,
                       about)


def _tests(contract: Contract, tranche: Tranche, inputs: Mapping[tuple[str, str], KpiInput],
           payer: str, out: YearSettlement) -> list[Test] | None:
    """The tranche's conditions with the audited results they are judged on (for ``payer``
    where a condition's KPI is measured per payer); None when a result is missing (reported
    as a problem)."""
    tests: list[Test] = []
    missing = False
    for condition in tranche.conditions.items if tranche.conditions else ():
        kpi = contract.kpi(condition.kpi)
        value = _input(inputs, kpi.id, payer if kpi.measured == "per_payer" else "", tranche,
                       out)
        if value is None:
            missing = True
            continue
        threshold = condition.threshold if condition.threshold is not None else value.target
        if threshold is None:
            out.problems.append(Problem(
                "KPI_TARGET_MISSING", f"tranche {tranche.id}: KPI {kpi.id} has no target for "
                f"FY{tranche.fiscal_year} to judge its condition against", "kpi"))
            missing = True
            continue
        tests.append(Test(kpi.id, replace(value, unit=kpi.unit), threshold))
    return None if missing else tests


def _parts(amounts: Iterable[tuple[str, int]]) -> tuple[Step, ...]:
    """(payer, amount) pairs as the parts of a split."""
    return tuple(Step(Phrase.PAYER_PART, params={"payer": Party(p), "amount": minor(m)})
                 for p, m in amounts)


def _input(inputs: Mapping[tuple[str, str], KpiInput], kpi_id: str, payer: str,
           tranche: Tranche, out: YearSettlement) -> KpiInput | None:
    value = inputs.get((kpi_id, payer))
    if value is None:
        out.problems.append(Problem("KPI_RESULT_MISSING", f"no audited {tranche.evaluation} "
                                    f"result for {kpi_id} FY{tranche.fiscal_year}"
                                    f"{' — ' + payer if payer else ''}", "kpi"))
    return value


def split_within(total_minor: int, maxima: list[int], policy: RemainderPolicy) -> list[int]:
    """Split ``total_minor`` in proportion to ``maxima`` with no part above its maximum.

    The contract's remainder policy is used unless it would lift a part above its maximum
    (possible with "first part" on small amounts); then largest remainder is used, which never
    does since every exact share is at most its maximum.
    """
    parts = allocate(total_minor, maxima, policy)
    if any(p > m for p, m in zip(parts, maxima)):
        parts = allocate(total_minor, maxima, RemainderPolicy.LARGEST_REMAINDER)
    return parts


def _apply_contract_cap(contract: Contract, out: YearSettlement, earned_before: int) -> None:
    cap = contract.caps.contract_total_minor
    if cap is None:
        return
    room = max(cap - earned_before, 0)
    total = out.earned_minor
    if total <= room:
        return
    trace = Trace(About(Subject.CONTRACT_CAP, fiscal_year=out.fiscal_year,
                        evaluation=out.evaluation),
                  Step(Phrase.RULE_CONTRACT_CAP, params={"cap": minor(cap)}))
    trace.input(Phrase.EARNED_BEFORE, minor(earned_before))
    trace.input(Phrase.EARNED_THIS_YEAR, minor(total))
    trace.step(Phrase.ROOM_UNDER_CAP, minor(room), cap=minor(cap),
               earned_before=minor(earned_before))
    parts = split_within(room, [ln.earned_minor for ln in out.lines],
                         contract.rounding.remainder_policy)
    out.lines = [Line(ln.tranche_id, ln.kpi_id, ln.payer, ln.maximum_minor, p)
                 for ln, p in zip(out.lines, parts)]
    trace.result_minor = room
    out.traces.append(trace)


def _apply_tax(contract: Contract, out: YearSettlement, year_before: YearBefore) -> None:
    """The tax of each payer's invoice for the year, computed once on the invoice's total:
    the year's other evaluation (already settled) and this one are one invoice, so this run
    books the tax on their total less the tax the other run booked."""
    included = contract.consumption_tax is not None and \
        contract.consumption_tax.amounts_include_tax
    for payer, totals in out.payers.items():
        if included:
            _extract_tax(contract, out, payer, totals, year_before)
            continue
        invoice = year_before.earned.get(payer, 0) + totals.earned_minor
        totals.tax_minor = max(tax_on(contract, invoice, "outcome_payments")
                               - year_before.tax.get(payer, 0), 0)
        if totals.tax_minor:
            tax_rate = contract.consumption_tax.rate if contract.consumption_tax else Decimal(0)
            trace = Trace(About(Subject.CONSUMPTION_TAX, fiscal_year=out.fiscal_year,
                                evaluation=out.evaluation, payer=payer),
                          Step(Phrase.RULE_CONSUMPTION_TAX, params={"rate": rate(tax_rate)}))
            exact = Fraction(totals.earned_minor) * Fraction(tax_rate)
            trace.step(Phrase.TAX, minor(exact), earned=minor(totals.earned_minor),
                       rate=rate(tax_rate))
            trace.rounding = Rounding(contract.rounding.mode, exact, totals.tax_minor)
            trace.result_minor = totals.tax_minor
            out.traces.append(trace)


def invoice_key(payer: str, provider: str) -> str:
    """The key of a provider's invoice to a payer in :class:`YearBefore`."""
    return f"{payer}>{provider}"


def _apply_provider_tax(contract: Contract, out: YearSettlement,
                        year_before: YearBefore) -> None:
    """The tax of each provider's invoice to a payer, once on the invoice's total (with the
    year's other evaluation), as the SPV's: the provider's own 仮受消費税, never the SPV's."""
    tax = contract.consumption_tax
    included = tax is not None and tax.amounts_include_tax
    for payer, totals in out.payers.items():
        for provider, invoice in totals.providers.items():
            key = invoice_key(payer, provider)
            total = year_before.earned.get(key, 0) + invoice.earned_minor
            on_invoice = tax_inside(contract, total, "outcome_payments") if included \
                else tax_on(contract, total, "outcome_payments")
            invoice.tax_included = included
            invoice.tax_minor = max(on_invoice - year_before.tax.get(key, 0), 0)
            if tax is None or not on_invoice:
                continue
            share = Fraction(tax.rate) / (1 + Fraction(tax.rate)) if included \
                else Fraction(tax.rate)
            trace = Trace(About(Subject.CONSUMPTION_TAX, fiscal_year=out.fiscal_year,
                                evaluation=out.evaluation, payer=payer, party=provider),
                          Step(Phrase.RULE_CONSUMPTION_TAX_INCLUDED if included
                               else Phrase.RULE_CONSUMPTION_TAX, params={"rate": rate(tax.rate)}))
            exact = Fraction(total) * share
            if included:
                trace.step(Phrase.TAX_INSIDE, minor(exact), earned=minor(total),
                           share=rate(share))
            else:
                trace.step(Phrase.TAX, minor(exact), earned=minor(total), rate=rate(tax.rate))
            trace.rounding = Rounding(RoundingMode.TRUNCATE if included
                                      else contract.rounding.mode, exact, on_invoice)
            trace.result_minor = invoice.tax_minor
            out.traces.append(trace)


def _extract_tax(contract: Contract, out: YearSettlement, payer: str,
                 totals: PayerTotals, year_before: YearBefore) -> None:
    """The tax inside a tax-inclusive invoice: its total × rate / (1 + rate), once,
    truncated; less what the year's other evaluation already booked of it."""
    totals.tax_included = True
    earlier_earned = year_before.earned.get(payer, 0)
    earlier_tax = year_before.tax.get(payer, 0)
    invoice = earlier_earned + totals.earned_minor
    on_invoice = tax_inside(contract, invoice, "outcome_payments")
    totals.tax_minor = max(on_invoice - earlier_tax, 0)
    tax = contract.consumption_tax
    if tax is None or "outcome_payments" not in tax.applies_to or not totals.earned_minor:
        return
    share = Fraction(tax.rate) / (1 + Fraction(tax.rate))
    trace = Trace(About(Subject.CONSUMPTION_TAX, fiscal_year=out.fiscal_year,
                        evaluation=out.evaluation, payer=payer),
                  Step(Phrase.RULE_CONSUMPTION_TAX_INCLUDED, params={"rate": rate(tax.rate)}))
    exact = Fraction(invoice) * share
    trace.step(Phrase.TAX_INSIDE, minor(exact), earned=minor(invoice), share=rate(share))
    trace.rounding = Rounding(RoundingMode.TRUNCATE, exact, on_invoice)
    if earlier_tax:
        trace.step(Phrase.TAX_BOOKED_BEFORE, minor(totals.tax_minor),
                   invoice_tax=minor(on_invoice), before=minor(earlier_tax))
    trace.result_minor = totals.tax_minor
    out.traces.append(trace)


def _apply_grants(contract: Contract, out: YearSettlement, grant_before: Mapping[str, int]) -> None:
    for grant in contract.grants:
        if not grant.first_fiscal_year <= out.fiscal_year <= grant.last_fiscal_year \
                or "outcome_payments" not in grant.eligible:
            continue
        covered = [p for p in grant.subsidises if p in out.payers]
        exact = {p: Fraction(out.payers[p].due_minor) * grant.rate for p in covered}
        mode = grant_rounding_mode(grant, contract.rounding.mode)
        rounded = {p: rounded_grant(grant, v, mode) for p, v in exact.items()}
        parts = rounded
        limit = grant_room(grant, sum(grant_before.values()))
        if limit is not None and sum(parts.values()) > limit:
            weights = list(parts.values()) if any(parts.values()) else [1] * len(parts)
            parts = dict(zip(parts, split_within(limit, weights,
                                                 contract.rounding.remainder_policy)))
        for payer, part in parts.items():
            out.payers[payer].grant_minor += part
            trace = Trace(About(Subject.GRANT, fiscal_year=out.fiscal_year,
                                evaluation=out.evaluation, payer=payer, grant=grant.id),
                          Step(Phrase.RULE_GRANT, params={"rate": rate(grant.rate)}))
            trace.step(Phrase.GRANT_COVERED, minor(exact[payer]),
                       due=minor(out.payers[payer].due_minor), rate=rate(grant.rate))
            if part == rounded[payer]:
                trace.rounding = Rounding(mode, exact[payer], part)
            else:
                trace.step(Phrase.GRANT_LIMIT, minor(part), rounded=minor(rounded[payer]),
                           mode=ROUNDING_TERMS[mode], limit=minor(limit or 0))
            trace.result_minor = part
            out.traces.append(trace)


def authorisation_problems(contract: Contract, out: YearSettlement,
                           due_before: Mapping[str, int],
                           due_in_year_before: Mapping[str, int] | None = None) -> list[Problem]:
    """A payer may never owe more than its budget authorisation, per year (the interim and
    final evaluations of a year together) and in total."""
    problems = []

    def money(amount_minor: int) -> str:
        return amount_text(amount_minor, contract.currency)
    for payer in contract.payers:
        totals = out.payers.get(payer.party)
        if totals is None or not totals.due_minor:
            continue
        auth = payer.authorisation
        year_limit = auth.limits_by_year_minor.get(out.fiscal_year)
        in_year = (due_in_year_before or {}).get(payer.party, 0)
        if year_limit is not None and in_year + totals.due_minor > year_limit:
            before = f" ({money(in_year)} already settled plus {money(totals.due_minor)} now)" \
                if in_year else ""
            problems.append(Problem("AUTHORISATION_EXCEEDED", f"{payer.party} would owe "
                                    f"{money(in_year + totals.due_minor)} in "
                                    f"FY{out.fiscal_year}{before}, above its authorised "
                                    f"{money(year_limit)} for the year", "payers"))
        so_far = due_before.get(payer.party, 0) + totals.due_minor
        if so_far > auth.max_amount_minor:
            problems.append(Problem("AUTHORISATION_EXCEEDED", f"{payer.party} would owe "
                                    f"{money(so_far)} in total "
                                    f"({money(due_before.get(payer.party, 0))} before plus "
                                    f"{money(totals.due_minor)} now), above its "
                                    f"債務負担行為 of {money(auth.max_amount_minor)}", "payers"))
        if not auth.from_fiscal_year <= out.fiscal_year <= auth.to_fiscal_year:
            problems.append(Problem("AUTHORISATION_PERIOD", f"{payer.party}'s authorisation "
                                    f"covers FY{auth.from_fiscal_year}–FY{auth.to_fiscal_year}, "
                                    f"not FY{out.fiscal_year}", "payers"))
    return problems
