"""Money as a person reads it, in every currency (issue 13, item 5 and acceptance 2).

A pound and a dollar contract (``contracts/examples/gbp-rate-card-employment.yaml`` and
``usd-pay-for-success-housing.yaml``) go through a year at the command line as a finance team
runs it: loans drawn, fixed fees paid, results submitted and audited, the year previewed,
settled and closed, the notices approved, the payers' money received (``--amount`` typed in
pounds and dollars) and distributed with its trace, the loan schedule read, every document of
the year written as PDF. Then every string a person reads is scanned — each command's output
and errors, each ``--json`` money value, the stored traces written in English and Japanese, the
text of every PDF — and the test fails if an amount of these two-decimal currencies shows as a
figure of minor units (pence, cents).

Worked by hand.

Northfield, FY2024 (pounds; rate cards, no per-person counts, one outcome a person at most):
100 job starts × £1,250.50 = £125,050.00; 50 sustained 13 weeks × £2,000.00 = £100,000.00;
20 sustained 26 weeks × £2,750.25 = £55,005.00; in all £280,055.00, below every cap (the
yearly cap binds only FY2026; the year's maxima add up to £352,567.50). Each tranche is split
35 : 65 between the council and the fund: 125,050.00 × 0.35 = 43,767.50 and 81,282.50;
100,000.00 → 35,000.00 and 65,000.00; 55,005.00 × 0.35 = 19,251.75 and 35,753.25. The
council owes £98,019.25 (43,767.50 + 35,000.00 + 19,251.75, within its FY2024 limit of
£125,000.00) and the fund £182,035.75; 98,019.25 + 182,035.75 = 280,055.00. Both pay in full
on 20 May 2025; the waterfall of 30 May pays the provider its outcome share first:
0.25 × £280,055.00 = £70,013.75 (the loan's interest is not due until 30 June).
As minor units these would read 12,505,000 / 10,000,000 / 5,500,500 / 28,005,500 /
9,801,925 / 18,203,575 / 7,001,375 pence: none of them may appear anywhere.

Brookhaven, FY2026 (dollars, July–June, named as the state names it, by the year it ends in: 1
July 2025 – 30 June 2026; typed ``-y 2026``, printed FY2026): 81 people stably housed ×
$4,250.75 = $344,310.75; jail days down 21.7 % against a line from 10 % (nothing) to 30 % (all
of $300,000.00): (21.7 − 10) / (30 − 10) = 0.585, × $300,000.00 = $175,500.00; the state owes
$519,810.75. It pays $519,710.75 on 31 July 2026 and the last $100.00 on 10 August. The
provider's outcome share of the first is 0.20 × $519,710.75 = $103,942.15; of the second 0.20
× $100.00 = $20.00. The loan of $270,000.00 (5 %, ACT/360, first day counted, last not) pays
interest on 30 June 2026 for 350 days (15 July 2025 – 29 June 2026): 270,000.00 × 0.05 × 350 /
360 = $13,125.00. As cents these would read 34,431,075 / 17,550,000 / 51,981,075 / 51,971,075
/ 10,394,215 / 27,000,000 / 1,312,500.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from api import db
from api.cli import app
from api.settings import get_settings
from contracts.rules import SavingsShareRule
from investors.trace_text import Japanese, TraceStyle, english_lines, japanese_lines
from ledger.money import amount_text, parse_major
from ledger.rounding import RoundingMode
from settlement.payouts import KpiInput, savings_share
from settlement.trace import (
    About,
    English,
    Figure,
    Phrase,
    Step,
    Subject,
    Trace,
    Unit,
    is_structured,
    minor,
    share,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "contracts/examples"
G, U = "gbp-rate-card-employment", "usd-pay-for-success-housing"
runner = CliRunner()


@dataclass
class Seen:
    """Everything a person reads of one contract's year."""

    texts: list[tuple[str, str]] = field(default_factory=list)
    jsons: list[tuple[str, Any]] = field(default_factory=list)
    traces: list[dict[str, Any]] = field(default_factory=list)

    def sib(self, *args: str) -> Any:
        """Run a command that must succeed: its output is kept (and its JSON, with --json)."""
        result = runner.invoke(app, list(args))
        where = "sib " + " ".join(args)
        assert result.exit_code == 0, f"{where}\n{result.output}"
        if "--json" in args:
            data = json.loads(result.stdout)
            self.jsons.append((where, data))
            self.texts.append((where + " (stderr)", result.stderr))
            return data
        self.texts.append((where, result.output))
        return result.output

    def refused(self, *args: str) -> str:
        """Run a command that must be refused: its message is kept."""
        result = runner.invoke(app, list(args))
        assert result.exit_code == 1, result.output
        self.texts.append(("sib " + " ".join(args), result.output))
        return result.output

    def text(self) -> str:
        return "\n".join(text for _, text in self.texts)

    def user(self, name: str, role: str, scope: str) -> list[str]:
        """A registered user and the arguments that sign a command with its own token."""
        assert runner.invoke(app, ["user", "add", name, "--role", role, "--scope", scope]
                             ).exit_code == 0
        token = runner.invoke(app, ["token", "create", name])
        assert token.exit_code == 0, token.output
        return ["--by", name, "--token", token.stdout.strip()]


