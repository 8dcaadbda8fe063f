"""Checks of what payers pay: shares, KPIs and their targets, tranches and their rules, caps,
and each payer's maximum liability against its budget authorisation (債務負担行為)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from contracts.checks.base import Known, name_of, outside_term, problem, year_key
from contracts.liability import authorisation_table
from contracts.model import Contract, FixedShares, Kpi, ProportionalShares, ScheduledShares, Tranche
from contracts.rules import LinearRule, ProRataRule, RateCardRule, SteppedRule
from contracts.values import format_amount
from ledger.errors import Problem, SibError

_HUNDRED = Decimal(100)


# --- payer shares ----------------------------------------------------------------------------

def check_payer_shares(contract: Contract, known: Known) -> list[Problem]:
    """SHARES_MISSING, SHARES_PAYER_MISSING, UNKNOWN_PAYER, SHARES_NOT_100, SHARES_ZERO,
    SHARES_YEAR_MISSING: every payer has a share, and percentages add up to 100 %."""
    shares = contract.payer_shares
    if "payer_shares" in known.pruned:
        return []
    if shares is None:
        if len(set(contract.payer_ids)) > 1:
            return [problem("SHARES_MISSING", "several payers but no payer_shares: say how "
                            "payments are split (fixed, proportional or schedule)",
                            "payer_shares")]
        return []
    if isinstance(shares, FixedShares):
        return _percent_table(contract, known, shares.percent, "payer_shares.percent", None)
    if isinstance(shares, ProportionalShares):
        return _proportional(contract, known, shares)
    assert isinstance(shares, ScheduledShares)
    return _schedule(contract, known, shares)


def check_lead_payer_view(contract: Contract, known: Known) -> list[Problem]:
    """LEAD_PAYER_VIEW_SINGLE_PAYER: the lead payer's view of every payer is granted only
    where there are other payers to see."""
    if not contract.lead_payer_sees_all_payers or "payers" in known.pruned \
            or len(set(contract.payer_ids)) > 1:
        return []
    return [problem("LEAD_PAYER_VIEW_SINGLE_PAYER",
                    f"{name_of(contract, contract.payer_ids[0])} is the only payer: there is no "
                    "other payer for it to see (remove lead_payer_sees_all_payers)",
                    "lead_payer_sees_all_payers")]


def _membership(contract: Contract, known: Known, table: dict[str, object],
                path: str) -> list[Problem]:
    problems = [problem("UNKNOWN_PAYER", f"'{payer}' has a share but is not one of the payers",
                        f"{path}.{payer}")
                for payer in table if not known.has("payers", payer)]
    missing = [p for p in contract.payer_ids if p not in table]
    if missing:
        problems.append(problem(
            "SHARES_PAYER_MISSING",
            f"no share given for {', '.join(name_of(contract, p) for p in missing)}", path))
    return problems


def _percent_table(contract: Contract, known: Known, table: dict[str, Decimal], path: str,
                   year: int | None) -> list[Problem]:
    problems = _membership(contract, known, dict(table), path)
    total = sum(table.values(), Decimal(0))
    if total != _HUNDRED:
        when = f" for FY{year}" if year is not None else ""
        problems.append(problem("SHARES_NOT_100",
                                f"payer shares{when} add up to {total} %, not 100 %", path))
    return problems


def _proportional(contract: Contract, known: Known,
                  shares: ProportionalShares) -> list[Problem]:
    tables: list[tuple[str, dict[str, int], int | None]] = [
        ("payer_shares.quantities", shares.quantities, None)]
    tables += [(f"payer_shares.quantities_by_year{year_key(y)}", q, y)
               for y, q in shares.quantities_by_year.items()]
    problems: list[Problem] = []
    for path, table, year in tables:
        problems += _membership(contract, known, dict(table), path)
        if sum(table.values()) <= 0:
            problems.append(problem("SHARES_ZERO", f"the {shares.quantity_name} figures add "
                                    "up to zero: nothing to split in proportion to", path))
        if year is not None:
            problems += outside_term(contract, year, path, "a quantity table")
    return problems


def _schedule(contract: Contract, known: Known, shares: ScheduledShares) -> list[Problem]:
    problems: list[Problem] = []
    for year, table in shares.percent_by_year.items():
        path = f"payer_shares.percent_by_year{year_key(year)}"
        problems += _percent_table(contract, known, table, path, year)
        problems += outside_term(contract, year, path, "a share schedule")
    absent = [y for y in contract.fiscal_years if y not in shares.percent_by_year]
    if absent:
        problems.append(problem("SHARES_YEAR_MISSING",
                                "no payer shares for " + ", ".join(f"FY{y}" for y in absent),
                                "payer_shares.percent_by_year"))
    return problems


# --- authorisation periods -------------------------------------------------------------------

def check_authorisations(contract: Contract, known: Known) -> list[Problem]:
    """AUTHORISATION_PERIOD_REVERSED, YEAR_OUTSIDE_AUTHORISATION: the period and per-year
    limits of each payer's budget authorisation make sense on their own."""
    problems: list[Problem] = []
    for i, payer in enumerate(contract.payers):
        auth, at = payer.authorisation, f"payers[{i}].authorisation"
        if auth.from_fiscal_year > auth.to_fiscal_year:
            problems.append(problem(
                "AUTHORISATION_PERIOD_REVERSED",
                f"the authorisation of {name_of(contract, payer.party)} runs from "
                f"FY{auth.from_fiscal_year} to FY{auth.to_fiscal_year}: it ends before it starts",
                f"{at}.to_fiscal_year"))
            continue
        for year in auth.limits_by_year_minor:
            if not auth.from_fiscal_year <= year <= auth.to_fiscal_year:
                problems.append(problem(
                    "YEAR_OUTSIDE_AUTHORISATION",
                    f"a limit for FY{year} lies outside the authorised period FY"
                    f"{auth.from_fiscal_year}–FY{auth.to_fiscal_year}",
                    f"{at}.limits_by_year{year_key(year)}"))
    return problems


