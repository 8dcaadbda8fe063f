"""The end-to-end story of ``make demo`` on a fresh database, and what it must leave behind:
every document kind in both languages, the settlement pack, a verified ledger — and investor
statements that add up to the ledger's distributions, byte-identical when written again."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session

from api.db import make_engine
from investors import documents
from investors.batch import jobs_for_year, write_documents
from settlement.payments import account_totals

ROOT = Path(__file__).resolve().parent.parent
C = "sib-2019-five-municipalities"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp / 'demo.db'}",
               SIB_OUT_DIR=str(tmp / "out"))
    result = subprocess.run([sys.executable, "-m", "api.demo"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return tmp, result.stdout


def test_the_demo_ends_with_the_ledger_verified(demo):
    _, output = demo
    assert "verified: OK" in output
    assert "Five years of the five-municipality SIB" in output


def test_every_document_kind_in_both_languages_and_the_pack(demo):
    tmp, _ = demo
    for year in range(2019, 2024):
        folder = tmp / "out" / f"FY{year}"
        for kind in ("lenders", "notices", "year-end"):
            for lang in ("ja", "en"):
                assert list((folder / kind).glob(f"*.{lang}.pdf")), (year, kind, lang)
        assert (folder / f"settlement-pack-FY{year}.xlsx").stat().st_size > 0
    for lang in ("ja", "en"):
        assert len(list((tmp / "out" / "FY2023" / "investors").glob(f"*.{lang}.pdf"))) == 120
    assert len(list((tmp / "out" / "zengin").glob("*.txt"))) == 5


def test_investor_statements_add_up_to_the_ledgers_distributions(demo):
    tmp, _ = demo
    engine = make_engine(f"sqlite:///{tmp / 'demo.db'}")
    with Session(engine) as session:
        ctx = documents.context(session, C, 2024)
        statements = documents.investor_statements(session, ctx)
        gross = sum(s.capital_account.distributions_gross_minor for s in statements)
        debits_in_year = account_totals(session, C, "distributions-payable:citizen-units",
                                        None, date(2025, 3, 31))[0] - account_totals(
            session, C, "distributions-payable:citizen-units", None, date(2024, 3, 31))[0]
        assert gross == debits_in_year and gross > 0
        jobs = [j for j in jobs_for_year(session, C, 2023, ("ja",))
                if j.document.kind == "investor_statement"][:5]
    engine.dispose()
    write_documents(jobs, tmp / "again", processes=1)
    for job in jobs:
        assert (tmp / "again" / job.path).read_bytes() == \
            (tmp / "out" / "FY2023" / job.path).read_bytes()