def _gbp_year(seen: Seen, out: Path) -> None:
    seen.sib("contract", "load", str(EXAMPLES / f"{G}.yaml"))
    seen.sib("money", "draw", "-c", G, "--through", "2025-03-31")
    seen.sib("money", "fees", "-c", G, "-y", "2024", "--on", "2024-09-30")
    evaluator = seen.user("evaluator", "evaluator", "independent-evaluator")
    panel = seen.user("evaluation-panel", "evaluator", "independent-evaluator")
    council = seen.user("council-finance", "finance_officer", "northfield-council")
    fund = seen.user("fund-finance", "finance_officer", "outcomes-fund")
    for kpi, value in (("job-starts", "100"), ("sustained-13-weeks", "50"),
                       ("sustained-26-weeks", "20")):
        seen.sib("kpi", "submit", "-c", G, "-y", "2024", "--kpi", kpi, "--value", value,
                 *evaluator)
    seen.sib("kpi", "audit", "-c", G, "-y", "2024", *panel)
    seen.sib("settle", "-c", G, "-y", "2024", "--preview")
    seen.traces += seen.sib("settle", "-c", G, "-y", "2024", "--preview", "--json")["traces"]
    seen.sib("close", "-c", G, "-y", "2024", "--by", "spv", "--json")
    seen.sib("close", "-c", G, "-y", "2024")  # a retry: the pack again, as text
    seen.sib("approve", "-c", G, "-y", "2024", "--payer", "northfield-council", *council,
             "--inspected-on", "2025-05-10")
    seen.sib("approve", "-c", G, "-y", "2024", "--payer", "outcomes-fund", *fund,
             "--inspected-on", "2025-05-10", "--json")
    seen.sib("money", "receive", "-c", G, "--payer", "northfield-council", "--amount",
             "98019.25", "--on", "2025-05-20", "--reference", "FY2024")
    seen.sib("money", "receive", "-c", G, "--payer", "outcomes-fund", "--amount",
             "182,035.75", "--on", "2025-05-20", "--reference", "FY2024")
    seen.sib("money", "distribute", "-c", G, "--on", "2025-05-30", "--reference", "FY2024",
             "--trace")
    again = seen.sib("money", "distribute", "-c", G, "--on", "2025-05-30", "--reference",
                     "FY2024", "--json")
    assert again["already_distributed"] is True
    seen.sib("schedule", "-c", G)
    seen.sib("schedule", "-c", G, "--json")
    seen.sib("ledger", "trial-balance", "--book", G)
    seen.sib("statements", "-c", G, "-y", "2024", "--out", str(out), "--processes", "1")


