"""The portal through Chromium (issue 15): each role signs in and sees only its own objects,
the intermediary runs a fiscal year from KPI import to the holders' payments and the books
equal the same year run through the CLI, a finance officer approves its notice, a what-if
changes the figures shown and writes nothing, a form without its CSRF token is refused, and
every page and /docs render with every request off 127.0.0.1 blocked. Screenshots of each
role's main page go to out/screens/."""

from __future__ import annotations

import os
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from tests.browser.conftest import SCREENS, Portal, add_users, copy_sqlite, serve

pytestmark = pytest.mark.browser

C = "sib-2019-five-municipalities"
PAYERS = ("ube", "tono", "yawata", "ibusuki", "misato")
EVALUATOR = "tsukuba-kuno-lab"
USERS = [("fo-ube", "finance_officer", "ube"), ("fo-tono", "finance_officer", "tono"),
         ("fo-yawata", "finance_officer", "yawata"),
         ("fo-ibusuki", "finance_officer", "ibusuki"),
         ("fo-misato", "finance_officer", "misato"),
         ("bank-yamaguchi", "lender", "yamaguchi-bank"), ("twr", "intermediary", None),
         ("inv-001", "investor", "citizen-001"), ("auditor1", "auditor", None),
         ("eval-a", "evaluator", EVALUATOR), ("eval-b", "evaluator", EVALUATOR)]
MAIN_PAGES = {"fo-ube": "/portal/payer", "bank-yamaguchi": "/portal/bank",
              "twr": "/portal/workflow?fy=2023", "inv-001": "/portal/investor",
              "auditor1": "/portal/audit", "eval-a": "/portal/kpi?fy=2023"}


def offline_context(browser, base: str):  # noqa: ANN001, ANN201
    """A browser context in which every request off 127.0.0.1 is aborted and recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    outbound: list[str] = []

    def route(request_route) -> None:  # noqa: ANN001
        url = request_route.request.url
        if url.startswith(base) or url.startswith("data:") or url.startswith("blob:"):
            request_route.continue_()
        else:
            outbound.append(url)
            request_route.abort()
    context.route("**/*", route)
    context.outbound = outbound  # type: ignore[attr-defined]
    return context


@pytest.fixture(scope="module")
def demo_portal(demo_story, tmp_path_factory):  # noqa: ANN001, ANN201
    """The demo's five years (a copy of its database) with a user per role, served."""
    from api.settings import get_settings
    folder = tmp_path_factory.mktemp("portal")
    url = copy_sqlite(demo_story[0], folder / "demo.db")
    tokens = add_users(url, USERS)
    before = os.environ.get("SIB_OUT_DIR")
    os.environ["SIB_OUT_DIR"] = str(folder / "out")  # where a statements job writes
    get_settings.cache_clear()
    try:
        for base in serve(url):
            yield Portal(base, url, tokens)
    finally:
        if before is None:
            os.environ.pop("SIB_OUT_DIR", None)
        else:
            os.environ["SIB_OUT_DIR"] = before
        get_settings.cache_clear()


def _status(page, url: str) -> int:  # noqa: ANN001
    response = page.goto(url)
    assert response is not None
    return response.status


