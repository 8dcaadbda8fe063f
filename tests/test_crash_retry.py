"""Crash and retry of the money commands (issue 14, item 5 and acceptance 2).

The five-municipality contract is told through FY2020 and up to the audit of FY2021's results
(:mod:`api.demo`), once. FY2021 then goes through the commands a finance team runs, each a
step of a chain: ``sib settle``, ``sib money service``, ``sib money distribute``,
``sib holder pay`` and ``sib statements``. Each step starts from a copy of the database as the
clean run of the steps before it left it, and is killed in the middle:

* the database commands at a random SQL statement (``SIB_FAULT_AFTER_STATEMENTS``, see
  :mod:`api.db`: the process exits at once, with no rollback, as under SIGKILL), some kill
  points beyond the last statement so that the command completes and the rerun is a retry of
  a completed run;
* ``sib statements`` (its work after the reads is writing PDF files, in worker processes) by
  SIGKILL to its whole process group at a random moment.

After each kill: ``sib ledger verify`` is OK; nothing is partial (every entry balances, every
settlement run has its entries, every receipt application its distribution's entries, every
holder payment its entry, every PDF under its final name is whole); the same command run
again exits 0; and the final state equals the clean run's.

``SIB_KILL_TRIALS`` sets the trials per command (default 2; the slow set runs 20).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
TRIALS = int(os.environ.get("SIB_KILL_TRIALS", "2"))  # the slow set: SIB_KILL_TRIALS=20
C = "sib-2019-five-municipalities"
YEAR = 2021
PAID_ON = "2022-05-20"  # the municipalities pay FY2021 (a Friday)
WATERFALL_ON = "2022-05-30"  # the waterfall runs at the end of May (a Monday)

# The chain of FY2021: each step's command, run on what the steps before it left.
STEPS: list[tuple[str, list[str]]] = [
    ("settle", ["settle", "-c", C, "-y", str(YEAR)]),
    ("service", ["money", "service", "-c", C, "--through", WATERFALL_ON]),
    ("distribute", ["money", "distribute", "-c", C, "--on", WATERFALL_ON,
                    "--reference", f"FY{YEAR}"]),
    ("holder-pay", ["holder", "pay", "-c", C, "--on", WATERFALL_ON]),
    ("statements", ["statements", "-c", C, "-y", str(YEAR), "--lang", "ja",
                    "--processes", "2", "--generated-at", "2022-06-01T09:00:00+09:00"]),
]
SIB = [sys.executable, "-m", "api.cli"]

# Counts the SQL statements of one clean run of a command (to choose kill points among them).
_COUNTING = """
import atexit, sys
from sqlalchemy import Engine, event
seen = [0]
event.listen(Engine, "before_cursor_execute", lambda *a: seen.__setitem__(0, seen[0] + 1))
atexit.register(lambda: print(f"STATEMENTS {seen[0]}", file=sys.stderr))
sys.argv = ["sib", *sys.argv[1:]]
from api.cli import main
main()
"""

# What must be equal after a crash and a rerun and after a clean run: the books and what
# decides money. Moments of writing (``*_at``, ``settled_on``) and the hash chain (it covers
# the moment an entry was recorded) differ between runs by nature.
COMPARED_TABLES = ("ledger_entry", "ledger_posting", "ledger_balance", "ledger_period",
                   "settlement_run", "settlement_line", "settlement_receipt_application",
                   "investor_payment")
MOMENT_COLUMNS = {"settled_on", "prev_hash", "hash"}


def _env(path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SIB_FAULT_AFTER_STATEMENTS"}
    return {**env, "DATABASE_URL": f"sqlite:///{path}", **extra}


def _sib(path: Path, args: list[str], **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SIB, *args], env=_env(path, **extra), cwd=ROOT,
                          capture_output=True, text=True)


def _copy(source: Path, target: Path) -> Path:
    """A consistent copy of a SQLite database (its WAL included)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
    return target


@contextmanager
def _database(url: str) -> Iterator[None]:
    from api.settings import get_settings
    before = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = before
        get_settings.cache_clear()