# --- KPIs --------------------------------------------------------------------------------------

def check_kpis(contract: Contract, known: Known) -> list[Problem]:
    """YEAR_OUTSIDE_TERM for targets; KPI_RANGE_EMPTY for a minimum above the maximum;
    KPI_TARGET_OUT_OF_RANGE for a target outside the KPI's range (0–100 for a percentage
    unless the KPI states its own)."""
    problems: list[Problem] = []
    for i, kpi in enumerate(contract.kpis):
        low, high = kpi.bounds()
        if low is not None and high is not None and low > high:
            problems.append(problem("KPI_RANGE_EMPTY", f"the minimum {low} is above the maximum "
                                    f"{high}", f"kpis[{i}].minimum"))
        tables = [(f"kpis[{i}].targets", kpi.targets)]
        tables += [(f"kpis[{i}].targets_by_payer.{p}", t) for p, t in kpi.targets_by_payer.items()]
        for path, table in tables:
            for year, target in table.items():
                at = f"{path}{year_key(year)}"
                problems += outside_term(contract, year, at, f"a target of KPI '{kpi.id}'")
                if (low is not None and target < low) or (high is not None and target > high):
                    problems.append(problem(
                        "KPI_TARGET_OUT_OF_RANGE",
                        f"{target} % is not a possible percentage" if kpi.unit == "percent"
                        and kpi.minimum is None and kpi.maximum is None
                        else f"the target {target} is outside the KPI's range", at))
    return problems


def has_target(kpi: Kpi, fiscal_year: int, payer_ids: tuple[str, ...]) -> bool:
    """Whether the KPI has a target for the year: a contract-wide one, or one per payer for
    every payer when it is measured per payer."""
    if fiscal_year in kpi.targets:
        return True
    return bool(kpi.targets_by_payer) and all(
        fiscal_year in kpi.targets_by_payer.get(p, {}) for p in payer_ids)


# --- tranches and their rules -----------------------------------------------------------------

def check_tranches(contract: Contract, known: Known) -> list[Problem]:
    """Per tranche: its year within the term, its KPI present with a target for that year, and
    its rule consistent; then weights per year adding up to 1."""
    kpis = {k.id: k for k in contract.kpis}
    problems: list[Problem] = []
    for i, tranche in enumerate(contract.tranches):
        at = f"tranches[{i}]"
        problems += outside_term(contract, tranche.fiscal_year, f"{at}.fiscal_year",
                                 f"tranche '{tranche.id}'")
        kpi = kpis.get(tranche.kpi) if tranche.kpi else None
        problems += _kpi_of_tranche(contract, tranche, kpi, at)
        problems += _conditions(contract, tranche, kpi, kpis, at)
        problems += _rule(tranche, kpi, f"{at}.rule", contract.currency)
    if "tranches" not in known.pruned:
        problems += _weights(contract)
    return problems