def test_each_role_sees_its_own_and_another_partys_object_is_404(browser, demo_portal):
    p = demo_portal
    SCREENS.mkdir(parents=True, exist_ok=True)
    for username, main in MAIN_PAGES.items():
        context = offline_context(browser, p.base)
        page = context.new_page()
        p.sign_in(page, username)
        assert _status(page, p.base + main) == 200, username
        page.screenshot(path=str(SCREENS / f"{username}.png"), full_page=True)
        assert context.outbound == [], context.outbound
        context.close()
    checks = [
        ("fo-ube", f"/portal/payer/notice?contract={C}&fy=2021", 200),
        ("fo-ube", "/portal/bank", 403),
        # Tono's finance office is not the lead payer: Ube's notice is another party's. (Ube,
        # the lead, reads Tono's read-only by the contract's grant: test_lead_payer_view.py.)
        ("fo-tono", f"/portal/payer/notice?contract={C}&fy=2021&payer=ube", 404),
        ("fo-tono", f"/portal/files/notice.pdf?contract={C}&fy=2021&payer=ube", 404),
        ("bank-yamaguchi", f"/portal/bank?contract={C}&loan=loan-yamaguchi", 200),
        ("bank-yamaguchi", f"/portal/bank?contract={C}&loan=loan-tohoku", 404),
        ("bank-yamaguchi", f"/portal/files/confirmation.pdf?contract={C}&loan=loan-tohoku"
                           "&as_of=2022-03-31", 404),
        ("inv-001", f"/portal/files/investor.pdf?contract={C}&fy=2021&holder=citizen-002", 404),
        ("inv-001", f"/portal/files/investor.pdf?contract={C}&fy=2021", 200),
        ("inv-001", "/portal/audit", 403),
        ("auditor1", f"/portal/workflow?contract={C}", 403),
    ]
    context = browser.new_context()
    page = context.new_page()
    signed = None
    for username, url, status in checks:
        if username != signed:
            context.clear_cookies()
            p.sign_in(page, username)
            signed = username
        if url.startswith("/portal/files/"):
            response = page.request.get(p.base + url)
            assert response.status == status, (username, url)
        else:
            assert _status(page, p.base + url) == status, (username, url)
    context.close()


def test_signing_in_and_moving_about_needs_only_the_keyboard(browser, demo_portal):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{demo_portal.base}/portal/signin")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"  # skip to content
    page.locator("#username").focus()
    page.keyboard.type("fo-ube")
    page.keyboard.press("Tab")
    page.keyboard.type(demo_portal.tokens["fo-ube"])
    page.keyboard.press("Enter")
    page.wait_for_url("**/portal/payer")
    # Every input of every form has its label.
    page.goto(f"{demo_portal.base}/portal/payer/notice?contract={C}&fy=2023")
    for field in page.locator("input:not([type=hidden])").all():
        assert page.locator(f"label[for='{field.get_attribute('id')}']").count() == 1
    context.close()


def test_the_pages_switch_to_english(browser, demo_portal):
    context = browser.new_context()
    page = context.new_page()
    demo_portal.sign_in(page, "fo-ube")
    page.goto(f"{demo_portal.base}/portal/payer/notice?contract={C}&fy=2023")
    page.get_by_role("link", name="English").click()
    page.wait_for_load_state()
    assert page.get_by_role("button", name="Sign out").count() == 1
    assert page.locator("html").get_attribute("lang") == "en"
    assert "FY2023" in page.locator("h1").inner_text()
    context.close()


def test_a_finance_officer_sees_the_notices_figures(browser, demo_portal):
    """The notice page shows the amount the PDF states (both from the notice's data)."""
    from api.db import unit_of_work
    from investors import documents as docs
    with unit_of_work(demo_portal.db_url) as session:
        notice = docs.payment_notice(session, docs.context(session, C, 2021), "ube")
    context = browser.new_context()
    page = context.new_page()
    demo_portal.sign_in(page, "fo-ube")
    page.goto(f"{demo_portal.base}/portal/payer/notice?contract={C}&fy=2021")
    shown = page.locator("[data-figure=amount-due]").inner_text()
    assert shown == f"{notice.amount_due_minor:,}円"
    context.close()


def _ledger_rows(url: str) -> tuple[int, ...]:
    with sqlite3.connect(url.split("///", 1)[1]) as connection:
        return tuple(connection.execute(f"select count(*) from {t}").fetchone()[0]
                     for t in ("ledger_entry", "ledger_posting", "settlement_run",
                               "settlement_kpi_result", "api_idempotency"))


