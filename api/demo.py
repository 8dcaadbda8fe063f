"""``make demo``: the founding five-municipality SIB, told through the ledger.

Creates the database through the migrations (a fresh SQLite file under ``var/`` unless
``DATABASE_URL`` points elsewhere), opens the project book, draws the five bank loans, receives
the national grant, prints the trial balance and ends with ``sib ledger verify``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from moneyed import Money

from api import db
from api.settings import get_settings
from ledger.entries import EntryDraft, credit, debit
from ledger.service import AccountSpec, create_book, open_account, post_entry

BOOK = "sib-2019-spv"

# Illustrative figures: the real loan amounts and grant are not public.
BANKS = [("yamaguchi", "山口銀行", "The Yamaguchi Bank", 30_000_000),
         ("tohoku", "東北銀行", "The Tohoku Bank", 10_000_000),
         ("kyoto", "京都銀行", "The Bank of Kyoto", 15_000_000),
         ("kagoshima", "鹿児島銀行", "The Kagoshima Bank", 12_000_000),
         ("saitama-resona", "埼玉りそな銀行", "Saitama Resona Bank", 8_000_000)]
PAYERS = [("ube", "宇部市", "Ube City"), ("tono", "遠野市", "Tono City"),
          ("yawata", "八幡市", "Yawata City"), ("ibusuki", "指宿市", "Ibusuki City"),
          ("misato", "美里町", "Misato Town")]


def fresh_database() -> str:
    """The settings' database; the default SQLite file is recreated so the demo starts clean."""
    url = get_settings().database_url
    if url.startswith("sqlite:///") and "DATABASE_URL" not in os.environ:
        path = Path(url.split("///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    db.upgrade(url)
    return url


def open_project_book() -> None:
    """The SPV's book with cash, a payable per bank, a receivable per payer, the grant."""
    with db.unit_of_work() as session:
        create_book(session, BOOK, "JPY", "5市町連携SIB 特別目的会社", "Five-municipality SIB 2019 SPV")
        opened = date(2019, 4, 1)
        specs = [AccountSpec("cash", "asset", "現金預金", "Cash at bank", opened_on=opened,
                             credits_must_not_exceed_debits=True),
                 AccountSpec("loans", "liability", "借入金", "Bank loans", opened_on=opened),
                 AccountSpec("receivable", "asset", "未収金", "Receivables", opened_on=opened),
                 AccountSpec("grant-income", "income", "交付金収入",
                             "Regional revitalisation grant income", opened_on=opened)]
        specs += [AccountSpec(f"loans:{code}", "liability", f"借入金 {ja}", f"Loan — {en}",
                              parent="loans", opened_on=opened, party_ref=f"lender:{code}")
                  for code, ja, en, _ in BANKS]
        specs += [AccountSpec(f"receivable:{code}", "asset", f"未収金 {ja}", f"Receivable — {en}",
                              parent="receivable", opened_on=opened, party_ref=f"payer:{code}")
                  for code, ja, en in PAYERS]
        for spec in specs:
            open_account(session, BOOK, spec)


def post_funding() -> None:
    """The loan drawdowns on 1 July 2019 and the grant received on 31 July 2019."""
    with db.unit_of_work() as session:
        for code, ja, en, amount in BANKS:
            post_entry(session, EntryDraft(
                BOOK, f"demo:drawdown:{code}", "loan_drawdown", date(2019, 7, 1),
                [debit("cash", Money(amount, "JPY")), credit(f"loans:{code}", Money(amount, "JPY"))],
                f"Loan drawdown — {en} / {ja} 借入実行", {"lender": code}))
        post_entry(session, EntryDraft(
            BOOK, "demo:grant:fy2019", "grant_receipt", date(2019, 7, 31),
            [debit("cash", Money(20_000_000, "JPY")), credit("grant-income", Money(20_000_000, "JPY"))],
            "地方創生推進交付金 FY2019 / Regional revitalisation grant", {"grant": "chihou-sousei"}))


def run_cli(*args: str) -> int:
    """Run the ``sib`` command line as a user would, echoing it."""
    print(f"\n$ sib {' '.join(args)}", flush=True)
    return subprocess.call([sys.executable, "-m", "api.cli", *args])


def main() -> int:
    url = fresh_database()
    print(f"database: {url} (migrated to head)")
    open_project_book()
    post_funding()
    status = run_cli("ledger", "trial-balance", "--book", BOOK)
    status |= run_cli("ledger", "verify")
    return status


if __name__ == "__main__":
    sys.exit(main())
