"""The settlement commands as a finance team runs them, with ``--json``: results submitted,
imported, audited, corrected and listed; a year previewed, settled, closed; a loan's schedule;
Ube's payment written as a Zengin file and read back field by field."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from api import db
from api.cli import app
from api.settings import get_settings
from api.tables import AuditRecord
from settlement.zengin import parse_transfer_file

runner = CliRunner()
FIVE = (Path(__file__).resolve().parent.parent
        / "contracts/examples/sib-2019-five-municipalities.yaml")
C = "sib-2019-five-municipalities"
POPULATION = {"ube": 165_000, "tono": 28_000, "yawata": 73_000, "ibusuki": 42_000,
              "misato": 11_000}
JPY = lambda n: {"amount": str(n), "currency": "JPY"}  # noqa: E731


def split(total: int) -> dict[str, int]:
    """By population, fractions dropped, the remainder to Ube."""
    weight = sum(POPULATION.values())
    parts = {p: total * n // weight for p, n in POPULATION.items()}
    parts["ube"] += total - sum(parts.values())
    return parts


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    assert sib("db", "upgrade").exit_code == 0
    assert sib("contract", "load", str(FIVE)).exit_code == 0
    # Who acts on KPI results and notices proves it with their own token: two people at the
    # evaluator (one submits, the other audits) and Ube's finance office.
    for name, role, scope in (("kuno-lab", "evaluator", "tsukuba-kuno-lab"),
                              ("committee", "evaluator", "tsukuba-kuno-lab"),
                              ("ube-finance", "finance_officer", "ube")):
        assert sib("user", "add", name, "--role", role, "--scope", scope).exit_code == 0
    sign_in("kuno-lab", "committee", "ube-finance")
    yield url
    get_settings.cache_clear()
    db._engines.pop(url).dispose() if url in db._engines else None


TOKENS: dict[str, str] = {}


def sign_in(*names: str) -> None:
    """Each user's own API token (sib token create), which a four-eyes act is signed with."""
    for name in names:
        result = sib("token", "create", name)
        assert result.exit_code == 0, result.output
        TOKENS[name] = result.stdout.strip()


def signed(name: str) -> list[str]:
    return ["--by", name, "--token", TOKENS[name]]


def sib(*args: str):
    return runner.invoke(app, list(args))