def _usd_year(seen: Seen, out: Path) -> None:
    seen.sib("contract", "load", str(EXAMPLES / f"{U}.yaml"))
    seen.sib("money", "draw", "-c", U, "--through", "2026-06-30")
    seen.sib("money", "fees", "-c", U, "-y", "2026", "--on", "2025-09-30")
    lab = seen.user("policy-lab", "evaluator", "state-university-lab")
    review = seen.user("policy-lab-review", "evaluator", "state-university-lab")
    budget = seen.user("state-budget-office", "finance_officer", "brookhaven-state")
    seen.sib("kpi", "submit", "-c", U, "-y", "2026", "--kpi", "stably-housed", "--value", "81",
             *lab)
    seen.sib("kpi", "submit", "-c", U, "-y", "2026", "--kpi", "jail-days-reduction",
             "--value", "21.7", *lab)
    seen.sib("kpi", "audit", "-c", U, "-y", "2026", *review)
    seen.sib("settle", "-c", U, "-y", "2026", "--preview")
    settled = seen.sib("settle", "-c", U, "-y", "2026", "--json")
    seen.traces += settled["traces"]
    seen.sib("close", "-c", U, "-y", "2026", "--by", "spv")
    seen.sib("close", "-c", U, "-y", "2026", "--json")  # a retry: the pack again, as data
    seen.sib("approve", "-c", U, "-y", "2026", "--payer", "brookhaven-state", *budget,
             "--inspected-on", "2026-07-20")
    # Too many decimals for dollars: refused by name, nothing recorded.
    assert "AMOUNT_PRECISION" in seen.refused(
        "money", "receive", "-c", U, "--payer", "brookhaven-state", "--amount", "519710.751",
        "--on", "2026-07-31", "--reference", "FY2026")
    # More than the ledger takes in one amount (10^15 cents, $10,000,000,000,000.00): refused,
    # in dollars.
    assert "AMOUNT_TOO_LARGE" in seen.refused(
        "money", "receive", "-c", U, "--payer", "brookhaven-state", "--amount",
        "10000000000000.01", "--on", "2026-07-31", "--reference", "FY2026")
    seen.sib("money", "receive", "-c", U, "--payer", "brookhaven-state", "--amount",
             "519710.75", "--on", "2026-07-31", "--reference", "FY2026")
    seen.sib("money", "distribute", "-c", U, "--on", "2026-08-03", "--reference", "FY2026",
             "--trace")
    seen.sib("money", "receive", "-c", U, "--payer", "brookhaven-state", "--amount", "100.00",
             "--on", "2026-08-10", "--reference", "FY2026-rest")
    last = seen.sib("money", "distribute", "-c", U, "--on", "2026-08-11", "--json")
    seen.traces += last["traces"]
    seen.sib("schedule", "-c", U)
    seen.sib("schedule", "-c", U, "--json")
    seen.sib("statements", "-c", U, "-y", "2026", "--out", str(out), "--processes", "1")


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[dict[str, tuple[Seen, Path]]]:
    """Both years run in one database, each contract's outputs kept apart."""
    tmp = tmp_path_factory.mktemp("currencies")
    url = f"sqlite:///{tmp / 'sib.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", url)
        get_settings.cache_clear()
        assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
        seen = {G: (Seen(), tmp / "gbp"), U: (Seen(), tmp / "usd")}
        _gbp_year(*seen[G])
        _usd_year(*seen[U])
        yield seen
        get_settings.cache_clear()
        db._engines.pop(url).dispose() if url in db._engines else None


# --------------------------------------------------------------------------- what is read

def _pdf_texts(folder: Path) -> list[tuple[str, str]]:
    paths = sorted(folder.rglob("*.pdf"))
    assert paths, f"no documents under {folder}"
    return [(str(p.relative_to(folder)),
             "\n".join(page.extract_text() or "" for page in PdfReader(p).pages))
            for p in paths]


def _trace_texts(seen: Seen, currency: str) -> list[tuple[str, str]]:
    traces = [Trace.from_dict(t) for t in seen.traces if is_structured(t)]
    assert traces
    return ([("trace (en)", "\n".join(english_lines(t, currency))) for t in traces]
            + [("trace (ja)", "\n".join(japanese_lines(t, TraceStyle(currency))))
               for t in traces])


