"""The bad-input corpus (issue 14, acceptance 4): files and values a person or a client may send
by mistake or on purpose, fed to the command line and to the HTTP service. Each must end in a
named refusal — its stable code in the output — with no traceback, no 500 and nothing written.

One database serves every case: a contract loaded, a holder registered. After each case, every
table but the service's own (users, tokens, the audit log, idempotency records) must hold the
same rows as before, so "nothing written" is checked, not assumed. Then the ordinary Japanese
input that used to fail is shown to work: a cp932 CSV saved by Excel, a UTF-8 CSV with a BOM,
dates typed 2020/03/31 and 令和2年3月31日.
"""

from __future__ import annotations

import io
import sqlite3
import zipfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api import db
from api.cli import app
from api.main import create_app
from api.settings import get_settings
from api.users import add_user, create_token
from contracts.store import load_contract
from contracts.validate import load_contract_file
from investors.store import HolderSpec, add_holder

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "bad_inputs"
C = "sib-2019-five-municipalities"
CONTRACT_FILE = ROOT / "contracts" / "examples" / f"{C}.yaml"
HEADER = "contract,fiscal_year,kpi,payer,value\n"
runner = CliRunner()


# --------------------------------------------------------------------------- the world

class World:
    """The database, the files of the corpus and a client of the service."""

    def __init__(self, url: str, files: Path, client: TestClient, token: str) -> None:
        self.url, self.files, self.client, self.token = url, files, client, token

    @property
    def path(self) -> str:
        return self.url.split("///", 1)[1]

    def rows(self) -> dict[str, int]:
        """Rows per table, but for the service's own tables (a refused write is audited)."""
        with closing(sqlite3.connect(self.path)) as con:
            names = [n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type = "
                                               "'table' AND name NOT LIKE 'api_%' AND name "
                                               "NOT LIKE 'sqlite_%' AND name != "
                                               "'alembic_version'")]
            return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