def _state(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every compared table's rows, without the moments of writing."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with closing(sqlite3.connect(path)) as con:
        for table in COMPARED_TABLES:
            columns = [row[1] for row in con.execute(f"PRAGMA table_info({table})")]
            kept = [c for c in columns if not c.endswith("_at") and c not in MOMENT_COLUMNS]
            out[table] = con.execute(f"SELECT {', '.join(kept)} FROM {table} "
                                     "ORDER BY 1, 2").fetchall()
    return out


def _partial(path: Path) -> list[str]:
    """What a half-done command could leave: each finding names the record."""
    found: list[str] = []
    with closing(sqlite3.connect(path)) as con:
        found += [f"entry {e} does not balance" for (e,) in con.execute(
            "SELECT entry_id FROM ledger_posting GROUP BY entry_id HAVING "
            "SUM(CASE side WHEN 'D' THEN amount_minor ELSE -amount_minor END) != 0")]
        found += [f"entry {e} has no postings" for (e,) in con.execute(  # a void has none
            "SELECT id FROM ledger_entry WHERE status != 'voided' AND id NOT IN "
            "(SELECT entry_id FROM ledger_posting)")]
        links = [json.loads(text) for (text,) in con.execute("SELECT links FROM ledger_entry")]
        runs = {link.get("run") for link in links} | {link.get("settlement_run")
                                                        for link in links}
        found += [f"settlement run {r} has no entries" for (r,) in con.execute(
            "SELECT id FROM settlement_run") if r not in runs]
        keys = [k for (k,) in con.execute("SELECT idempotency_key FROM ledger_entry")]
        found += [f"receipt application of {d} has no entries of its distribution"
                  for (d,) in con.execute("SELECT DISTINCT distribution_key FROM "
                                          "settlement_receipt_application")
                  if not any(k.startswith(f"{d}:") for k in keys)]
        found += [f"holder payment {p} has no entry" for (p,) in con.execute(
            "SELECT id FROM investor_payment WHERE kind != 'write_down' AND (entry_id IS NULL "
            "OR entry_id NOT IN (SELECT id FROM ledger_entry))")]
    return found


def _documents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.pdf"))}


def _truncated(folder: Path) -> list[str]:
    return [name for name, data in _documents(folder).items()
            if not (data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF"))]


class Chain:
    """The starting database of each step, its clean result and its statement count."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.before: dict[str, Path] = {}
        self.after: dict[str, Path] = {}
        self.statements: dict[str, int] = {}
        self.documents: dict[str, bytes] = {}


def _build_chain(folder: Path) -> Chain:
    from api import demo
    chain = Chain(folder)
    start = folder / "start.db"
    with _database(f"sqlite:///{start}"):
        demo.fresh_database()
        demo.set_up()
        summary: list[tuple[object, ...]] = []
        for year in (2019, 2020):
            demo.run_year(year, folder / "demo-out", summary)
        demo.sell_units()
        from api import db
        from settlement.payments import pay_fixed_fees
        with db.unit_of_work() as s:
            pay_fixed_fees(s, C, YEAR, date(YEAR, 9, 30))
        demo.evaluate(YEAR)
    current = start
    for name, args in STEPS:
        chain.before[name] = _copy(current, folder / f"before-{name}.db")
        after = _copy(current, folder / f"after-{name}.db")
        extra = _out(args, folder / f"clean-{name}")
        counted = subprocess.run([sys.executable, "-c", _COUNTING, *args, *extra],
                                 env=_env(after), cwd=ROOT, capture_output=True, text=True)
        assert counted.returncode == 0, (name, counted.stderr[-3000:])
        chain.statements[name] = int(counted.stderr.rsplit("STATEMENTS ", 1)[1].split()[0])
        if name == "settle":
            _pay_what_is_owed(after)
        chain.after[name] = after
        current = after
    chain.documents = _documents(folder / "clean-statements")
    return chain


def _out(args: list[str], folder: Path) -> list[str]:
    return ["--out", str(folder)] if args[0] == "statements" else []


def _pay_what_is_owed(path: Path) -> None:
    """Each municipality pays what it owes after FY2021's settlement (not a step under test)."""
    from api import db
    from contracts.store import get_contract
    from settlement.payments import account_totals, record_payment
    with _database(f"sqlite:///{path}"), db.unit_of_work() as s:
        for payer in get_contract(s, C).payer_ids:
            debits, credits = account_totals(s, C, f"receivable:{payer}")
            if debits > credits:
                record_payment(s, C, payer, debits - credits, date.fromisoformat(PAID_ON),
                               f"FY{YEAR}")
    for engine in list(db._engines.values()):
        engine.dispose()
    db._engines.clear()


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> Chain:
    return _build_chain(tmp_path_factory.mktemp("crash-retry"))


def _verified(path: Path) -> list[str]:
    """What ``sib ledger verify`` finds (in-process: the same function, without a start-up)."""
    from sqlmodel import Session

    from api.db import make_engine
    from ledger.verify import verify
    engine = make_engine(f"sqlite:///{path}")
    try:
        with Session(engine) as session:
            return [str(p) for p in verify(session, None).problems]
    finally:
        engine.dispose()


def _check_after(path: Path, trial: str) -> None:
    assert _verified(path) == [], trial
    assert _partial(path) == [], trial


def _kill_at_statement(chain: Chain, name: str, args: list[str], trial: int,
                       rng: random.Random, tmp_path: Path) -> None:
    path = _copy(chain.before[name], tmp_path / f"{name}-{trial}.db")
    total = chain.statements[name]
    point = rng.randint(1, total + max(total // 10, 2))  # some beyond the end: a completed run
    label = f"{name} trial {trial}: killed before statement {point} of {total}"
    killed = _sib(path, args, SIB_FAULT_AFTER_STATEMENTS=str(point))
    assert killed.returncode in (137, 0), (label, killed.stderr[-2000:])
    _check_after(path, label)
    rerun = _sib(path, args)
    assert rerun.returncode == 0, (label, rerun.stdout[-2000:], rerun.stderr[-2000:])
    _check_after(path, label)
    if name == "settle":  # the payments that follow settlement, as in the clean chain
        _pay_what_is_owed(path)
    assert _state(path) == _state(chain.after[name]), label


@pytest.mark.slow
@pytest.mark.parametrize("name", ["settle", "service", "distribute", "holder-pay"])
def test_a_money_command_killed_at_a_random_statement_reruns_to_the_clean_state(
        chain, name, tmp_path):
    args = dict(STEPS)[name]
    rng = random.Random(f"crash-{name}")
    for trial in range(TRIALS):
        _kill_at_statement(chain, name, args, trial, rng, tmp_path)


@pytest.mark.slow
def test_sib_statements_killed_at_random_moments_leaves_no_truncated_pdf(chain, tmp_path):
    args = dict(STEPS)["statements"]
    rng = random.Random("crash-statements")
    path = _copy(chain.before["statements"], tmp_path / "statements.db")
    for trial in range(TRIALS):
        out = tmp_path / f"out-{trial}"
        process = subprocess.Popen([*SIB, *args, "--out", str(out)], env=_env(path), cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        time.sleep(rng.uniform(0.5, 8.0))
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        label = f"statements trial {trial}"
        assert _truncated(out) == [] if out.exists() else True, label
        rerun = _sib(path, [*args, "--out", str(out)])
        assert rerun.returncode == 0, (label, rerun.stderr[-2000:])
        assert _documents(out) == chain.documents, label
    _check_after(path, "statements")
    assert _state(path) == _state(chain.after["statements"])
    verified = _sib(path, ["ledger", "verify"])  # and as a user runs it
    assert verified.returncode == 0 and "ledger verified: OK" in verified.stdout


# --------------------------------------------------------------------------- retries

def _entries(path: Path) -> int:
    with closing(sqlite3.connect(path)) as con:
        return int(con.execute("SELECT COUNT(*) FROM ledger_entry").fetchone()[0])


def _paid(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(a["step"], a["instrument"], a["party"], a["paid"]) for a in data["allocations"]]


def test_a_distribution_run_again_answers_already_done_with_what_it_paid(chain, tmp_path):
    """Before: ALREADY_DISTRIBUTED, exit 1. The repeat now reports the receipts the first run
    applied and what it paid, exit 0, and posts nothing."""
    path = _copy(chain.before["distribute"], tmp_path / "sib.db")
    args = [*dict(STEPS)["distribute"], "--json"]
    first = _sib(path, args)
    assert first.returncode == 0, first.stderr
    posted = _state(path)
    again = _sib(path, args)
    assert again.returncode == 0, again.stderr
    original, repeat = json.loads(first.stdout), json.loads(again.stdout)
    assert repeat["already_distributed"] is True
    assert repeat["applied"] == original["applied"]
    assert repeat["available"] == original["available"] == {"amount": "41599709",
                                                             "currency": "JPY"}
    assert _paid(repeat) == [(a, i, p, paid) for a, i, p, paid in _paid(original)
                             if paid["amount"] != "0"]
    assert _state(path) == posted
    text = _sib(path, dict(STEPS)["distribute"])
    assert text.returncode == 0 and "already posted — nothing changed" in text.stdout
    other_day = _sib(path, ["money", "distribute", "-c", C, "--on", "2022-05-31",
                            "--reference", f"FY{YEAR}"])  # not a repeat: still refused
    assert other_day.returncode == 1 and "NOTHING_TO_DISTRIBUTE" in other_day.stderr


def test_a_payment_recorded_again_answers_already_recorded(chain, tmp_path):
    """Before: PAYMENT_EXCEEDS_DUE, exit 1, for the very payment already recorded."""
    path = _copy(chain.after["settle"], tmp_path / "sib.db")
    with closing(sqlite3.connect(path)) as con:
        (amount,) = con.execute(
            "SELECT p.amount_minor FROM ledger_posting p JOIN ledger_entry e ON e.id = "
            "p.entry_id WHERE e.kind = 'outcome_receipt' AND p.side = 'D' AND e.links LIKE "
            "'%\"payer\":\"ube\"%' AND e.links LIKE '%\"reference\":\"FY2021\"%'").fetchone()
    before = _state(path)
    args = ["money", "receive", "-c", C, "--payer", "ube", "--on", PAID_ON,
            "--reference", f"FY{YEAR}"]
    again = _sib(path, [*args, "--amount", str(amount)])
    assert again.returncode == 0, again.stderr
    assert f"payment of {amount:,} from ube already recorded — nothing changed" in again.stdout
    assert _state(path) == before
    more = _sib(path, [*args, "--amount", str(amount + 1)])  # not the same payment: refused
    assert more.returncode == 1 and "PAYMENT_EXCEEDS_DUE" in more.stderr
    assert _state(path) == before


def test_a_year_closed_again_answers_already_closed(chain, tmp_path):
    """Before: PERIOD_ALREADY_CLOSED, exit 1. FY2020 (closed by the demo) and FY2021 (closed
    here, then again) answer "already closed" with the year's pack, exit 0, nothing written."""
    path = _copy(chain.after["holder-pay"], tmp_path / "sib.db")
    closed = _sib(path, ["close", "-c", C, "-y", str(YEAR), "--by", "twr", "--json"])
    assert closed.returncode == 0, closed.stderr
    for year in (2020, YEAR):
        entries = _entries(path)
        again = _sib(path, ["close", "-c", C, "-y", str(year), "--by", "twr", "--json"])
        assert again.returncode == 0, again.stderr
        pack = json.loads(again.stdout)
        assert pack["already_closed"] is True and pack["fiscal_year"] == year
        assert _entries(path) == entries
    assert pack["payers"] == json.loads(closed.stdout)["payers"]
    text = _sib(path, ["close", "-c", C, "-y", str(YEAR)])
    assert text.returncode == 0 and "was already closed — nothing changed" in text.stdout


def test_settle_service_and_holder_pay_run_again_answer_already_done(chain, tmp_path):
    """These were idempotent already: the repeat of a completed run exits 0 and changes
    nothing."""
    for name in ("settle", "service", "holder-pay"):
        path = _copy(chain.before[name], tmp_path / f"{name}.db")
        first = _sib(path, dict(STEPS)[name])
        assert first.returncode == 0, first.stderr
        posted = _state(path)
        again = _sib(path, dict(STEPS)[name])
        assert again.returncode == 0, again.stderr
        if name == "settle":
            assert "already posted — nothing changed" in again.stdout
        assert _state(path) == posted
