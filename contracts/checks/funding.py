"""Checks of the money coming in and going to providers: grants, loans, unit classes,
guarantees, contributions, and providers' fee terms."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from contracts.checks.base import Known, name_of, outside_term, problem, year_key
from contracts.instruments import Contribution, Grant, Guarantee, Loan, Repayment, UnitClass
from contracts.model import Contract
from contracts.values import format_amount
from ledger.calendar import add_months
from ledger.errors import Problem


def check_instruments(contract: Contract, known: Known) -> list[Problem]:
    """Each instrument's own consistency (grant years, loan draws and repayment, unit sale
    year, guarantee cover, contribution year)."""
    problems: list[Problem] = []
    for i, instrument in enumerate(contract.instruments):
        at = f"instruments[{i}]"
        if isinstance(instrument, Grant):
            problems += _grant(contract, instrument, at)
        elif isinstance(instrument, Loan):
            problems += _loan(contract, instrument, at)
        elif isinstance(instrument, UnitClass):
            problems += outside_term(contract, instrument.first_sale_fiscal_year,
                                     f"{at}.first_sale_fiscal_year",
                                     f"unit class '{instrument.id}'")
            problems += _protection(contract, instrument, at)
            problems += _returns(contract, instrument, at)
        elif isinstance(instrument, Guarantee):
            problems += _guarantee(instrument, known, at)
        elif isinstance(instrument, Contribution):
            problems += outside_term(contract, instrument.fiscal_year, f"{at}.fiscal_year",
                                     f"contribution '{instrument.id}'")
    return problems


def check_residual(contract: Contract, known: Known) -> list[Problem]:
    """A residual to a provider names one of the contract's providers; to a unit class, one
    of its classes; to the payers or the vehicle, no party."""
    residual = contract.residual
    if residual is None:
        return []
    choices = {"provider": [p.party for p in contract.providers],
               "unit_class": [u.id for u in contract.unit_classes]}.get(residual.to)
    if choices is None:
        return [] if residual.party is None else [problem(
            "RESIDUAL_PARTY", f"a residual to the {residual.to} names no party",
            "residual.party")]
    if residual.party not in choices:
        return [problem("RESIDUAL_PARTY", f"a residual to a {residual.to.replace('_', ' ')} "
                        f"names one of the contract's: {', '.join(choices) or 'none'}",
                        "residual.party")]
    return []


def _returns(contract: Contract, unit_class: UnitClass, at: str) -> list[Problem]:
    """A return rule with what it needs (a rate, an amount, a KPI measured for the whole
    contract and its tiers, or the outcome payments as its basis), one cap, a minimum with
    its years, and a redemption schedule in date order within the term and adding up to at
    most 100 %."""
    problems: list[Problem] = []
    terms = unit_class.returns
    if terms is not None:
        here = f"{at}.returns"
        if unit_class.target_return_annual is not None:
            problems.append(problem("RETURN_TWICE", "give the return either as "
                                    "target_return_annual or as returns, not both",
                                    f"{at}.target_return_annual"))
        needs = {"simple": "rate", "compounding": "rate", "irr": "rate",
                 "fixed_amount": "amount", "tiered": "tiers", "curve": "points"}[terms.rule]
        given = {"rate": terms.rate is not None, "amount": terms.amount_minor is not None,
                 "tiers": bool(terms.tiers), "points": len(terms.points) >= 2}[needs]
        if not given:
            problems.append(problem("RETURN_TERM_MISSING", f"a {terms.rule} return needs its "
                                    f"{needs}", f"{here}.{needs}"))
        if terms.basis != "kpi" and terms.rule not in ("tiered", "curve"):
            problems.append(problem("RETURN_BASIS_UNUSED", f"a {terms.rule} return reads no "
                                    "basis: basis belongs to a tiered or curve return",
                                    f"{here}.basis"))
        elif terms.basis != "kpi" and terms.kpi is not None:
            problems.append(problem("RETURN_BASIS_TWICE", f"a return on {terms.basis} reads "
                                    "the outcome payments received, not a KPI: leave out kpi",
                                    f"{here}.kpi"))
        elif terms.basis != "kpi":
            if not contract.tranches:
                problems.append(problem("RETURN_BASIS_NO_OUTCOMES", "a return on the outcome "
                                        "payments received needs a contract that pays on "
                                        "outcomes (tranches)", f"{here}.basis"))
        elif terms.rule in ("tiered", "curve"):
            kpi = next((k for k in contract.kpis if k.id == terms.kpi), None)
            if kpi is None:
                problems.append(problem("UNKNOWN_KPI", f"a tiered return names the KPI whose "
                                        f"audited result sets its rate; {terms.kpi!r} is not "
                                        "one of the contract's KPIs", f"{here}.kpi"))
            elif kpi.measured == "per_payer":
                problems.append(problem("RETURN_KPI_PER_PAYER", f"KPI '{kpi.id}' is measured "
                                        "per payer: a class's rate needs one result a year",
                                        f"{here}.kpi"))
        if (terms.minimum_rate is None) != (terms.minimum_years is None):
            problems.append(problem("RETURN_MINIMUM_INCOMPLETE", "a minimum coupon gives both "
                                    "minimum_rate and minimum_years", f"{here}.minimum_rate"))
        cap = terms.cap
        if cap is not None and sum(v is not None for v in (cap.rate, cap.irr,
                                                            cap.multiple)) != 1:
            problems.append(problem("RETURN_CAP_INVALID", "a cap is one of rate, irr or "
                                    "multiple", f"{here}.cap"))
        elif cap is not None and cap.multiple is not None and cap.multiple < 1:
            problems.append(problem("RETURN_CAP_INVALID", "a multiple below 1 would cap the "
                                    "return below zero", f"{here}.cap.multiple"))
    total = Decimal(0)
    for k, redemption in enumerate(unit_class.redemptions):
        here = f"{at}.redemptions[{k}]"
        total += redemption.percent
        if k and redemption.on <= unit_class.redemptions[k - 1].on:
            problems.append(problem("REDEMPTIONS_NOT_IN_ORDER", "redemptions are listed in "
                                    "date order", f"{here}.on"))
        if total > 100:
            problems.append(problem("REDEMPTIONS_ABOVE_CAPITAL", f"the redemptions add up to "
                                    f"{total} % of the capital", f"{here}.percent"))
    return problems


def _grant(contract: Contract, grant: Grant, at: str) -> list[Problem]:
    if grant.rounding_unit_minor <= 0:
        return [problem("GRANT_ROUNDING_UNIT_INVALID", f"grant '{grant.id}' is computed in "
                        "units of a positive amount (1,000 for 千円未満切捨て)",
                        f"{at}.rounding_unit")]
    if grant.first_fiscal_year > grant.last_fiscal_year:
        return [problem("YEAR_RANGE_REVERSED", f"grant '{grant.id}' ends in FY"
                        f"{grant.last_fiscal_year}, before it starts in FY"
                        f"{grant.first_fiscal_year}", f"{at}.last_fiscal_year")]
    return (outside_term(contract, grant.first_fiscal_year, f"{at}.first_fiscal_year",
                         f"grant '{grant.id}'")
            + outside_term(contract, grant.last_fiscal_year, f"{at}.last_fiscal_year",
                           f"grant '{grant.id}'"))


def _loan(contract: Contract, loan: Loan, at: str) -> list[Problem]:
    problems: list[Problem] = []
    drawn = sum(d.amount_minor for d in loan.draws)
    if drawn > loan.commitment_minor:
        problems.append(problem(
            "LOAN_DRAWS_EXCEED_COMMITMENT",
            f"the draws of loan '{loan.id}' add up to {format_amount(drawn, contract.currency)}, "
            f"above the commitment of {format_amount(loan.commitment_minor, contract.currency)}",
            f"{at}.draws"))
    dates = [d.drawn_on for d in loan.draws]
    if dates != sorted(dates):
        problems.append(problem("LOAN_DRAWS_NOT_IN_ORDER",
                                "list the draws in date order", f"{at}.draws"))
    repayment = loan.repayment
    if repayment.first_repayment_on is not None and repayment.first_repayment_on <= min(dates):
        problems.append(problem(
            "LOAN_REPAYMENT_BEFORE_DRAW",
            f"the first repayment ({repayment.first_repayment_on}) is not after the first draw "
            f"({min(dates)})", f"{at}.repayment.first_repayment_on"))
    problems += _first_due(repayment, min(dates), at)
    problems += _custom_table(loan, drawn, min(dates), at, contract.currency)
    if repayment.profile == "bullet" and repayment.instalments != 1:
        problems.append(problem("LOAN_BULLET_INSTALMENTS", "a bullet loan is repaid in one "
                                "instalment", f"{at}.repayment.instalments"))
    return problems


def _custom_table(loan: Loan, drawn: int, first_drawn_on: date, at: str,
                  currency: str) -> list[Problem]:
    """LOAN_TABLE_*: a custom repayment table lists dates in order, after every draw, with
    principal adding up to what is drawn; only a custom loan has one."""
    repayment, where = loan.repayment, f"{at}.repayment.table"
    if repayment.profile != "custom":
        return [problem("LOAN_TABLE_NOT_CUSTOM", "a repayment table is given only with "
                        "profile: custom", where)] if repayment.table else []
    table = repayment.table
    if not table:
        return [problem("LOAN_TABLE_MISSING", "a custom repayment lists its due dates and "
                        "principal in table", where)]
    dates = [row.due_on for row in table]
    if dates != sorted(set(dates)):
        return [problem("LOAN_TABLE_NOT_IN_ORDER", "list the table's due dates once each, in "
                        "date order", where)]
    last_draw = max(d.drawn_on for d in loan.draws)
    if dates[0] <= last_draw:
        return [problem("LOAN_TABLE_BEFORE_DRAW", f"the table's first due date ({dates[0]}) is "
                        f"not after the last draw ({last_draw})", f"{where}[0].due_on")]
    total = sum(row.principal_minor for row in table)
    if total != drawn:
        return [problem("LOAN_TABLE_TOTAL", f"the table's principal adds up to "
                        f"{format_amount(total, currency)}, not to the "
                        f"{format_amount(drawn, currency)} drawn", where)]
    return []


def _first_due(repayment: Repayment, first_drawn_on: date, at: str) -> list[Problem]:
    """LOAN_FIRST_DUE_*: the first interest due date comes after the first draw and, stepping
    by the loan's frequency (末日 staying 末日 under the end-of-month rule), meets the first
    repayment date."""
    first_due_on, first_principal_on = repayment.first_due_on, repayment.first_repayment_on
    if first_due_on is None:
        return []
    where = f"{at}.repayment.first_due_on"
    if first_due_on <= first_drawn_on:
        return [problem("LOAN_FIRST_DUE_BEFORE_DRAW", f"the first due date ({first_due_on}) is "
                        f"not after the first draw ({first_drawn_on})", where)]
    if first_principal_on is None:
        return [problem("LOAN_FIRST_DUE_WITHOUT_REPAYMENT", "a first due date needs the first "
                        "repayment date (first_repayment_on) it leads to", where)]
    months = ((first_principal_on.year - first_due_on.year) * 12
              + first_principal_on.month - first_due_on.month)
    same_day = add_months(first_due_on, months) == first_principal_on or (
        repayment.end_of_month and _month_end(first_due_on) and _month_end(first_principal_on))
    if months < 0 or months % repayment.frequency_months or not same_day:
        return [problem("LOAN_FIRST_DUE_OFF_SCHEDULE",
                        f"due dates every {repayment.frequency_months} months from "
                        f"{first_due_on} do not meet the first repayment on {first_principal_on}"
                        + ("" if repayment.end_of_month else
                           " (for 末日 dates, set end_of_month: true)"), where)]
    return []


def _month_end(day_on: date) -> bool:
    return (day_on + timedelta(days=1)).month != day_on.month


def _protection(contract: Contract, unit_class: UnitClass, at: str) -> list[Problem]:
    """UNIT_CLASS_PROTECTION_*: a class sold as principal-protected names the guarantees that
    protect it, each covering that class; an at-risk class names none."""
    where = f"{at}.protected_by"
    if unit_class.principal == "at_risk":
        return [] if not unit_class.protected_by else [problem(
            "UNIT_CLASS_PROTECTION_ON_AT_RISK", f"unit class '{unit_class.id}' is at risk but "
            "names guarantees in protected_by: mark it principal: protected, or drop them",
            where)]
    if not unit_class.protected_by:
        return [problem("UNIT_CLASS_PROTECTION_MISSING",
                        f"unit class '{unit_class.id}' is sold as principal-protected but "
                        "names nothing protecting it: list the guarantee(s) covering it in "
                        "protected_by, or mark it principal: at_risk", where)]
    covering = {g.id for g in contract.guarantees if g.covers == unit_class.id}
    return [problem("UNIT_CLASS_PROTECTION_NOT_COVERING",
                    f"'{gid}' in protected_by of unit class '{unit_class.id}' is not a "
                    f"guarantee covering it (guarantees covering it: "
                    f"{', '.join(sorted(covering)) or 'none'})", f"{where}[{i}]")
            for i, gid in enumerate(unit_class.protected_by) if gid not in covering]


def _guarantee(guarantee: Guarantee, known: Known, at: str) -> list[Problem]:
    problems: list[Problem] = []
    if guarantee.cover_percent is None and guarantee.cover_max_minor is None:
        problems.append(problem("GUARANTEE_COVER_MISSING", "say how much the guarantee covers: "
                                "cover_percent, cover_max or both", at))
    kind = known.instrument_types.get(guarantee.covers)
    if kind is not None and kind not in ("loan", "unit_class"):
        problems.append(problem("GUARANTEE_COVERS_WRONG_INSTRUMENT",
                                f"'{guarantee.covers}' is a {kind}; a guarantee covers a loan or "
                                "a unit class", f"{at}.covers"))
    return problems


def check_providers(contract: Contract, known: Known) -> list[Problem]:
    """PROVIDER_FEE_MISSING: a provider with neither fixed fees nor an outcome share;
    YEAR_OUTSIDE_TERM for a fee year."""
    problems: list[Problem] = []
    for i, provider in enumerate(contract.providers):
        at = f"providers[{i}]"
        if not provider.fixed_by_year_minor and provider.outcome_share is None:
            problems.append(problem(
                "PROVIDER_FEE_MISSING",
                f"say how {name_of(contract, provider.party)} is paid: fixed_by_year, "
                "outcome_share or both", at))
        for year in provider.fixed_by_year_minor:
            problems += outside_term(contract, year, f"{at}.fixed_by_year{year_key(year)}",
                                     "a fixed fee")
    return problems