def test_a_what_if_changes_the_figures_and_writes_nothing(browser, demo_portal):
    context = browser.new_context()
    page = context.new_page()
    demo_portal.sign_in(page, "twr")
    page.goto(f"{demo_portal.base}/portal/workflow/preview?contract={C}&fy=2023")
    before_due = page.locator("[data-due=ube]").inner_text()
    rows = _ledger_rows(demo_portal.db_url)
    page.locator("#v-continuation-rate-ube").fill("50")
    page.get_by_role("button", name="試算する").click()
    page.wait_for_load_state()
    assert page.locator(".projection-badge").inner_text().startswith("試算")
    projected = page.locator("[data-projected-due=ube]").inner_text()
    assert projected != before_due
    assert page.locator("[data-projected-due=tono]").inner_text() == \
        page.locator("[data-due=tono]").inner_text()
    assert _ledger_rows(demo_portal.db_url) == rows
    context.close()


def test_the_intermediary_starts_the_statements_job_and_follows_it(browser, demo_portal):
    """Item 4 through the portal: the jobs' own service starts it; its page shows the
    progress read from the database and reloads itself until the job is done."""
    context = browser.new_context()
    page = context.new_page()
    demo_portal.sign_in(page, "twr")
    page.goto(f"{demo_portal.base}/portal/workflow?contract={C}&fy=2019")
    page.get_by_role("button", name="全書類を作成（バックグラウンド）").click()
    page.wait_for_load_state()
    assert "/portal/jobs/" in page.url
    page.wait_for_selector("#job-state[data-state=done]", timeout=120_000)
    assert page.locator("#job-progress").get_attribute("value") == \
        page.locator("#job-progress").get_attribute("max")
    page.reload()  # the progress is the database's: a reload shows it again
    assert page.locator("#job-state").get_attribute("data-state") == "done"
    context.close()


def test_a_form_without_its_csrf_token_is_refused(browser, demo_portal):
    context = browser.new_context()
    page = context.new_page()
    demo_portal.sign_in(page, "fo-ube")
    response = page.request.post(f"{demo_portal.base}/portal/payer/approve",
                                 form={"contract": C, "fy": "2023", "form_key": "x"})
    assert response.status == 403 and "CSRF_REFUSED" in response.text()
    response = page.request.post(f"{demo_portal.base}/portal/signout", form={"csrf": "forged"})
    assert response.status == 403
    context.close()


def test_every_page_and_the_docs_render_with_no_outbound_request(browser, demo_portal):
    p = demo_portal
    context = offline_context(browser, p.base)
    page = context.new_page()
    for path, ready in (("/docs", ".swagger-ui .info .title"), ("/redoc", "redoc h1"),
                        ("/docs/oauth2-redirect", "script")):
        assert _status(page, p.base + path) == 200
        page.wait_for_selector(ready, timeout=20_000, state="attached")
    pages = {"fo-ube": [f"/portal/payer?contract={C}",
                        f"/portal/payer/notice?contract={C}&fy=2023"],
             "bank-yamaguchi": [f"/portal/bank?contract={C}&fy=2021"],
             "twr": [f"/portal/workflow?contract={C}&fy=2023",
                     f"/portal/workflow/preview?contract={C}&fy=2023"],
             "inv-001": ["/portal/investor"], "auditor1": ["/portal/audit?action=settle"],
             "eval-a": ["/portal/kpi"]}
    for username, urls in pages.items():
        context.clear_cookies()
        p.sign_in(page, username)
        for url in urls:
            assert _status(page, p.base + url) == 200, url
            page.wait_for_load_state("networkidle")
            # Every style sheet and font came: the IPAex font is loaded for the Japanese text.
            assert page.evaluate("document.fonts.check('16px IPAexGothic')"), url
    assert context.outbound == [], context.outbound
    context.close()


# ------------------------------------------------------------ a year through the browser