def _write_files(folder: Path) -> Path:
    """The corpus's files: written here so that each one's bytes are explained in one place."""
    def put(name: str, data: bytes | str) -> None:
        (folder / name).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)

    row = f"{C},2019,participants,,参加者\n"  # a value that is not a number: named per row
    put("cp932-bad-value.csv", (HEADER + row).encode("cp932"))  # Excel's "CSV" in Japan
    put("utf16.csv", (HEADER + row).encode("utf-16"))  # Excel's "Unicode text", with a BOM
    put("neither.csv", HEADER.encode() + b"\x80\xfd\xfe\xff,\x80\n")  # not UTF-8, not cp932
    put("binary.csv", b"\x00\x01\x02" * 100)
    put("empty.csv", b"")
    put("header-only.csv", HEADER)
    put("no-value-column.csv", "contract,fiscal_year,kpi,payer\n" f"{C},2019,participants,\n")
    put("fullwidth-year.csv", HEADER + f"{C},２０１９,participants,,7000\n")
    put("fullwidth-value.csv", HEADER + f"{C},2019,participants,,１２３４\n")
    put("exponent-value.csv", HEADER + f"{C},2019,participants,,1E+100000\n")
    put("nan-value.csv", HEADER + f"{C},2019,participants,,NaN\n")
    put("unbalanced-quote.csv", HEADER + f'{C},2019,"participants,,7000\n')
    put("too-many-rows.csv", HEADER + f"{C},2019,participants,,1\n" * 5_001)
    put("too-large.csv", HEADER + "x" * (2 * 1024 * 1024))
    put("huge.csv", HEADER + "x" * (3 * 1024 * 1024))
    put("results.txt", HEADER)
    put("results.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500)  # an old workbook
    put("ole-named.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500)
    put("fake.xlsx", HEADER + row)  # a CSV renamed .xlsx
    put("not-a-workbook.xlsx", _zip({"hello.txt": b"hello"}))
    put("damaged.xlsx", _zip({"xl/workbook.xml": b"<not xml"}))
    # 30 MB of XML that deflates to about 30 KB: the 199 KB file that took 1.2 GB before.
    put("bomb.xlsx", _zip({"xl/workbook.xml": b"<workbook/>",
                           "xl/worksheets/sheet1.xml": b" " * (30 * 1024 * 1024)}))
    put("contract-latin1.yaml", "id: ü\n".encode("latin-1"))
    put("contract-invalid.yaml", "id: [unclosed\n")
    put("contract-recursive.yaml", "a: &a [*a]\n")
    put("contract-too-large.yaml", "# " + "x" * (1024 * 1024) + "\n")
    return folder


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def world(migrated_sqlite, tmp_path_factory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("corpus")
    path = folder / "sib.db"
    with closing(sqlite3.connect(migrated_sqlite)) as source, \
            closing(sqlite3.connect(path)) as copy:
        source.backup(copy)
    url = f"sqlite:///{path}"
    contract, problems = load_contract_file(CONTRACT_FILE)
    assert contract is not None and not problems
    with db.unit_of_work(url) as session:
        load_contract(session, contract, CONTRACT_FILE.name)
        add_holder(session, HolderSpec("citizen-001", "individual", "市民 一", "ｼﾐﾝ ｲﾁ"))
        add_user(session, "corpus-admin", "admin")
        token = create_token(session, "corpus-admin")
        # The evaluator whose own token signs the KPI commands (--by lab is checked against it).
        add_user(session, "lab", "evaluator", "tsukuba-kuno-lab")
        lab_token = create_token(session, "lab")
    files = folder / "files"
    files.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", url)
        patch.setenv("SIB_TOKEN", lab_token)
        get_settings.cache_clear()
        with TestClient(create_app(url), raise_server_exceptions=False) as client:
            yield World(url, _write_files(files), client, token)
    get_settings.cache_clear()
    for key in [k for k in db._engines if k.startswith(url)]:
        db._engines.pop(key).dispose()


# --------------------------------------------------------------------------- the command line

F = "{files}"  # replaced by the folder of the corpus's files
SUBMIT = ["kpi", "submit", "-c", C, "-y", "2019", "--kpi", "participants", "--by", "lab",
          "--value"]
RECEIVE = ["money", "receive", "-c", C, "--payer", "ube", "--reference", "FY2019"]

CLI_CASES: list[tuple[str, list[str], str]] = [
    # contract files
    ("yaml alias bomb (351 bytes, 3.1 GB before)",
     ["contract", "validate", str(FIXTURES / "alias-bomb.yaml")], "YAML_TOO_COMPLEX"),
    ("yaml alias bomb loaded", ["contract", "load", str(FIXTURES / "alias-bomb.yaml")],
     "YAML_TOO_COMPLEX"),
    ("yaml list as a mapping key (a traceback before)",
     ["contract", "validate", str(FIXTURES / "list-key.yaml")], "YAML_KEY_NOT_SCALAR"),
    ("yaml alias inside itself", ["contract", "validate", f"{F}/contract-recursive.yaml"],
     "YAML_TOO_COMPLEX"),
    ("yaml over 1 MB", ["contract", "validate", f"{F}/contract-too-large.yaml"],
     "DOCUMENT_TOO_LARGE"),
    ("yaml not UTF-8", ["contract", "load", f"{F}/contract-latin1.yaml"], "FILE_NOT_UTF8"),
    ("yaml malformed", ["contract", "load", f"{F}/contract-invalid.yaml"], "YAML_INVALID"),
    ("yaml file missing", ["contract", "load", f"{F}/nowhere.yaml"], "FILE_NOT_FOUND"),
    ("yaml path is a folder", ["contract", "load", f"{F}"], "FILE_UNREADABLE"),
    # KPI files
    ("cp932 CSV: decoded, its bad value named", ["kpi", "import", f"{F}/cp932-bad-value.csv",
                                                 "--by", "lab"], "VALUE_INVALID"),
    ("UTF-16 CSV", ["kpi", "import", f"{F}/utf16.csv", "--by", "lab"],
     "FILE_ENCODING_UNSUPPORTED"),
    ("CSV neither UTF-8 nor cp932", ["kpi", "import", f"{F}/neither.csv", "--by", "lab"],
     "FILE_ENCODING_UNSUPPORTED"),
    ("binary CSV", ["kpi", "import", f"{F}/binary.csv", "--by", "lab"], "FILE_NOT_CSV"),
    ("empty CSV", ["kpi", "import", f"{F}/empty.csv", "--by", "lab"], "FILE_EMPTY"),
    ("CSV of a header only", ["kpi", "import", f"{F}/header-only.csv", "--by", "lab"],
     "FILE_EMPTY"),
    ("CSV without the value column", ["kpi", "import", f"{F}/no-value-column.csv", "--by",
                                      "lab"], "COLUMN_MISSING"),
    ("CSV full-width fiscal year", ["kpi", "import", f"{F}/fullwidth-year.csv", "--by", "lab"],
     "FISCAL_YEAR_INVALID"),
    ("CSV full-width value", ["kpi", "import", f"{F}/fullwidth-value.csv", "--by", "lab"],
     "VALUE_INVALID"),
    ("CSV exponent value", ["kpi", "import", f"{F}/exponent-value.csv", "--by", "lab"],
     "VALUE_INVALID"),
    ("CSV NaN value", ["kpi", "import", f"{F}/nan-value.csv", "--by", "lab"], "VALUE_INVALID"),
    ("CSV with an unclosed quote", ["kpi", "import", f"{F}/unbalanced-quote.csv", "--by",
                                    "lab"], "FILE_NOT_CSV"),
    ("CSV of 5,001 rows (100k froze the server)", ["kpi", "import", f"{F}/too-many-rows.csv",
                                                   "--by", "lab"], "FILE_TOO_MANY_ROWS"),
    ("CSV over 2 MB", ["kpi", "import", f"{F}/too-large.csv", "--by", "lab"], "FILE_TOO_LARGE"),
    ("a .txt file", ["kpi", "import", f"{F}/results.txt", "--by", "lab"], "FILE_FORMAT"),
    ("an old .xls workbook", ["kpi", "import", f"{F}/results.xls", "--by", "lab"],
     "XLS_NOT_SUPPORTED"),
    (".xls renamed .xlsx", ["kpi", "import", f"{F}/ole-named.xlsx", "--by", "lab"],
     "XLS_NOT_SUPPORTED"),
    ("a CSV renamed .xlsx", ["kpi", "import", f"{F}/fake.xlsx", "--by", "lab"],
     "FILE_NOT_XLSX"),
    ("a zip that is not a workbook", ["kpi", "import", f"{F}/not-a-workbook.xlsx", "--by",
                                      "lab"], "FILE_NOT_XLSX"),
    ("a damaged workbook", ["kpi", "import", f"{F}/damaged.xlsx", "--by", "lab"],
     "FILE_NOT_XLSX"),
    ("an xlsx unpacking to 30 MB (1.2 GB before)", ["kpi", "import", f"{F}/bomb.xlsx", "--by",
                                                    "lab"], "FILE_TOO_LARGE"),
    ("KPI file missing", ["kpi", "import", f"{F}/nowhere.csv", "--by", "lab"],
     "FILE_NOT_FOUND"),
    # KPI values typed
    ("value 1E+100000 (made settlement a 500)", SUBMIT + ["1E+100000"], "VALUE_INVALID"),
    ("value full-width １２３４", SUBMIT + ["１２３４"], "VALUE_INVALID"),
    ("value 3e3", SUBMIT + ["3e3"], "VALUE_INVALID"),
    ("value NaN", SUBMIT + ["NaN"], "VALUE_INVALID"),
    ("value Infinity", SUBMIT + ["Infinity"], "VALUE_INVALID"),
    ("value of 30 digits", SUBMIT + ["1" * 30], "VALUE_TOO_LONG"),
    ("fiscal year 99999", ["kpi", "submit", "-c", C, "-y", "99999", "--kpi", "participants",
                           "--by", "lab", "--value", "1"], "OPTION_INVALID"),
    ("result id beyond int64", ["kpi", "correct", "9" * 25, "--value", "1", "--reason", "r",
                                "--by", "lab"], "NUMBER_TOO_LARGE"),
    ("result id not a number", ["kpi", "correct", "abc", "--value", "1", "--reason", "r",
                                "--by", "lab"], "OPTION_INVALID"),
    ("an option missing", ["kpi", "submit", "-c", C], "OPTION_INVALID"),
    ("no such command", ["settle-everything"], "OPTION_INVALID"),
    # amounts and dates typed
    ("amount 2^63-1 (balances became floats)", RECEIVE + ["--on", "2020-05-20", "--amount",
                                                          str(2**63 - 1)], "AMOUNT_TOO_LARGE"),
    ("amount 2^63 (a 500 before)", RECEIVE + ["--on", "2020-05-20", "--amount", str(2**63)],
     "AMOUNT_TOO_LARGE"),
    ("amount 10^15 + 1", RECEIVE + ["--on", "2020-05-20", "--amount", str(10**15 + 1)],
     "AMOUNT_TOO_LARGE"),
    ("amount not a number", RECEIVE + ["--on", "2020-05-20", "--amount", "1e6"],
     "AMOUNT_INVALID"),
    ("amount with decimals in yen", RECEIVE + ["--on", "2020-05-20", "--amount", "100.5"],
     "AMOUNT_PRECISION"),
    ("date 9999-12-31 (posted before)", RECEIVE + ["--on", "9999-12-31", "--amount", "100"],
     "DATE_OUT_OF_RANGE"),
    ("date 1900-01-01", RECEIVE + ["--on", "1900-01-01", "--amount", "100"],
     "DATE_OUT_OF_RANGE"),
    ("date 2020-02-30", RECEIVE + ["--on", "2020-02-30", "--amount", "100"], "DATE_INVALID"),
    ("date 平成32年 (平成 ended in 31)", RECEIVE + ["--on", "平成32年1月1日", "--amount", "100"],
     "DATE_INVALID"),
    ("date in words", ["money", "draw", "-c", C, "--through", "next tuesday"], "DATE_INVALID"),
    ("as-of not a date", ["ledger", "trial-balance", "--book", C, "--as-of", "31/03/2020"],
     "DATE_INVALID"),
    ("statement from 0000", ["ledger", "statement", "-b", C, "-a", "cash", "--from",
                             "0001-01-01"], "DATE_OUT_OF_RANGE"),
    ("tax remit on a bad date", ["tax", "remit", "-c", C, "--month", "2020-06", "--on",
                                 "2020-13-01"], "DATE_INVALID"),
    ("approve inspected on a bad date", ["approve", "-c", C, "-y", "2019", "--payer", "ube",
                                         "--inspected-on", "yesterday"],
     "DATE_INVALID"),
    # holders
    ("holder code ../../etc/passwd", ["holder", "add", "../../etc/passwd", "--kind",
                                      "individual", "--name", "x"], "CODE_INVALID"),
    ("holder code with a zero-width space", ["holder", "add", "citizen\u200b002", "--kind",
                                             "individual", "--name", "x"], "CODE_INVALID"),
    ("holder code with an RTL override", ["holder", "add", "citizen\u202e200", "--kind",
                                          "individual", "--name", "x"], "CODE_INVALID"),
    ("holder code with a control character", ["holder", "add", "citizen\x07", "--kind",
                                              "individual", "--name", "x"], "CODE_INVALID"),
    ("holder name of 10,000 characters", ["holder", "add", "citizen-009", "--kind",
                                          "individual", "--name", "名" * 10_000],
     "TEXT_TOO_LONG"),
    ("holder buys -1 units", ["holder", "subscribe", "-c", C, "--class", "citizen-units",
                              "--holder", "citizen-001", "--units", "-1", "--on",
                              "2021-06-01"], "COUNT_OUT_OF_RANGE"),
]


@pytest.mark.parametrize("args, code", [(a, c) for _, a, c in CLI_CASES],
                         ids=[name for name, _, _ in CLI_CASES])
def test_the_command_line_refuses_by_name(world, args, code):
    before = world.rows()
    result = runner.invoke(app, [a.replace(F, str(world.files)) for a in args])
    assert result.exit_code in (1, 2), result.output
    assert code in result.output, result.output
    assert "Traceback" not in result.output and "INTERNAL_ERROR" not in result.output
    assert world.rows() == before


# --------------------------------------------------------------------------- the service

def _big_json(size: int) -> bytes:
    return b'{"code": "c", "kind": "individual", "name_kanji": "' + b"x" * size + b'"}'


API_CASES: list[tuple[str, str, str, dict[str, Any], int, str]] = [
    # (name, method, path, request, status, code); request: json= / content= / files=
    ("a 21 MB holder name (stored before)", "POST", "/holders",
     {"content": _big_json(21 * 1024 * 1024)}, 413, "BODY_TOO_LARGE"),
    ("a body over 1 MiB", "POST", f"/contracts/{C}/receipts",
     {"content": _big_json(1024 * 1024)}, 413, "BODY_TOO_LARGE"),
    ("a key written twice (last won before)", "POST", f"/contracts/{C}/receipts",
     {"content": b'{"payer": "ube", "payer": "tono", "amount": {"amount": "1", "currency": '
                 b'"JPY"}, "received_on": "2020-05-20", "reference": "FY2019"}'},
     422, "JSON_DUPLICATE_KEY"),
    ("NaN inside links (accepted before)", "POST", f"/ledger/books/{C}/entries",
     {"content": b'{"kind": "x", "effective_on": "2020-05-20", "links": {"n": NaN}, '
                 b'"postings": []}'}, 422, "JSON_NUMBER_INVALID"),
    ("Infinity inside links", "POST", f"/ledger/books/{C}/entries",
     {"content": b'{"kind": "x", "effective_on": "2020-05-20", "links": {"n": -Infinity}, '
                 b'"postings": []}'}, 422, "JSON_NUMBER_INVALID"),
    ("a number of 5,000 digits", "POST", f"/ledger/books/{C}/entries",
     {"content": b'{"kind": "x", "effective_on": "2020-05-20", "links": {"n": '
                 + b"9" * 5000 + b'}, "postings": []}'}, 422, "JSON_NUMBER_INVALID"),
    ("JSON nested 100,000 deep", "POST", f"/ledger/books/{C}/entries",
     {"content": b"[" * 100_000 + b"]" * 100_000}, 422, "JSON_TOO_DEEP"),
    ("malformed JSON", "POST", f"/contracts/{C}/receipts", {"content": b'{"payer": '}, 422,
     "JSON_INVALID"),
    ("a query date of 0001-01-01", "GET", f"/ledger/books/{C}/trial-balance?as_of=0001-01-01",
     {}, 422, "DATE_OUT_OF_RANGE"),
    ("amount 2^63-1", "POST", f"/contracts/{C}/receipts",
     {"json": {"payer": "ube", "amount": {"amount": str(2**63 - 1), "currency": "JPY"},
               "received_on": "2020-05-20", "reference": "FY2019"}}, 422, "AMOUNT_TOO_LARGE"),
    ("amount 2^63 (a 500 before)", "POST", f"/contracts/{C}/grant-receipts",
     {"json": {"payer": "ube", "amount": {"amount": str(2**63), "currency": "JPY"},
               "received_on": "2020-05-20", "reference": "交付決定"}}, 422, "AMOUNT_TOO_LARGE"),
    ("a posting of 10^15 + 1", "POST", f"/ledger/books/{C}/entries",
     {"json": {"kind": "x", "effective_on": "2020-05-20", "postings": [
         {"account": "cash", "side": "D", "amount": {"amount": str(10**15 + 1),
                                                     "currency": "JPY"}},
         {"account": "cash", "side": "C", "amount": {"amount": str(10**15 + 1),
                                                     "currency": "JPY"}}]}},
     422, "AMOUNT_TOO_LARGE"),
    ("an entry dated 9999-12-31 (posted before)", "POST", f"/ledger/books/{C}/entries",
     {"json": {"kind": "x", "effective_on": "9999-12-31", "postings": [
         {"account": "cash", "side": "D", "amount": {"amount": "1", "currency": "JPY"}},
         {"account": "cash", "side": "C", "amount": {"amount": "1", "currency": "JPY"}}]}},
     422, "DATE_OUT_OF_RANGE"),
    ("a receipt dated 9999-12-31", "POST", f"/contracts/{C}/receipts",
     {"json": {"payer": "ube", "amount": {"amount": "1", "currency": "JPY"},
               "received_on": "9999-12-31", "reference": "FY2019"}}, 422, "DATE_OUT_OF_RANGE"),
    ("KPI value 1E+100000", "POST", f"/contracts/{C}/kpi-results",
     {"json": {"fiscal_year": 2019, "kpi": "participants", "value": "1E+100000"}}, 422,
     "VALUE_INVALID"),
    ("KPI value １２３４", "POST", f"/contracts/{C}/kpi-results",
     {"json": {"fiscal_year": 2019, "kpi": "participants", "value": "１２３４"}}, 422,
     "VALUE_INVALID"),
    ("KPI value 3e3", "POST", f"/contracts/{C}/kpi-results",
     {"json": {"fiscal_year": 2019, "kpi": "participants", "value": "3e3"}}, 422,
     "VALUE_INVALID"),
    ("holder code ../../etc/passwd", "POST", "/holders",
     {"json": {"code": "../../etc/passwd", "kind": "individual", "name_kanji": "x"}}, 422,
     "CODE_INVALID"),
    ("holder code with a zero-width space", "POST", "/holders",
     {"json": {"code": "citizen\u200b001", "kind": "individual", "name_kanji": "x"}}, 422,
     "CODE_INVALID"),
    ("holder code with an RTL override", "POST", "/holders",
     {"json": {"code": "citizen\u202e100", "kind": "individual", "name_kanji": "x"}}, 422,
     "CODE_INVALID"),
    ("holder address of 5,000 characters", "POST", "/holders",
     {"json": {"code": "citizen-010", "kind": "individual", "name_kanji": "x",
               "address": "住" * 5000}}, 422, "TEXT_TOO_LONG"),
]

UPLOADS: list[tuple[str, str, str | None, int, str]] = [
    # (name, file of the corpus, upload name, status, code)
    ("cp932 CSV: decoded, its bad value named", "cp932-bad-value.csv", None, 422,
     "VALUE_INVALID"),
    ("UTF-16 CSV", "utf16.csv", None, 422, "FILE_ENCODING_UNSUPPORTED"),
    ("binary CSV", "binary.csv", None, 422, "FILE_NOT_CSV"),
    ("an old .xls workbook", "results.xls", None, 422, "XLS_NOT_SUPPORTED"),
    ("a CSV renamed .xlsx", "fake.xlsx", None, 422, "FILE_NOT_XLSX"),
    ("an xlsx unpacking to 30 MB", "bomb.xlsx", None, 422, "FILE_TOO_LARGE"),
    ("CSV of 5,001 rows", "too-many-rows.csv", None, 422, "FILE_TOO_MANY_ROWS"),
    ("a file over 2 MB", "too-large.csv", None, 422, "FILE_TOO_LARGE"),
    ("an upload over the body limit", "huge.csv", None, 413, "BODY_TOO_LARGE"),
    ("a file named ../../x.csv", "fullwidth-value.csv", "../../x.csv", 422, "VALUE_INVALID"),
]


def _check_refused(world: World, response: Any, status: int, code: str,
                   before: dict[str, int]) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert code in [body["code"]] + [e["code"] for e in body["errors"]], body
    assert "Traceback" not in response.text
    assert world.rows() == before


@pytest.mark.parametrize("method, path, request_, status, code",
                         [case[1:] for case in API_CASES], ids=[c[0] for c in API_CASES])
def test_the_service_refuses_by_name(world, method, path, request_, status, code):
    before = world.rows()
    headers = {"Authorization": f"Bearer {world.token}", "Idempotency-Key": f"corpus-{code}",
               "Content-Type": "application/json"}
    response = world.client.request(method, path, headers=headers, **request_)
    _check_refused(world, response, status, code, before)


@pytest.mark.parametrize("file, name, status, code", [u[1:] for u in UPLOADS],
                         ids=[u[0] for u in UPLOADS])
def test_the_service_refuses_a_bad_upload_by_name(world, file, name, status, code):
    before = world.rows()
    data = (world.files / file).read_bytes()
    response = world.client.post("/kpi-results/upload", files={"file": (name or file, data)},
                                 headers={"Authorization": f"Bearer {world.token}",
                                          "Idempotency-Key": f"corpus-upload-{file}"})
    _check_refused(world, response, status, code, before)


def test_the_corpus_has_at_least_sixty_cases():
    assert len(CLI_CASES) + len(API_CASES) + len(UPLOADS) >= 60


# --------------------------------------------------------------------------- unmigrated

def test_a_command_on_an_unmigrated_database_says_to_run_db_upgrade(tmp_path, monkeypatch):
    """Before: a "no such table" traceback from every command run before `sib db upgrade`."""
    url = f"sqlite:///{tmp_path / 'new.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        for args in (["ledger", "books"], ["contract", "list"], ["kpi", "list", "-c", C],
                     ["holder", "list"], ["ledger", "verify"],
                     ["contract", "load", str(CONTRACT_FILE)]):
            result = runner.invoke(app, args)
            assert result.exit_code == 1, result.output
            assert "DATABASE_NOT_MIGRATED" in result.output and "sib db upgrade" in \
                result.output, result.output
            assert "Traceback" not in result.output
        with TestClient(create_app(url), raise_server_exceptions=False) as client:
            response = client.get("/contracts", headers={"Authorization": "Bearer x"})
        assert (response.status_code, response.json()["code"]) == (503,
                                                                   "DATABASE_NOT_MIGRATED")
        assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
        assert runner.invoke(app, ["ledger", "books"]).exit_code == 0
    finally:
        get_settings.cache_clear()
        for key in [k for k in db._engines if k.startswith(url)]:
            db._engines.pop(key).dispose()


# --------------------------------------------------------------------------- ordinary input

def _import(world: World, tmp_path: Path, name: str, data: bytes) -> Any:
    path = tmp_path / name
    path.write_bytes(data)
    return runner.invoke(app, ["kpi", "import", str(path), "--by", "lab", "--json"])


@pytest.mark.parametrize("encoding", ["cp932", "utf-8-sig", "utf-8"])
def test_a_csv_saved_by_excel_in_japan_is_imported(world, tmp_path, encoding):
    """Before: a cp932 CSV ended in a UnicodeDecodeError traceback. The payer column holds the
    city's name in kanji here only to prove the decoding: it is refused as an unknown payer
    with the name read back intact, while the participants row goes in."""
    year = {"cp932": 2020, "utf-8-sig": 2021, "utf-8": 2022}[encoding]  # one result each
    text = (HEADER + f"{C},{year},participants,,7000\n"
            f"{C},{year},continuation-rate,宇部市,68.5\n")
    result = _import(world, tmp_path, f"results-{encoding}.csv", text.encode(encoding))
    assert result.exit_code == 1 and "PAYER" in result.output and "宇部市" in result.output, \
        result.output
    text = HEADER + f"{C},{year},participants,,7000\n"
    result = _import(world, tmp_path, f"ok-{encoding}.csv", text.encode(encoding))
    assert result.exit_code == 0, result.output
    assert '"value": "7000"' in result.output and f'"fiscal_year": {year}' in result.output


@pytest.mark.parametrize("typed", ["2020-03-31", "2020/03/31", "2020/3/31", "令和2年3月31日",
                                   "2020年3月31日"])
def test_a_date_is_typed_as_a_person_in_japan_writes_it(world, typed):
    """Before: ValueError: Invalid isoformat string: '2020/05/20'. Each spelling of 31 March
    2020 gives the same trial balance as the ISO date."""
    iso = runner.invoke(app, ["ledger", "trial-balance", "--book", C, "--as-of", "2020-03-31",
                              "--json"])
    typed_result = runner.invoke(app, ["ledger", "trial-balance", "--book", C, "--as-of",
                                       typed, "--json"])
    assert typed_result.exit_code == 0, typed_result.output
    assert typed_result.output == iso.output


def test_a_kpi_upload_is_imported_off_the_event_loop():
    """Issue 14, 'a 100k-row KPI CSV freezes the whole server': besides the row and size
    limits, the upload endpoint is a plain function, which the server runs in its thread pool
    (an async one ran the whole import on the event loop, holding up every other request)."""
    import inspect

    from api.routes.settlement import upload
    assert not inspect.iscoroutinefunction(upload)
