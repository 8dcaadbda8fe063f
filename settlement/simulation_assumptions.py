"""Simulation assumptions as data: what each KPI may turn out to be, and when money moves.

A simulation file (YAML) says, per KPI and fiscal year (and payer, for a KPI measured per
payer), a distribution of the audited value; how the values move together (a Gaussian copula
with a correlation between years of one KPI, between payers, and between KPIs); the dates of
the yearly cycle (fixed fees, expected receipts, distributions); and the unit subscriptions.
:func:`validate_assumptions` checks it against the contract and returns every problem at
once, each with the field path that names it (``kpis.participants.final.2022.sd``), as
:mod:`contracts.validate` does for a contract. Nothing here reads a file except
:func:`load_assumptions_file`.

Distributions (``distribution:`` and its parameters, numbers as text or plain numbers):

- ``normal``: ``mean``, ``sd``;
- ``truncated_normal``: ``mean``, ``sd``, ``min`` and/or ``max``;
- ``beta``: ``alpha``, ``beta`` on ``[min, max]`` (default ``[0, 100]``);
- ``triangular``: ``min``, ``mode``, ``max``;
- ``uniform``: ``min``, ``max``;
- ``discrete``: ``values: [{value, probability}, …]`` (probabilities adding up to 1);
- ``empirical``: the KPI's audited results so far, as achievement against each year's target
  (value ÷ target; the values themselves for a KPI without targets), resampled and applied to
  the simulated year's target;
- ``fixed``: ``value`` (all mass on one value).

A drawn value is rounded to the KPI's ``decimals`` (the precision an evaluator reports; 0 for
counts, 1 otherwise unless the file says so) and becomes an exact decimal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from contracts.model import Contract
from contracts.source import read_document
from ledger.errors import Problem
from settlement.simulation_payouts import EVALUATIONS, Variable, variables

DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # name → (required parameters, optional parameters)
    "normal": (("mean", "sd"), ()),
    "truncated_normal": (("mean", "sd"), ("min", "max")),
    "beta": (("alpha", "beta"), ("min", "max")),
    "triangular": (("min", "mode", "max"), ()),
    "uniform": (("min", "max"), ()),
    "discrete": (("values",), ()),
    "empirical": ((), ()),
    "fixed": (("value",), ()),
}


@dataclass(frozen=True)
class Distribution:
    """One KPI value's distribution.

    Attributes:
        kind: a key of :data:`DISTRIBUTIONS`.
        params: its numeric parameters.
        table: for ``discrete``, (value, probability) pairs.
        where: the field path it was read from (for messages).
    """

    kind: str
    params: Mapping[str, Decimal] = field(default_factory=dict)
    table: tuple[tuple[Decimal, Decimal], ...] = ()
    where: str = ""


@dataclass(frozen=True)
class MonthDay:
    month: int
    day: int

    def on(self, year: int) -> date:
        return date(year, self.month, self.day)


@dataclass(frozen=True)
class Calendar:
    """The yearly cycle's dates: fixed fees in the fiscal year; receipts and the distribution
    in the year after it (the next business day); the final distribution."""

    fixed_fees_on: MonthDay = MonthDay(9, 30)
    receipts_on: MonthDay = MonthDay(5, 20)
    receipts_by_payer: Mapping[str, MonthDay] = field(default_factory=dict)
    distributions_on: MonthDay = MonthDay(5, 29)
    final_distribution_on: date | None = None


@dataclass(frozen=True)
class UnitSubscription:
    class_id: str
    on: date
    units: int


@dataclass(frozen=True)
class Correlation:
    between_years: Decimal = Decimal(0)
    between_payers: Decimal = Decimal(0)
    between_kpis: Mapping[frozenset[str], Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class Assumptions:
    """A validated simulation file.

    Attributes:
        distributions: (fiscal year, evaluation, KPI, payer or "") → its distribution.
        decimals: KPI → decimals of a drawn value.
        from_fiscal_year: the first year simulated; earlier years use audited results.
    """

    contract_id: str
    distributions: Mapping[Variable, Distribution]
    decimals: Mapping[str, int]
    correlation: Correlation
    calendar: Calendar
    subscriptions: tuple[UnitSubscription, ...]
    from_fiscal_year: int | None = None
    source: str = ""


class _Check:
    """Collects problems with their field paths."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def add(self, code: str, message: str, where: str) -> None:
        self.problems.append(Problem(code, message, where, self.source))

    def number(self, value: Any, where: str) -> Decimal | None:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            self.add("NUMBER_INVALID", "a number is needed (e.g. \"72.5\")", where)
            return None
        try:
            number = Decimal(str(value).replace(",", ""))
        except InvalidOperation:
            self.add("NUMBER_INVALID", f"{value!r} is not a number", where)
            return None
        if not number.is_finite():
            self.add("NUMBER_INVALID", f"{value!r} is not a finite number", where)
            return None
        return number

    def mapping(self, value: Any, where: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.add("MAPPING_EXPECTED", "a mapping of fields is needed here", where)
            return None
        return value

    def unknown(self, data: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
        for key in data:
            if str(key) not in allowed:
                self.add("FIELD_UNKNOWN", f"unknown field {key!r}; expected one of "
                         f"{', '.join(allowed)}", f"{where}.{key}" if where else str(key))


def load_assumptions_file(path: str | Path, contract: Contract
                          ) -> tuple[Assumptions | None, list[Problem]]:
    """Read and validate a simulation file for ``contract``."""
    data, problems = read_document(path)
    if data is None:
        return None, problems
    return validate_assumptions(data, contract, str(path))


def validate_assumptions(data: Any, contract: Contract, source: str = ""
                         ) -> tuple[Assumptions | None, list[Problem]]:
    """Assumptions from a parsed document, or every problem found (each with its path)."""
    check = _Check(source)
    top = check.mapping(data, "")
    if top is None:
        return None, check.problems
    check.unknown(top, ("contract", "from_fiscal_year", "kpis", "correlation", "calendar",
                        "subscriptions"), "")
    if top.get("contract") != contract.id:
        check.add("CONTRACT_MISMATCH", f"the file is for {top.get('contract')!r}, not "
                  f"{contract.id!r}", "contract")
    start = top.get("from_fiscal_year")
    if start is not None and (not isinstance(start, int) or
                              not contract.first_fiscal_year <= start <= contract.last_fiscal_year):
        check.add("FISCAL_YEAR_OUTSIDE_TERM", f"a fiscal year of the contract's term "
                  f"FY{contract.first_fiscal_year}–FY{contract.last_fiscal_year} is needed",
                  "from_fiscal_year")
        start = None
    distributions, decimals = _kpis(check, top.get("kpis", {}), contract)
    correlation = _correlation(check, top.get("correlation", {}), contract)
    calendar = _calendar(check, top.get("calendar", {}), contract)
    subscriptions = _subscriptions(check, top.get("subscriptions", []), contract)
    if check.problems:
        return None, check.problems
    return Assumptions(contract.id, distributions, decimals, correlation, calendar,
                       subscriptions, start, source), []


def _kpis(check: _Check, data: Any, contract: Contract
          ) -> tuple[dict[Variable, Distribution], dict[str, int]]:
    out: dict[Variable, Distribution] = {}
    decimals: dict[str, int] = {}
    kpis = check.mapping(data, "kpis")
    if kpis is None:
        return out, decimals
    known = {k.id: k for k in contract.kpis}
    for kpi_id, spec in kpis.items():
        where = f"kpis.{kpi_id}"
        if kpi_id not in known:
            check.add("KPI_NOT_FOUND", f"the contract has no KPI {kpi_id!r}; its KPIs: "
                      f"{', '.join(known)}", where)
            continue
        body = check.mapping(spec, where)
        if body is None:
            continue
        check.unknown(body, ("decimals", *EVALUATIONS, "payers"), where)
        places = body.get("decimals", 0 if known[kpi_id].unit in ("people", "count") else 1)
        if not isinstance(places, int) or not 0 <= places <= 6:
            check.add("DECIMALS_INVALID", "decimals is a whole number from 0 to 6",
                      f"{where}.decimals")
            places = 0
        decimals[kpi_id] = places
        per_payer = known[kpi_id].measured == "per_payer"
        for evaluation in EVALUATIONS:
            years = body.get(evaluation)
            if years is None:
                continue
            for year, dist in _years(check, years, contract, f"{where}.{evaluation}").items():
                payers = contract.payer_ids if per_payer else ("",)
                for payer in payers:
                    out[(year, evaluation, kpi_id, payer)] = dist
        payers_spec = body.get("payers")
        if payers_spec is not None:
            if not per_payer:
                check.add("KPI_NOT_PER_PAYER", f"{kpi_id} is measured for the whole contract; "
                          "it has no distribution per payer", f"{where}.payers")
                continue
            by_payer = check.mapping(payers_spec, f"{where}.payers") or {}
            for payer, evaluations in by_payer.items():
                pwhere = f"{where}.payers.{payer}"
                if payer not in contract.payer_ids:
                    check.add("PAYER_NOT_FOUND", f"{payer!r} is not a payer of the contract",
                              pwhere)
                    continue
                body_p = check.mapping(evaluations, pwhere) or {}
                check.unknown(body_p, EVALUATIONS, pwhere)
                for evaluation in EVALUATIONS:
                    if evaluation in body_p:
                        for year, dist in _years(check, body_p[evaluation], contract,
                                                 f"{pwhere}.{evaluation}").items():
                            out[(year, evaluation, kpi_id, payer)] = dist
    return out, decimals


def _years(check: _Check, data: Any, contract: Contract, where: str) -> dict[int, Distribution]:
    out: dict[int, Distribution] = {}
    years = check.mapping(data, where)
    if years is None:
        return out
    for key, spec in years.items():
        ywhere = f"{where}.{key}"
        # YAML keys are integers; JSON object keys are text.
        year = int(key) if isinstance(key, str) and key.isdigit() else key
        if not isinstance(year, int) or year not in contract.fiscal_years:
            check.add("FISCAL_YEAR_OUTSIDE_TERM", f"{year!r} is not a fiscal year of the "
                      f"contract (FY{contract.first_fiscal_year}–FY{contract.last_fiscal_year})",
                      ywhere)
            continue
        dist = _distribution(check, spec, ywhere)
        if dist is not None:
            out[year] = dist
    return out


def _distribution(check: _Check, data: Any, where: str) -> Distribution | None:
    body = check.mapping(data, where)
    if body is None:
        return None
    kind = body.get("distribution")
    if kind not in DISTRIBUTIONS:
        check.add("DISTRIBUTION_UNKNOWN", f"distribution is one of {', '.join(DISTRIBUTIONS)}",
                  f"{where}.distribution")
        return None
    required, optional = DISTRIBUTIONS[str(kind)]
    check.unknown(body, ("distribution", *required, *optional), where)
    before = len(check.problems)
    for name in required:
        if name not in body:
            check.add("FIELD_MISSING", f"a {kind} distribution needs {name}", f"{where}.{name}")
    if kind == "discrete":
        table = _table(check, body.get("values"), f"{where}.values")
        return Distribution("discrete", {}, table, where) if len(check.problems) == before \
            else None
    params: dict[str, Decimal] = {}
    for name in (*required, *optional):
        if name in body:
            number = check.number(body[name], f"{where}.{name}")
            if number is not None:
                params[name] = number
    if len(check.problems) > before:
        return None
    _check_params(check, str(kind), params, where)
    return Distribution(str(kind), params, (), where) if len(check.problems) == before else None


def _check_params(check: _Check, kind: str, p: Mapping[str, Decimal], where: str) -> None:
    if "sd" in p and p["sd"] <= 0:
        check.add("PARAMETER_INVALID", "sd must be above zero", f"{where}.sd")
    for name in ("alpha", "beta"):
        if name in p and p[name] <= 0:
            check.add("PARAMETER_INVALID", f"{name} must be above zero", f"{where}.{name}")
    if kind == "truncated_normal" and "min" not in p and "max" not in p:
        check.add("FIELD_MISSING", "a truncated normal needs min and/or max", f"{where}.min")
    low, high = p.get("min"), p.get("max")
    if low is not None and high is not None and low >= high:
        check.add("PARAMETER_INVALID", "min must be below max", f"{where}.max")
    if kind == "triangular" and low is not None and high is not None and \
            not low <= p["mode"] <= high:
        check.add("PARAMETER_INVALID", "mode must lie between min and max", f"{where}.mode")


def _table(check: _Check, data: Any, where: str) -> tuple[tuple[Decimal, Decimal], ...]:
    if not isinstance(data, list) or not data:
        check.add("FIELD_MISSING", "a list of {value, probability} is needed", where)
        return ()
    rows = []
    for i, row in enumerate(data):
        body = check.mapping(row, f"{where}[{i}]") or {}
        check.unknown(body, ("value", "probability"), f"{where}[{i}]")
        value = check.number(body.get("value"), f"{where}[{i}].value")
        prob = check.number(body.get("probability"), f"{where}[{i}].probability")
        if prob is not None and not 0 <= prob <= 1:
            check.add("PARAMETER_INVALID", "a probability lies between 0 and 1",
                      f"{where}[{i}].probability")
        if value is not None and prob is not None:
            rows.append((value, prob))
    if rows and sum(p for _, p in rows) != 1:
        check.add("PROBABILITIES_NOT_ONE", f"the probabilities add up to "
                  f"{sum(p for _, p in rows)}, not 1", where)
    return tuple(rows)


def _rho(check: _Check, value: Any, where: str) -> Decimal:
    number = check.number(value, where)
    if number is None:
        return Decimal(0)
    if not -1 < number < 1:
        check.add("CORRELATION_INVALID", "a correlation lies strictly between -1 and 1", where)
        return Decimal(0)
    return number


def _correlation(check: _Check, data: Any, contract: Contract) -> Correlation:
    body = check.mapping(data, "correlation")
    if body is None:
        return Correlation()
    check.unknown(body, ("between_years", "between_payers", "between_kpis"), "correlation")
    years = _rho(check, body.get("between_years", 0), "correlation.between_years")
    payers = _rho(check, body.get("between_payers", 0), "correlation.between_payers")
    pairs: dict[frozenset[str], Decimal] = {}
    rows = body.get("between_kpis", [])
    if not isinstance(rows, list):
        check.add("LIST_EXPECTED", "a list of {kpis: [a, b], rho}",
                  "correlation.between_kpis")
        rows = []
    known = {k.id for k in contract.kpis}
    for i, row in enumerate(rows):
        where = f"correlation.between_kpis[{i}]"
        item = check.mapping(row, where) or {}
        check.unknown(item, ("kpis", "rho"), where)
        kpis = item.get("kpis")
        if not isinstance(kpis, list) or len(kpis) != 2 or kpis[0] == kpis[1]:
            check.add("PARAMETER_INVALID", "kpis names two different KPIs", f"{where}.kpis")
            continue
        for k in kpis:
            if k not in known:
                check.add("KPI_NOT_FOUND", f"the contract has no KPI {k!r}", f"{where}.kpis")
        pairs[frozenset(kpis)] = _rho(check, item.get("rho"), f"{where}.rho")
    return Correlation(years, payers, pairs)


def _month_day(check: _Check, data: Any, where: str, default: MonthDay) -> MonthDay:
    if data is None:
        return default
    body = check.mapping(data, where)
    if body is None:
        return default
    check.unknown(body, ("month", "day"), where)
    try:
        found = MonthDay(int(body["month"]), int(body["day"]))
        found.on(2001)
    except (KeyError, TypeError, ValueError):
        check.add("DATE_INVALID", "a month and a day of the month are needed "
                  "(e.g. {month: 5, day: 20})", where)
        return default
    return found


def _calendar(check: _Check, data: Any, contract: Contract) -> Calendar:
    body = check.mapping(data, "calendar")
    if body is None:
        return Calendar()
    check.unknown(body, ("fixed_fees_on", "receipts_on", "receipts_by_payer",
                         "distributions_on", "final_distribution_on"), "calendar")
    base = Calendar()
    by_payer: dict[str, MonthDay] = {}
    for payer, spec in (check.mapping(body.get("receipts_by_payer", {}),
                                      "calendar.receipts_by_payer") or {}).items():
        if payer not in contract.payer_ids:
            check.add("PAYER_NOT_FOUND", f"{payer!r} is not a payer of the contract",
                      f"calendar.receipts_by_payer.{payer}")
            continue
        by_payer[payer] = _month_day(check, spec, f"calendar.receipts_by_payer.{payer}",
                                     base.receipts_on)
    final = _date(body.get("final_distribution_on"))
    if body.get("final_distribution_on") is not None and final is None:
        check.add("DATE_INVALID", "a date (YYYY-MM-DD) is needed",
                  "calendar.final_distribution_on")
        final = None
    return Calendar(
        _month_day(check, body.get("fixed_fees_on"), "calendar.fixed_fees_on",
                   base.fixed_fees_on),
        _month_day(check, body.get("receipts_on"), "calendar.receipts_on", base.receipts_on),
        by_payer,
        _month_day(check, body.get("distributions_on"), "calendar.distributions_on",
                   base.distributions_on),
        final)


def _date(value: Any) -> date | None:
    """A date from YAML (a date already) or JSON (ISO text)."""
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _subscriptions(check: _Check, data: Any, contract: Contract
                   ) -> tuple[UnitSubscription, ...]:
    if not isinstance(data, list):
        check.add("LIST_EXPECTED", "a list of {class, date, units}", "subscriptions")
        return ()
    classes = {u.id for u in contract.unit_classes}
    out = []
    for i, row in enumerate(data):
        where = f"subscriptions[{i}]"
        body = check.mapping(row, where) or {}
        check.unknown(body, ("class", "date", "units"), where)
        if body.get("class") not in classes:
            check.add("UNIT_CLASS_NOT_FOUND", f"the contract's unit classes: "
                      f"{', '.join(classes) or 'none'}", f"{where}.class")
            continue
        on = _date(body.get("date"))
        if on is None:
            check.add("DATE_INVALID", "a date (YYYY-MM-DD) is needed", f"{where}.date")
            continue
        units = body.get("units")
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            check.add("PARAMETER_INVALID", "units is a whole number above zero",
                      f"{where}.units")
            continue
        out.append(UnitSubscription(str(body["class"]), on, units))
    return tuple(out)


def missing_distributions(assumptions: Assumptions, contract: Contract,
                          known: Mapping[Variable, str], from_fiscal_year: int) -> list[Problem]:
    """Every result the simulation needs that is neither known (audited, before
    ``from_fiscal_year``) nor given a distribution."""
    problems = []
    for variable in variables(contract):
        year, evaluation, kpi, payer = variable
        if year < from_fiscal_year and variable in known:
            continue
        if variable not in assumptions.distributions:
            where = f"kpis.{kpi}" + (f".payers.{payer}" if payer else "") + \
                f".{evaluation}.{year}"
            problems.append(Problem(
                "DISTRIBUTION_MISSING", f"no distribution for {kpi} FY{year} ({evaluation})"
                + (f" — {payer}" if payer else "") + (
                    "" if year >= from_fiscal_year else ": no audited result either"),
                where, assumptions.source))
    return problems