def _kpi_of_tranche(contract: Contract, tranche: Tranche, kpi: Kpi | None,
                    at: str) -> list[Problem]:
    if tranche.kpi is None:
        if tranche.rule.type == "fixed":
            return []
        return [problem("KPI_REQUIRED", f"a {tranche.rule.type} rule pays on a KPI result: "
                        "name the KPI", f"{at}.kpi")]
    if kpi is None:
        return []  # reported as UNKNOWN_KPI
    if not isinstance(tranche.rule, ProRataRule) or tranche.rule.target is not None:
        return []  # only a pro-rata rule without a target of its own reads the KPI's target
    payer_ids = tranche.payers or contract.payer_ids
    if has_target(kpi, tranche.fiscal_year, payer_ids):
        return []
    return [problem("KPI_TARGET_MISSING",
                    f"KPI '{kpi.id}' has no target for FY{tranche.fiscal_year}, but tranche "
                    f"'{tranche.id}' pays on it that year: add the target under the KPI",
                    f"{at}.kpi")]


def _conditions(contract: Contract, tranche: Tranche, kpi: Kpi | None, kpis: dict[str, Kpi],
                at: str) -> list[Problem]:
    """One of ``all_of`` / ``any_of``, not both, not empty; a KPI measured per payer only on a
    tranche paid per payer (each payer is judged on its own result); a target for the year
    where a condition gives no threshold."""
    conditions = tranche.conditions
    if conditions is None:
        return []
    if bool(conditions.all_of) == bool(conditions.any_of):
        return [problem("CONDITIONS_INVALID", "give the conditions as all_of or as any_of "
                        "(one non-empty list, not both)", f"{at}.conditions")]
    problems: list[Problem] = []
    per_payer_tranche = kpi is not None and kpi.measured == "per_payer"
    payer_ids = tranche.payers or contract.payer_ids
    for k, condition in enumerate(conditions.items):
        where = f"{at}.conditions.{conditions.mode}[{k}]"
        tested = kpis.get(condition.kpi)
        if tested is None:
            continue  # reported as UNKNOWN_KPI
        if tested.measured == "per_payer" and not per_payer_tranche:
            problems.append(problem(
                "CONDITION_PER_PAYER", f"KPI '{tested.id}' is measured per payer, but tranche "
                f"'{tranche.id}' is paid for the whole contract: it cannot be judged on one "
                "payer's result", f"{where}.kpi"))
        if condition.threshold is None and not has_target(tested, tranche.fiscal_year,
                                                          payer_ids):
            problems.append(problem(
                "KPI_TARGET_MISSING", f"KPI '{tested.id}' has no target for "
                f"FY{tranche.fiscal_year}: give the condition a threshold, or add the target",
                f"{where}.threshold"))
    return problems


def _rule(tranche: Tranche, kpi: Kpi | None, at: str, currency: str) -> list[Problem]:
    rule = tranche.rule
    if isinstance(rule, LinearRule):
        return _linear(rule, kpi, at)
    if isinstance(rule, SteppedRule):
        return _stepped(rule, tranche, at, currency)
    if isinstance(rule, RateCardRule):
        return _rate_card(rule, tranche, at, currency)
    if isinstance(rule, ProRataRule) and rule.target is not None and rule.target <= 0:
        return [problem("PRO_RATA_TARGET_NOT_POSITIVE",
                        "a pro-rata target must be above zero", f"{at}.target")]
    return []


def _linear(rule: LinearRule, kpi: Kpi | None, at: str) -> list[Problem]:
    if kpi is not None and kpi.direction == "lower":
        if rule.floor <= rule.cap:
            return [problem("LINEAR_FLOOR_NOT_ABOVE_CAP",
                            f"KPI '{kpi.id}' is better when lower, so payment starts at the "
                            f"floor ({rule.floor}) and is full at the lower cap ({rule.cap}): "
                            "the floor must be above the cap", f"{at}.floor")]
        return []
    if rule.floor >= rule.cap:
        return [problem("LINEAR_FLOOR_ABOVE_CAP",
                        f"the floor ({rule.floor}) must be below the cap ({rule.cap}): nothing "
                        "is paid at the floor and the whole maximum at the cap", f"{at}.floor")]
    return []