@pytest.fixture(scope="module")
def fresh_pair(tmp_path_factory):  # noqa: ANN001, ANN201
    """Two identical databases at the start of FY2019 (contract loaded, loans drawn, fees
    paid, users added): one for the browser, one for the CLI."""
    from api import demo
    from api.db import unit_of_work, upgrade
    from api.settings import get_settings
    from settlement.payments import pay_fixed_fees
    folder = tmp_path_factory.mktemp("year")
    url = f"sqlite:///{folder / 'browser.db'}"
    before = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    try:
        upgrade(url)
        demo.set_up()
        with unit_of_work(url) as session:
            pay_fixed_fees(session, C, 2019, date(2019, 9, 30))
    finally:
        if before is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = before
        get_settings.cache_clear()
    tokens = add_users(url, USERS)
    cli_url = copy_sqlite(url, folder / "cli.db")
    return url, cli_url, tokens, folder


def _results_csv(folder: Path) -> Path:
    from api.demo import RESULTS
    contract_wide, per_payer = RESULTS[2019]
    lines = ["contract,fiscal_year,kpi,payer,value"]
    lines += [f"{C},2019,{k},,{v}" for k, v in contract_wide.items()]
    lines += [f"{C},2019,continuation-rate,{p},{v}" for p, v in per_payer.items()]
    path = folder / "results-2019.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _trial_balances(url: str) -> dict[str, list[tuple[str, int, int]]]:
    from api.db import unit_of_work
    from contracts.chart import payers_book_code
    from ledger.reports import trial_balance
    with unit_of_work(url) as session:
        return {book: [(r.code, r.debit_minor, r.credit_minor)
                       for r in trial_balance(session, book).rows]
                for book in (C, payers_book_code(C))}


def _sib(url: str, *args: str) -> str:
    """``sib ARGS`` on the database at ``url`` (in this process: the same commands, without
    starting an interpreter for each)."""
    from typer.testing import CliRunner

    from api.cli import app
    from api.settings import get_settings
    before = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    try:
        done = CliRunner().invoke(app, list(args))
    finally:
        if before is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = before
        get_settings.cache_clear()
    assert done.exit_code == 0, (args, done.output)
    return done.output


def _step_done(page, key: str) -> bool:  # noqa: ANN001
    return page.locator(f"#step-{key}").get_attribute("data-done") == "yes"