def ok(*args: str):
    """Run a command that must succeed and return its JSON."""
    result = sib(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def set_account(*args: str) -> None:
    """A bank account asked for by alice (intermediary) and approved by bob (admin)."""
    request = ok("bank-account", "set", "-c", C, *args, *signed("alice"))
    assert request["state"] == "requested"
    assert ok("change", "approve", str(request["id"]), *signed("bob"))["state"] == "approved"


def refused(*args: str) -> str:
    result = sib(*args)
    assert result.exit_code == 1, result.output
    return result.output


def results_file(tmp_path: Path, rows: list[tuple], name: str) -> Path:
    frame = pd.DataFrame(rows, columns=["contract", "fiscal_year", "kpi", "payer", "value"])
    path = tmp_path / name
    frame.to_csv(path, index=False) if name.endswith(".csv") else frame.to_excel(path, index=False)
    return path


FY2019 = [(C, 2019, "participants", "", 7200), (C, 2019, "inactive-share", "", 50),
          (C, 2019, "guideline-share", "", 40)] + \
         [(C, 2019, "continuation-rate", p, 70) for p in POPULATION]


def test_a_year_from_results_to_a_zengin_file(cli_db, tmp_path):
    assert sib("money", "draw", "-c", C, "--through", "2020-03-31").exit_code == 0
    # Results: the interim count typed in, the year's results imported from a spreadsheet.
    [interim] = ok("kpi", "submit", "-c", C, "-y", "2019", "--kpi", "participants",
                   "--value", "3800", "--evaluation", "interim", *signed("kuno-lab"))
    assert (interim["evaluation"], interim["value"], interim["state"]) == (
        "interim", "3800", "submitted")
    imported = ok("kpi", "import", str(results_file(tmp_path, FY2019, "fy2019.xlsx")),
                  *signed("kuno-lab"))
    assert [(r["kpi"], r["payer"], r["value"], r["state"]) for r in imported] == [
        (kpi, payer, str(value), "submitted") for _, _, kpi, payer, value in FY2019]
    audited = ok("kpi", "audit", "-c", C, "-y", "2019", *signed("committee"))
    assert len(audited) == 9 and {(r["state"], r["audited_by"]) for r in audited} == {
        ("audited", "committee")}

    # Every target met: each payer earns its committed part of the four tranches.
    maxima = (9_000_000, 6_000_000, 6_000_000, 6_000_000)
    full = {p: sum(split(m)[p] for m in maxima) for p in POPULATION}
    preview = ok("settle", "-c", C, "-y", "2019", "--preview")
    assert preview["preview"] is True and preview["problems"] == []
    # The maxima include the tax: the tax inside Ube's invoice is its earned amount × 10/110,
    # truncated once (13,965,528 × 10 / 110 = 1,269,593.45…), part of what is due, not added.
    assert full["ube"] * 10 // 110 == 1_269_593
    assert preview["payers"]["ube"] == {"earned": JPY(full["ube"]), "tax": JPY(1_269_593),
                                        "due": JPY(full["ube"]), "grant": JPY(full["ube"] // 2)}
    assert any(t["subject"] == "fy2019-participants FY2019" for t in preview["traces"])
    assert {r["state"] for r in ok("kpi", "list", "-c", C)} == {"audited"}  # nothing posted

    first = ok("settle", "-c", C, "-y", "2019")
    assert (first["run_no"], first["created"]) == (1, True)
    assert {p: f["earned"] for p, f in first["payers"].items()} == {
        p: JPY(v) for p, v in full.items()}
    again = ok("settle", "-c", C, "-y", "2019")
    assert (again["run"], again["created"]) == (first["run"], False)
    interim_run = ok("settle", "-c", C, "-y", "2019", "--evaluation", "interim")
    assert interim_run["payers"]["ube"]["due"] == JPY(split(3_000_000)["ube"])

    # Ube's continuation rate is recounted: 70 % → 65 %, half of its part of 6,000,000.
    ube_rate = next(r for r in imported if r["payer"] == "ube")
    [v2] = ok("kpi", "correct", str(ube_rate["id"]), "--value", "65", "--reason",
              "duplicate enrolments removed", *signed("kuno-lab"))
    assert (v2["version"], v2["state"], v2["reason"]) == (2, "submitted",
                                                          "duplicate enrolments removed")
    ok("kpi", "audit", str(v2["id"]), *signed("committee"))
    second = ok("settle", "-c", C, "-y", "2019")
    ube_cont = split(6_000_000)["ube"]
    ube_final = full["ube"] - ube_cont + ube_cont // 2
    assert (second["run_no"], second["payers"]["ube"]["earned"]) == (2, JPY(ube_final))
    listed = ok("kpi", "list", "-c", C, "--year", "2019")
    assert [(r["version"], r["value"], r["state"]) for r in listed
            if r["payer"] == "ube"] == [(1, "70", "settled"), (2, "65", "settled")]

    # The close: the pack of the year, with both evaluations and every loan.
    pack = ok("close", "-c", C, "-y", "2019", "--by", "twr")
    ube_owed = ube_final + split(3_000_000)["ube"]
    ube = next(p for p in pack["payers"] if p["payer"] == "ube")
    assert (ube["earned"], ube["due"], ube["paid"], ube["outstanding"]) == (
        JPY(ube_owed), JPY(ube_owed), JPY(0), JPY(ube_owed))
    assert pack["closed"] is True and len(pack["lenders"]) == 5
    again = ok("close", "-c", C, "-y", "2019")  # a retry: already closed, exit 0 (issue 14)
    assert again["already_closed"] is True and again["payers"] == pack["payers"]

    # The Kyoto loan: 12,000,000 at 0.9 %, interest only to 30 June 2020, then four annual
    # level payments (元利均等) due 「毎年6月末日」; 30 June 2024 is a Sunday and Monday 1 July
    # is in the next month, so under modified following the last is due Friday 28 June.
    [kyoto] = ok("schedule", "-c", C, "--loan", "loan-kyoto")
    rows = kyoto["rows"]
    assert [r["due_on"] for r in rows] == ["2020-06-30", "2021-06-30", "2022-06-30",
                                           "2023-06-30", "2024-06-28"]
    assert rows[0]["scheduled_interest"] == JPY(108_000)
    assert rows[0]["scheduled_principal"] == JPY(0)
    assert sum(int(r["scheduled_principal"]["amount"]) for r in rows) == 12_000_000
    assert rows[-1]["scheduled_closing"] == JPY(0)
    assert {r["actual_principal"]["amount"] for r in rows} == {"0"}

    # Ube pays what it owes by a Zengin transfer from its own account to TWR's. Each account
    # is asked for by one user of the service and approved by another.
    assert "BANK_ACCOUNT_MISSING" in refused("pay", "-c", C, "--payer", "ube", "--on",
                                             "2020-05-29", "--out", str(tmp_path / "x"))
    assert sib("user", "add", "alice", "--role", "intermediary").exit_code == 0
    assert sib("user", "add", "bob", "--role", "admin").exit_code == 0
    sign_in("alice", "bob")
    set_account("--party", "ube", "--bank", "0170", "--bank-name", "ﾔﾏｸﾞﾁ", "--branch", "101",
                "--branch-name", "ｳﾍﾞ", "--number", "1234567", "--holder", "ｳﾍﾞｼｶｲｹｲｶﾝﾘｼｬ",
                "--requester-code", "3500000001")
    set_account("--party", "twr", "--bank", "0150", "--bank-name", "ｼﾞﾖｳﾖｳ", "--branch", "201",
                "--branch-name", "ﾂｸﾊﾞ", "--type", "1", "--number", "7654321",
                "--holder", "ｶ)ﾂｸﾊﾞｳｴﾙﾈｽﾘｻ-ﾁ")
    out = tmp_path / "ube-fy2019.txt"
    # Not before Ube's finance office has inspected and approved its FY2019 notice, at the
    # amount it states (the whole FY2019 receivable).
    assert "NOTICE_NOT_APPROVED" in refused("pay", "-c", C, "--payer", "ube", "--on",
                                            "2020-05-29", "--out", str(out))
    approval = ok("approve", "-c", C, "-y", "2019", "--payer", "ube", *signed("ube-finance"),
                  "--inspected-on", "2020-05-15")
    assert (approval["amount"], approval["inspected_on"]) == (JPY(ube_owed), "2020-05-15")
    assert ok("approve", "-c", C, "-y", "2019", "--payer", "ube", *signed("ube-finance"),
              "--inspected-on", "2020-05-15") == approval  # approved once
    paid = ok("pay", "-c", C, "--payer", "ube", "--on", "2020-05-29", "--out", str(out))
    data = out.read_bytes()
    assert paid == {"file": str(out), "bytes": len(data), "total": JPY(ube_owed),
                    "notices": []}
    assert len(data) == 4 * 122  # header, one data record, trailer, end; CRLF after each
    parsed = parse_transfer_file(data)
    h = parsed.header
    # (the Zengin set has no small kana: the registered ｬ is written as ﾔ, as banks hold it)
    assert (h.kind_code, h.code_section, h.requester_code, h.requester_name) == (
        "21", "0", "3500000001", "ｳﾍﾞｼｶｲｹｲｶﾝﾘｼﾔ")
    assert (h.transfer_mmdd, h.bank_code, h.bank_name, h.branch_code, h.branch_name,
            h.account_type, h.account_number) == ("0529", "0170", "ﾔﾏｸﾞﾁ", "101", "ｳﾍﾞ", "1",
                                                  "1234567")
    [record] = parsed.records
    assert (record.bank_code, record.bank_name, record.branch_code, record.branch_name,
            record.account_type, record.account_number, record.payee_name,
            record.amount_minor, record.new_code) == (
        "0150", "ｼﾞﾖｳﾖｳ", "201", "ﾂｸﾊﾞ", "1", "7654321", "ｶ)ﾂｸﾊﾞｳｴﾙﾈｽﾘｻ-ﾁ", ube_owed, "0")
    assert (parsed.trailer.count, parsed.trailer.total_minor) == (1, ube_owed)
    assert data[:1] == b"1" and data[-122:-120] == b"9 " and data.endswith(b"\r\n")
    # A name that is not kana as the bank holds it is refused with the party named.
    set_account("--party", "twr", "--bank", "0150", "--branch", "201", "--number", "7654321",
                "--holder", "つくばウエルネスリサーチ株式会社")
    refusal = refused("pay", "-c", C, "--payer", "ube", "--on", "2020-05-29", "--out",
                      str(tmp_path / "bad.txt"))
    assert "ZENGIN" in refusal and "株式会社" in refusal

    # Ube's payment reaches the SPV and the waterfall distributes it, each owed figure traced.
    # Ube pays in two parts: all but 1,000 yen first, the rest a week later.
    assert sib("money", "receive", "-c", C, "--payer", "ube", "--amount",
               str(ube_owed - 1_000), "--on", "2020-05-29", "--reference", "FY2019"
               ).exit_code == 0
    waterfall = ok("money", "distribute", "-c", C, "--on", "2020-06-01", "--reference",
                   "FY2019")
    assert waterfall["available"] == JPY(ube_owed - 1_000)
    assert [(a["payer"], a["received"], a["applied"]) for a in waterfall["applied"]] == \
        [("ube", JPY(ube_owed - 1_000), JPY(ube_owed - 1_000))]
    assert sum(int(a["paid"]["amount"]) for a in waterfall["allocations"]) + \
        int(waterfall["left"]["amount"]) == ube_owed - 1_000
    assert any(t["subject"] == "waterfall" for t in waterfall["traces"])
    assert "trace_lines" not in waterfall
    # Run again, it answers what it applied and paid, exit 0 (issue 14: a retry is "done").
    again = ok("money", "distribute", "-c", C, "--on", "2020-06-01", "--reference", "FY2019")
    assert again["already_distributed"] is True and again["applied"] == waterfall["applied"]
    assert [(a["instrument"], a["paid"]) for a in again["allocations"]] == \
        [(a["instrument"], a["paid"]) for a in waterfall["allocations"]
         if a["paid"]["amount"] != "0"]
    # The reproduction: the same receipts a month later are not there to spend again,
    # whatever the reference; and the final distribution waits for the last year's settlement.
    book_before = ok("ledger", "trial-balance", "--book", C)
    for args in (["--reference", "FY2019"], ["--reference", "other"], []):
        assert "NOTHING_TO_DISTRIBUTE" in refused("money", "distribute", "-c", C, "--on",
                                                  "2020-07-01", *args)
    assert "FINAL_BEFORE_TERM_END" in refused("money", "distribute", "-c", C, "--on",
                                              "2020-07-01", "--reference", "FY2019", "--final")
    assert ok("ledger", "trial-balance", "--book", C) == book_before
    # The second part is new money: distributed once, with its trace.
    assert sib("money", "receive", "-c", C, "--payer", "ube", "--amount", "1000",
               "--on", "2020-06-05", "--reference", "FY2019-rest").exit_code == 0
    shown = sib("money", "distribute", "-c", C, "--on", "2020-06-08", "--trace")
    assert shown.exit_code == 0 and "waterfall: " in shown.output
    assert "available = 1,000" in shown.output


def test_refusals_name_the_field_or_row_and_write_nothing(cli_db, tmp_path):
    assert "VALUE_OUT_OF_RANGE" in refused("kpi", "submit", "-c", C, "-y", "2019", "--kpi",
                                           "inactive-share", "--value", "101", *signed("kuno-lab"))
    bad = FY2019[:2] + [(C, 2019, "guideline-share", "ube", 40),
                        (C, "2019年", "participants", "", 7200)]
    output = refused("kpi", "import", str(results_file(tmp_path, bad, "bad.csv")),
                     *signed("kuno-lab"))
    assert "PAYER_NOT_ALLOWED bad.csv:row 4: payer:" in output
    assert "FISCAL_YEAR_INVALID bad.csv:row 5: fiscal_year:" in output
    assert ok("kpi", "list", "-c", C) == []
    ok("kpi", "submit", "-c", C, "-y", "2019", "--kpi", "participants", "--value", "7000",
       *signed("kuno-lab"))
    assert "KPI_RESULT_NOT_AUDITED" in refused("settle", "-c", C, "-y", "2019")
    assert "PAYMENT_EXCEEDS_DUE" in refused("pay", "-c", C, "--payer", "ube", "--on",
                                            "2020-05-29", "--out", str(tmp_path / "x.txt"))
    assert not (tmp_path / "x.txt").exists()


def test_kpi_acts_and_approvals_are_signed_by_the_person_acting(cli_db, tmp_path):
    """A name typed after --by proves nothing at the command line: each KPI act and each
    approval is signed with the acting user's own token, and the rules the API applies to
    that user apply here (issue 14: the second person of a KPI audit and of a 検査・承認)."""
    submit = ("kpi", "submit", "-c", C, "-y", "2019", "--kpi", "participants", "--value", "7000")
    assert "TOKEN_REQUIRED" in refused(*submit, "--by", "kuno-lab")
    assert "TOKEN_INVALID" in refused(*submit, "--token", "guessed")
    assert "TOKEN_NOT_BY" in refused(*submit, "--by", "committee", "--token", TOKENS["kuno-lab"])
    # An evaluator of another party cannot act on this contract; a finance officer cannot
    # submit results at all.
    assert sib("user", "add", "other-lab", "--role", "evaluator", "--scope", "elsewhere"
               ).exit_code == 0
    sign_in("other-lab")
    assert "EVALUATOR_NOT_OF_CONTRACT" in refused(*submit, *signed("other-lab"))
    assert "ROLE_FORBIDDEN" in refused(*submit, *signed("ube-finance"))
    assert ok("kpi", "list", "-c", C) == []  # nothing written by any refusal
    [row] = ok(*submit, *signed("kuno-lab"))
    assert row["submitted_by"] == "kuno-lab"
    # The submitter cannot audit its own result, whatever name it types.
    assert "KPI_AUDIT_BY_SUBMITTER" in refused("kpi", "audit", str(row["id"]),
                                               *signed("kuno-lab"))
    assert "TOKEN_NOT_BY" in refused("kpi", "audit", str(row["id"]), "--by", "committee",
                                     "--token", TOKENS["kuno-lab"])
    argv = sys.argv  # the audit log reads the command from sys.argv, as `sib` runs
    sys.argv = ["sib", "kpi", "audit", str(row["id"]), *signed("committee"), "--json"]
    try:
        [audited] = ok("kpi", "audit", str(row["id"]), *signed("committee"))
    finally:
        sys.argv = argv
    assert (audited["state"], audited["audited_by"]) == ("audited", "committee")
    # The audit log names the person the token proved, and writes the token as ***.
    with db.unit_of_work(cli_db) as s:
        [record] = [r for r in s.scalars(select(AuditRecord)) if r.action == "kpi audit"]
        assert record.username.endswith(" as committee")
        assert "--token ***" in record.target and TOKENS["committee"] not in record.target
    # Ube's finance officer approves only Ube's notice (another payer's is not there for it).
    assert "PAYER_NOT_FOUND" in refused("approve", "-c", C, "-y", "2019", "--payer", "yawata",
                                        *signed("ube-finance"))
    assert "TOKEN_REQUIRED" in refused("approve", "-c", C, "-y", "2019", "--payer", "ube",
                                       "--by", "ube-finance")