def _stepped(rule: SteppedRule, tranche: Tranche, at: str, currency: str) -> list[Problem]:
    problems: list[Problem] = []
    for k, tier in enumerate(rule.tiers):
        here = f"{at}.tiers[{k}]"
        if (tier.amount_minor is None) == (tier.percent is None):
            problems.append(problem("TIER_AMOUNT_OR_PERCENT",
                                    "give a tier either an amount or a percent, not both or "
                                    "neither", here))
        if tier.to_value is not None and tier.to_value <= tier.from_value:
            problems.append(problem("TIER_EMPTY", f"the tier from {tier.from_value} to "
                                    f"{tier.to_value} contains no value", f"{here}.to"))
        if tier.amount_minor is not None and tier.amount_minor > tranche.max_amount_minor:
            problems.append(problem(
                "TIER_ABOVE_MAXIMUM",
                f"the tier pays {format_amount(tier.amount_minor, currency)}, more than the "
                f"tranche maximum {format_amount(tranche.max_amount_minor, currency)}",
                f"{here}.amount"))
    order = sorted(range(len(rule.tiers)), key=lambda k: rule.tiers[k].from_value)
    for before, after in zip(order, order[1:]):
        upper = rule.tiers[before].to_value
        if upper is None or upper > rule.tiers[after].from_value:
            problems.append(problem(
                "TIERS_OVERLAP",
                f"tier {after + 1} starts at {rule.tiers[after].from_value}, inside tier "
                f"{before + 1} (from {rule.tiers[before].from_value} to "
                f"{upper if upper is not None else 'no upper bound'}): a value would fall in both",
                f"{at}.tiers[{after}].from"))
    return problems


def _rate_card(rule: RateCardRule, tranche: Tranche, at: str, currency: str) -> list[Problem]:
    problems: list[Problem] = []
    if rule.cap_total_minor is not None and rule.cap_total_minor > tranche.max_amount_minor:
        problems.append(problem(
            "RATE_CARD_CAP_ABOVE_MAXIMUM",
            f"the total cap {format_amount(rule.cap_total_minor, currency)} is above the "
            f"tranche maximum {format_amount(tranche.max_amount_minor, currency)}",
            f"{at}.cap_total"))
    if rule.cap_per_person_minor is not None and \
            rule.cap_per_person_minor < rule.price_per_outcome_minor:
        problems.append(problem(
            "RATE_CARD_PERSON_CAP_BELOW_PRICE",
            f"the cap per person {format_amount(rule.cap_per_person_minor, currency)} is below "
            f"the price of one outcome {format_amount(rule.price_per_outcome_minor, currency)}",
            f"{at}.cap_per_person"))
    return problems


def _weights(contract: Contract) -> list[Problem]:
    by_year: dict[int, list[int]] = defaultdict(list)
    for i, tranche in enumerate(contract.tranches):
        by_year[tranche.fiscal_year].append(i)
    problems: list[Problem] = []
    for year, indexes in sorted(by_year.items()):
        weighted = [i for i in indexes if contract.tranches[i].weight is not None]
        if not weighted:
            continue
        for i in indexes:
            if contract.tranches[i].weight is None:
                problems.append(problem("WEIGHT_MISSING", f"other FY{year} tranches have "
                                        "weights; give this one a weight too",
                                        f"tranches[{i}].weight"))
        total = sum((contract.tranches[i].weight or Decimal(0) for i in weighted), Decimal(0))
        if len(weighted) == len(indexes) and total != 1:
            problems.append(problem("WEIGHTS_NOT_SUMMING_TO_ONE",
                                    f"the FY{year} tranche weights add up to {total}, not 1",
                                    f"tranches[{indexes[0]}].weight"))
    return problems


# --- caps --------------------------------------------------------------------------------------

def check_caps(contract: Contract, known: Known) -> list[Problem]:
    """YEAR_OUTSIDE_TERM for a yearly cap."""
    problems: list[Problem] = []
    for year in contract.caps.per_fiscal_year_minor:
        problems += outside_term(contract, year, f"caps.per_fiscal_year{year_key(year)}",
                                 "a yearly cap")
    return problems


# --- maximum liability against authorisation -------------------------------------------------