def test_a_year_through_the_browser_books_as_through_the_cli(browser, fresh_pair):
    url, cli_url, tokens, folder = fresh_pair
    results_file = _results_csv(folder)
    for base in serve(url):
        p = Portal(base, url, tokens)
        context = offline_context(browser, base)
        page = context.new_page()
        workflow = f"{base}/portal/workflow?contract={C}&fy=2019"
        # The evaluator imports the year's results; a second evaluator audits them.
        p.sign_in(page, "eval-a")
        page.goto(f"{base}/portal/kpi?contract={C}&fy=2019")
        page.get_by_label("ファイル（CSV/XLSX）").set_input_files(str(results_file))
        page.get_by_role("button", name="取込").click()
        page.wait_for_load_state()
        assert page.get_by_role("button", name="監査する").first.is_disabled()
        context.clear_cookies()
        p.sign_in(page, "eval-b")
        page.goto(f"{base}/portal/kpi?contract={C}&fy=2019")
        while page.get_by_role("button", name="監査する").count():
            page.get_by_role("button", name="監査する").first.click()
            page.wait_for_load_state()
        # The intermediary: the next step opens only once the one before is done.
        context.clear_cookies()
        p.sign_in(page, "twr")
        page.goto(workflow)
        assert _step_done(page, "kpi") and not _step_done(page, "settle")
        assert page.locator("#step-close button").count() == 0  # not before the settlement
        page.get_by_role("link", name="精算の試算").click()
        page.locator("details").first.click()  # a trace opens
        page.goto(workflow)
        page.locator("#step-settle button").click()
        page.wait_for_load_state()
        assert _step_done(page, "settle")
        page.locator("#step-close button").click()
        page.wait_for_load_state()
        assert _step_done(page, "close") and not _step_done(page, "approval")
        assert page.locator("#step-receipts form").count() == 0  # awaits the approvals
        # Each finance office inspects and approves its own notice.
        for payer in PAYERS:
            context.clear_cookies()
            p.sign_in(page, f"fo-{payer}")
            page.goto(f"{base}/portal/payer/notice?contract={C}&fy=2019")
            page.get_by_role("button", name="検査し承認する").click()
            page.wait_for_load_state()
            assert page.get_by_role("status").inner_text() == "検査・承認済"
            if payer == "ube":  # the Zengin file of the approved notice, to upload to its bank
                form = page.locator("form[action='/portal/files/zengin']")
                answer = page.request.get(f"{base}/portal/files/zengin", params={
                    "csrf": form.locator("input[name=csrf]").input_value(), "contract": C,
                    "on": form.locator("input[name=on]").input_value()})
                refused = page.request.get(f"{base}/portal/files/zengin", params={
                    "contract": C, "on": form.locator("input[name=on]").input_value()})
                assert refused.status == 403  # no CSRF token
                data = answer.body()
                assert answer.status == 200, answer.text()
                assert data[:1] == b"1" and len(data.replace(b"\r\n", b"")) % 120 == 0
        context.clear_cookies()
        p.sign_in(page, "twr")
        page.goto(workflow)
        assert _step_done(page, "approval")
        amounts = {}
        for payer in PAYERS:
            form = page.locator(f"#step-receipts form[data-payer={payer}]")
            amounts[payer] = int(form.locator("input[name=amount]").input_value())
            form.get_by_role("button").click()
            page.wait_for_load_state()
        assert _step_done(page, "receipts")
        page.locator("#step-waterfall button").click()
        page.wait_for_load_state()
        # Nobody holds units before FY2021: the holders' step is done with nothing to pay.
        assert page.locator("#step-holders button").count() == 0
        assert all(_step_done(page, key) for key in ("waterfall", "holders", "documents"))
        response = page.request.get(f"{base}/portal/files/year-end.pdf?contract={C}&fy=2019")
        assert response.status == 200 and response.body().startswith(b"%PDF")
        assert context.outbound == []
        context.close()
    # The same year through the command line, on the copy taken before it.
    from ledger.calendar import next_business_day
    receive_on = next_business_day(date(2020, 5, 20)).isoformat()
    distribute_on = next_business_day(date(2020, 5, 29)).isoformat()
    # Each person signs with their own token, as in the browser.
    _sib(cli_url, "kpi", "import", str(results_file), "--by", "eval-a", "--token",
         tokens["eval-a"])
    _sib(cli_url, "kpi", "audit", "-c", C, "-y", "2019", "--by", "eval-b", "--token",
         tokens["eval-b"])
    _sib(cli_url, "settle", "-c", C, "-y", "2019", "--by", "twr")
    _sib(cli_url, "close", "-c", C, "-y", "2019", "--by", "twr")
    for payer in PAYERS:
        _sib(cli_url, "approve", "-c", C, "-y", "2019", "--payer", payer, "--by", f"fo-{payer}",
             "--token", tokens[f"fo-{payer}"])
        _sib(cli_url, "money", "receive", "-c", C, "--payer", payer, "--amount",
             str(amounts[payer]), "--on", receive_on, "--reference", "FY2019",
             "--fiscal-year", "2019")
    _sib(cli_url, "money", "distribute", "-c", C, "--on", distribute_on, "--reference",
         "FY2019")
    _sib(cli_url, "holder", "pay", "-c", C, "--on", distribute_on)
    browser_books, cli_books = _trial_balances(url), _trial_balances(cli_url)
    assert browser_books == cli_books
    assert any(debit for _, debit, _ in browser_books[C])