def _money_values(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every value of a --json output but the trace data (figures with their units, kept as
    exact data, not for reading), with its path."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key != "traces":
                yield from _money_values(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _money_values(item, f"{path}[{i}]")
    else:
        yield path, value


def _is_money(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"amount", "currency"}


def _money_objects(value: Any) -> Iterator[dict[str, str]]:
    if _is_money(value):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key != "traces":
                yield from _money_objects(item)
    elif isinstance(value, list):
        for item in value:
            yield from _money_objects(item)


def _as_minor_unit_figure(amount_minor: int) -> re.Pattern[str]:
    """The amount written as if minor units were major: ``12,505,000`` or ``12505000``, alone
    (not part of a longer number, a major-unit amount such as ``125,050.00`` or an id)."""
    forms = "|".join(re.escape(f) for f in (f"{amount_minor:,}", str(amount_minor)))
    return re.compile(rf"(?<![0-9A-Za-z.,])(?:{forms})(?![0-9A-Za-z]|[.,][0-9])")


def _figures_of_the_year(seen: Seen) -> set[int]:
    """Every amount the year's --json outputs carry, in minor units, above 100 major units
    (smaller figures are too short to tell from a count or a day)."""
    figures = set()
    for _, data in seen.jsons:
        for money in _money_objects(data):
            minor = int(Decimal(money["amount"]) * 100)
            if abs(minor) >= 10_000:
                figures.add(abs(minor))
    return figures


# Hand-derived amounts (module docstring), in minor units.
GBP_BY_HAND = {12_505_000, 10_000_000, 5_500_500, 28_005_500, 9_801_925, 18_203_575,
               7_001_375, 125_050, 15_006_000, 25_000_000, 8_000_000}
USD_BY_HAND = {34_431_075, 17_550_000, 51_981_075, 51_971_075, 10_394_215, 27_000_000,
               1_312_500, 425_075, 42_507_500, 30_000_000, 12_000_000}


def _everything(world: dict[str, tuple[Seen, Path]], contract: str,
                currency: str) -> list[tuple[str, str]]:
    seen, out = world[contract]
    return seen.texts + _trace_texts(seen, currency) + _pdf_texts(out)


# --------------------------------------------------------------------------- the tests

@pytest.mark.parametrize(("contract", "currency", "by_hand"),
                         [(G, "GBP", GBP_BY_HAND), (U, "USD", USD_BY_HAND)])
def test_no_human_facing_string_shows_a_minor_unit_figure(world, contract, currency,
                                                          by_hand):
    seen, _ = world[contract]
    figures = _figures_of_the_year(seen) | by_hand
    assert by_hand <= figures | by_hand and len(figures) > len(by_hand)
    found = [(where, minor) for where, text in _everything(world, contract, currency)
             for minor in sorted(figures) if _as_minor_unit_figure(minor).search(text)]
    assert found == []


@pytest.mark.parametrize(("contract", "currency"), [(G, "GBP"), (U, "USD")])
def test_every_json_money_value_is_a_major_unit_string(world, contract, currency):
    seen, _ = world[contract]
    figures = _figures_of_the_year(seen)
    money = [m for _, data in seen.jsons for m in _money_objects(data)]
    assert len(money) > 20
    assert all(m["currency"] == currency and re.fullmatch(r"-?[0-9]+\.[0-9]{2}", m["amount"])
               for m in money), money
    # No amount is left as a bare integer of minor units beside them.
    bare = [(where, path, value) for where, data in seen.jsons
            for path, value in _money_values(data)
            if isinstance(value, int) and not isinstance(value, bool) and value in figures]
    assert bare == []


def test_pounds_read_as_pounds(world):
    seen, _ = world[G]
    shown = seen.text()
    # The preview's trace: the rate card's price, what the year earned, the split.
    assert "rate card £1,250.50 per outcome" in shown
    assert "earned: 100 outcomes × £1,250.50 = £125,050.00" in shown
    assert "earned: 20 outcomes × £2,750.25 = £55,005.00" in shown
    assert "northfield-council £43,767.50; outcomes-fund £81,282.50" in shown
    assert "northfield-council £19,251.75; outcomes-fund £35,753.25" in shown
    assert "FY2024 notice of northfield-council approved for £98,019.25" in shown
    assert "payment of £182,035.75 from outcomes-fund recorded" in shown
    # The waterfall's trace: the provider's quarter of £280,055.00.
    assert "available = £280,055.00" in shown
    assert "provider fees (seniority 1): owed £70,013.75, paid in full = £70,013.75" in shown
    approvals = [data for where, data in seen.jsons if where.startswith("sib approve")]
    assert [a["amount"] for a in approvals] == [{"amount": "182035.75", "currency": "GBP"}]
    [pack] = [data for where, data in seen.jsons if where.startswith("sib close")]
    assert {p["payer"]: p["due"]["amount"] for p in pack["payers"]} == {
        "northfield-council": "98019.25", "outcomes-fund": "182035.75"}
    japanese = "\n".join(text for _, text in _trace_texts(seen, "GBP"))
    assert "GBP 1,250.50" in japanese and "GBP 125,050.00" in japanese


def test_dollars_read_as_dollars(world):
    seen, out = world[U]
    shown = seen.text()
    assert "earned: 81 outcomes × US$4,250.75 = US$344,310.75" in shown
    assert "amount: 0.585 × US$300,000.00 = US$175,500.00" in shown
    assert "FY2026 notice of brookhaven-state approved for US$519,810.75" in shown
    assert "payment of US$519,710.75 from brookhaven-state recorded" in shown
    assert "payment of US$100.00 from brookhaven-state recorded" in shown
    assert "provider fees (seniority 1): owed US$103,942.15, paid in full = US$103,942.15" \
        in shown
    # The refusals say it in dollars too.
    assert "AMOUNT_PRECISION amount: 519710.751 has more decimals than USD allows (2)" in shown
    assert ("US$10,000,000,000,000.01 is more than the largest amount the ledger accepts "
            "(US$10,000,000,000,000.00)") in " ".join(shown.split())
    [settled] = [data for where, data in seen.jsons if where.startswith("sib settle")]
    assert settled["earned"] == {"amount": "519810.75", "currency": "USD"}
    assert settled["payers"]["brookhaven-state"]["due"] == {"amount": "519810.75",
                                                           "currency": "USD"}
    [last] = [data for where, data in seen.jsons if where.startswith("sib money distribute")]
    assert (last["available"], last["allocations"][0]["paid"]) == (
        {"amount": "100.00", "currency": "USD"}, {"amount": "20.00", "currency": "USD"})
    [schedule] = [data for where, data in seen.jsons if where.startswith("sib schedule")]
    assert schedule[0]["rows"][0]["actual_interest"] == {"amount": "13125.00",
                                                         "currency": "USD"}
    english = "\n".join(text for name, text in _pdf_texts(out) if name.endswith(".en.pdf"))
    assert "US$519,810.75" in english
    # The year is the state's name for it, FY2026 (1 July 2025 – 30 June 2026), everywhere:
    # the close's data, the documents; never its start year 2025.
    [pack] = [data for where, data in seen.jsons if where.startswith("sib close")]
    assert (pack["fiscal_year"], pack["period_start"], pack["period_end"]) == (
        2026, "2025-07-01", "2026-06-30")
    assert "FY2026" in english and "FY2025" not in english


@pytest.mark.parametrize("contract", [G, U])
def test_english_documents_of_a_contract_abroad_carry_no_japanese(world, contract):
    """Issue 12, item 7: a contract outside Japan reads in plain English — no 債務負担行為
    after "Budget authorisation", no 片端 in a loan's day count, no Japanese original after a
    name (the contracts give Japanese names too), on every English document of the year. A
    grant-covered line only where a grant subsidises the payer (neither contract has one)."""
    _, out = world[contract]
    japanese = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff01-\uff5e]+")
    english = [(name, text) for name, text in _pdf_texts(out) if name.endswith(".en.pdf")]
    assert len(english) >= 4  # notices, lender statement, confirmation, year-end report
    for name, text in english:
        assert not japanese.search(text), (name, japanese.findall(text))
        assert "grant-covered" not in text, name
    notices = [text for name, text in english if "notices" in name]
    assert notices and all("Budget authorisation" in text for text in notices)


def test_japanese_documents_of_a_contract_abroad_keep_its_own_year_names(world):
    """The state's FY2026 (1 July 2025 – 30 June 2026) is 2026会計年度 on the Japanese notice:
    令和8年度 would read as April 2026 – March 2027 to a Japanese reader."""
    _, out = world[U]
    [notice] = [text for name, text in _pdf_texts(out)
                if "notices" in name and name.endswith(".ja.pdf")]
    compact = notice.replace(" ", "").replace("\n", "")
    assert "2026会計年度" in compact and "令和8年度" not in compact
    assert "令和7年7月1日～令和8年6月30日" in compact


def test_every_japanese_text_names_a_contract_abroad_s_year_its_own_way():
    """The same rule off the documents (a reviewer found the pack's title, the simulation
    report and the portal still in 和暦): one function decides, by the contract's currency."""
    from api.portal import text
    from investors.formatting import format_fiscal_year
    assert format_fiscal_year(2026, "ja", 7, True, currency="USD") == "2026会計年度"
    assert format_fiscal_year(2019, "ja", 4, True, currency="JPY") == "令和元年度（2019年度）"
    assert format_fiscal_year(2019, "ja") == "令和元年度"
    assert text.fiscal_year(2026, "ja", "USD") == "2026会計年度"
    assert text.fiscal_year(2026, "en", "USD") == "FY2026"


def test_a_payment_above_what_is_owed_is_refused_in_dollars(world):
    # After both payments the state owes nothing more: $519,810.75 − $519,710.75 − $100.00.
    # A further $200.00 is refused, and the refusal should say so in dollars.
    result = runner.invoke(app, ["money", "receive", "-c", U, "--payer", "brookhaven-state",
                                 "--amount", "200.00", "--on", "2026-08-12", "--reference",
                                 "FY2026-more"])
    assert result.exit_code == 1
    assert "PAYMENT_EXCEEDS_DUE" in result.output
    assert not _as_minor_unit_figure(20_000).search(result.output), result.output
    assert "US$200.00" in result.output


def test_no_zengin_file_for_a_contract_not_in_yen(world, tmp_path):
    """A Zengin 総合振込 file moves yen: dollars in it would be cents read as yen."""
    for args in (["--payer", "brookhaven-state"], ["--distribution", "2026-08-31"]):
        out = tmp_path / "transfer.txt"
        result = runner.invoke(app, ["pay", "-c", U, *args, "--on", "2026-09-01",
                                     "--out", str(out)])
        assert result.exit_code == 1, result.output
        assert "ZENGIN_NOT_YEN" in result.output
        assert not out.exists()


def test_the_scan_finds_a_minor_unit_figure_and_nothing_else():
    # £125,050.00 written as pence would be "12,505,000" (or "12505000"); the pound figure
    # "£125,050.00", a longer number or an id that contains the digits is not that figure.
    pattern = _as_minor_unit_figure(12_505_000)
    assert pattern.search("earned 12,505,000") and pattern.search("(12505000)")
    assert pattern.search("12,505,000円")
    for text in ("£125,050.00", "112,505,000", "12,505,000.00", "a12505000", "12505000b"):
        assert not pattern.search(text), text


def test_an_amount_is_typed_in_major_units_with_the_currencys_decimals():
    # $270,000.00 is 27,000,000 cents; yen have no minor unit: 14,146,566 yen is 14146566.
    assert parse_major("270000.00", "USD") == 27_000_000
    assert parse_major("270,000.5", "USD") == 27_000_050
    assert parse_major("14146566", "JPY") == 14_146_566
    for typed, currency in (("270000.001", "USD"), ("14146566.0", "JPY"), ("1.5", "JPY")):
        with pytest.raises(Exception) as refused:
            parse_major(typed, currency)
        assert refused.value.code == "AMOUNT_PRECISION"  # type: ignore[attr-defined]


def test_amounts_read_as_a_person_writes_them_in_each_currency():
    assert amount_text(125_050, "GBP") == "£1,250.50"
    assert amount_text(27_000_000, "USD") == "US$270,000.00"
    assert amount_text(-5, "GBP") == "-£0.05"
    assert amount_text(125_050, "GBP", "ja") == "GBP 1,250.50"
    # An exact amount finer than a penny keeps its exact form: 12,345.6 pence is £123.456;
    # 2,000,000/3 pence is £20,000/3, about £6,666.666667.
    assert amount_text(Fraction(123_456, 10), "GBP") == "£123.456"
    assert amount_text(Fraction(2_000_000, 3), "GBP") == "£20000/3 (≈£6,666.666667)"
    # Yen as ever: bare and grouped.
    assert amount_text(14_146_566, "JPY") == "14,146,566"


def _two_thirds_of_a_thousand_pounds() -> Trace:
    """A linear tranche from 10 % (nothing) to 40 % (all of £1,000.00) at 30 %."""
    percent = lambda v: Figure(Decimal(v), Unit.PERCENT)  # noqa: E731
    trace = Trace(About(Subject.TRANCHE, fiscal_year=2024, tranche="fy2024-starts"),
                  Step(Phrase.RULE_LINEAR, params={"floor": percent("10"), "cap": percent("40")}))
    trace.input(Phrase.MAXIMUM, minor(100_000))
    trace.step(Phrase.AMOUNT_OF_SHARE, minor(Fraction(200_000, 3)), share=share(Fraction(2, 3)),
               maximum=minor(100_000))
    trace.result_minor = trace.rounded(Fraction(200_000, 3), "half_even")
    return trace


def test_an_exact_fraction_of_a_penny_keeps_its_exact_form_in_both_languages():
    # (30 − 10) / (40 − 10) = 2/3 of 100,000 pence is 200,000/3 pence: £2,000/3, about
    # £666.666667; half even to the penny gives 66,667 pence, £666.67, rounding up by 1/3 of
    # a penny, £1/300 (about £0.003333).
    trace = _two_thirds_of_a_thousand_pounds()
    assert trace.lines("GBP") == [
        "fy2024-starts FY2024: linear from 10 (0) to 40 (full)",
        "  maximum = £1,000.00",
        "  amount: 2/3 (≈0.666667) × £1,000.00 = £2000/3 (≈£666.666667)",
        "  rounding: half even: £2000/3 (≈£666.666667) → £666.67 (rounded up by £1/300 "
        "(≈£0.003333))",
        "  result: £666.67"]
    assert japanese_lines(trace, TraceStyle("GBP"))[2:] == [
        "算定額：2/3（≒0.666667） × GBP 1,000.00 = GBP 2000/3（≒GBP 666.666667）",
        "端数処理（偶数丸め）：GBP 2000/3（≒GBP 666.666667） → GBP 666.67（偶数丸めによる差 "
        "-GBP 1/300（≒-GBP 0.003333））"]
    # The same figures in yen read as they always have: 100,000 yen, 200000/3 yen.
    assert trace.lines("JPY")[2:] == [
        "  amount: 2/3 (≈0.666667) × 100,000 = 200000/3 (≈66,666.666667)",
        "  rounding: half even: 200000/3 (≈66,666.666667) → 66,667 (rounded up by 1/3 "
        "(≈0.333333))",
        "  result: 66,667"]


def test_a_kpi_measured_in_pounds_reads_in_pounds():
    # A money KPI is measured in the currency's major units (its decimals are the currency's):
    # audited savings of 1,250.50 pounds read £1,250.50 / GBP 1,250.50, not £12.5050; in yen,
    # 1,250 yen read as before, 1,250 / 1,250円.
    savings = Figure(Decimal("1250.50"), Unit.MONEY)
    assert English("GBP").figure(savings) == "£1,250.50"
    assert Japanese(TraceStyle("GBP")).figure(savings) == "GBP 1,250.50"
    assert Japanese(TraceStyle("GBP", "money")).figure(
        Figure(Decimal("1250.50"), Unit.KPI)) == "GBP 1,250.50"
    yen = Figure(Decimal("1250"), Unit.MONEY)
    assert (English("JPY").figure(yen), Japanese(TraceStyle("JPY")).figure(yen)) == (
        "1,250", "1,250円")


def test_savings_measured_in_pounds_are_shared_in_pence():
    # Audited savings of £12,500.50 (a money KPI, measured in pounds) against a hurdle of
    # £10,000.00 (1,000,000 pence): 10 % of the first £10,000.00 is £1,000.00; 5 % of the
    # £2,500.50 above it is £125.025; £1,125.025 in all, half even to the penny: 112,502.5
    # pence → 112,502, £1,125.02. (Taken as pence, the savings would be £125.005, below the
    # hurdle, and earn £12.50.)
    rule = SavingsShareRule(share_before_hurdle="0.10", hurdle_amount=1_000_000,
                            share_after_hurdle="0.05")
    paid = savings_share(rule, 500_000, KpiInput(Decimal("12500.50"), unit="money",
                                                 minor_per_unit=100), RoundingMode.HALF_EVEN)
    assert paid.amount_minor == 112_502
    assert paid.trace.lines("GBP")[-4:] == [
        "  share below hurdle: £10,000.00 × 0.10 = £1,000.00",
        "  share above hurdle: £2,500.50 × 0.05 = £125.025",
        "  rounding: half even: £1,125.025 → £1,125.02 (fraction £0.005 dropped)",
        "  result: £1,125.02"]
    # A yen KPI is in yen already: 1 yen a unit, as before.
    yen = savings_share(rule, 500_000, KpiInput(Decimal("1250050")), RoundingMode.HALF_EVEN)
    # 1,000,000 × 0.10 + 250,050 × 0.05 = 112,502.5 yen, half even: 112,502.
    assert yen.amount_minor == 112_502