def check_liabilities(contract: Contract, known: Known) -> list[Problem]:
    """AUTHORISATION_YEAR_EXCEEDED, AUTHORISATION_TOTAL_EXCEEDED,
    AUTHORISATION_PERIOD_NOT_COVERING: a payer's maximum liability (its share of the tranche
    maxima, the fixed fees it pays directly, tax) never above what its council authorised."""
    if known.pruned & {"payers", "payer_shares", "tranches", "providers", "caps"}:
        return []
    try:
        rows = authorisation_table(contract)
    except SibError as exc:
        return list(exc.problems)
    index = {payer.party: i for i, payer in enumerate(contract.payers)}
    problems: list[Problem] = []
    for row in rows:
        i = index[row.payer]
        auth, at = contract.payers[i].authorisation, f"payers[{i}].authorisation"
        who, money = name_of(contract, row.payer), contract.currency
        if auth.from_fiscal_year > auth.to_fiscal_year:
            continue  # reported as AUTHORISATION_PERIOD_REVERSED
        if row.fiscal_year is None:
            if row.headroom_minor is not None and row.headroom_minor < 0:
                problems.append(problem(
                    "AUTHORISATION_TOTAL_EXCEEDED",
                    f"{who} could owe up to {format_amount(row.max_liability_minor, money)} over "
                    f"the contract, above its authorised "
                    f"{format_amount(auth.max_amount_minor, money)} by "
                    f"{format_amount(-row.headroom_minor, money)}", f"{at}.max_amount"))
            continue
        if row.max_liability_minor > 0 and not \
                auth.from_fiscal_year <= row.fiscal_year <= auth.to_fiscal_year:
            problems.append(problem(
                "AUTHORISATION_PERIOD_NOT_COVERING",
                f"{who} could owe {format_amount(row.max_liability_minor, money)} in "
                f"FY{row.fiscal_year}, outside its authorised period FY{auth.from_fiscal_year}–"
                f"FY{auth.to_fiscal_year}", f"{at}.to_fiscal_year"
                if row.fiscal_year > auth.to_fiscal_year else f"{at}.from_fiscal_year"))
        if row.headroom_minor is not None and row.headroom_minor < 0:
            problems.append(problem(
                "AUTHORISATION_YEAR_EXCEEDED",
                f"{who} could owe up to {format_amount(row.max_liability_minor, money)} in "
                f"FY{row.fiscal_year}, above its authorised limit for that year "
                f"{format_amount(row.authorised_minor or 0, money)} by "
                f"{format_amount(-row.headroom_minor, money)}",
                f"{at}.limits_by_year{year_key(row.fiscal_year)}"))
    return problems


# --- consumption tax --------------------------------------------------------------------------

def check_tax(contract: Contract, known: Known) -> list[Problem]:
    """TAX_TERMS_MISSING: a yen contract paying on outcomes states its consumption tax (outcome
    payments under a 業務委託 are consideration for a service, taxable), or why none applies;
    TAX_TERMS_INCOMPLETE: a tax with no rate or nothing it applies to; TAX_EXEMPTION_WITH_RATE:
    an exemption that also states a rate."""
    tax = contract.consumption_tax
    pays_outcomes = contract.pays_on_outcomes
    if tax is None and "consumption_tax" in known.pruned:
        return []  # written, but invalid: that problem is reported already
    if tax is None:
        if contract.currency == "JPY" and pays_outcomes:
            return [Problem("TAX_TERMS_MISSING", "a yen contract paying on outcomes must state "
                            "its consumption tax (rate, what it applies to, whether amounts "
                            "include it) or the reason none applies (exempt_reason)",
                            "consumption_tax")]
        return []
    if tax.exempt_reason:
        if tax.rate or tax.applies_to:
            return [Problem("TAX_EXEMPTION_WITH_RATE", "an exemption states no rate and "
                            "nothing the tax applies to", "consumption_tax.exempt_reason")]
        return []
    problems = []
    if not tax.rate:
        problems.append(Problem("TAX_TERMS_INCOMPLETE", "a consumption tax needs its rate "
                                "(\"0.10\"), or an exempt_reason", "consumption_tax.rate"))
    if not tax.applies_to:
        problems.append(Problem("TAX_TERMS_INCOMPLETE", "say what the tax applies to: "
                                "outcome_payments and/or service_fees",
                                "consumption_tax.applies_to"))
    return problems
