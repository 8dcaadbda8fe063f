"""The lead municipality's five-payer view in a real browser (issue 15, item 1): Ube's finance
office, the lead payer of a contract that grants it the view, sees every payer's budget in one
table and Tono's notice marked read-only, with no button to approve it — while Tono's own
finance office, on the same notice, has that button (nobody has approved it yet)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import SCREENS, Portal, serve
from tests.test_lead_payer_view import PAYERS, _story

pytestmark = pytest.mark.browser

C = "sib-2019-five-municipalities"


@pytest.fixture
def lead_portal(db_url):  # noqa: ANN001, ANN201
    """FY2019 settled, no notice approved, the view granted; served."""
    tokens = _story(db_url, grant=True)
    for base in serve(db_url):
        yield Portal(base, db_url, tokens)


def test_the_lead_sees_every_payer_and_tono_s_notice_read_only(browser, lead_portal):
    p = lead_portal
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    outbound: list[str] = []

    def route(request_route) -> None:  # noqa: ANN001
        url = request_route.request.url
        if url.startswith(p.base) or url.startswith("data:"):
            request_route.continue_()
        else:
            outbound.append(url)
            request_route.abort()
    context.route("**/*", route)
    page = context.new_page()
    p.sign_in(page, "fo-ube")
    page.goto(f"{p.base}/portal/payer?contract={C}")
    table = page.locator("[data-all-payers]")
    assert table.locator("tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.payer)") == list(PAYERS)
    assert table.locator("tr[data-payer=ube] .read-only-badge").count() == 0
    for other in PAYERS[1:]:
        assert table.locator(f"tr[data-payer={other}] .read-only-badge").is_visible()
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / "lead-payer.png"), full_page=True)

    # From the table to Tono's page, then to its FY2019 notice: read-only, no approval.
    table.locator("tr[data-payer=tono]").get_by_role("link", name="表示").click()
    page.wait_for_load_state()
    assert page.locator("[data-read-only=tono]").is_visible()
    page.locator("#notices").locator("xpath=following-sibling::table[1]") \
        .get_by_role("link", name="表示").first.click()
    page.wait_for_load_state()
    assert "payer=tono" in page.url and "fy=2019" in page.url
    assert page.locator("h1").inner_text().endswith("遠野市")
    assert page.locator("[data-read-only=tono]").inner_text() == \
        "閲覧のみ（承認は各団体が行います）"
    assert page.get_by_role("button", name="検査し承認する").count() == 0
    assert page.locator("form[action='/portal/files/zengin']").count() == 0
    notice_url = page.url
    assert outbound == [], outbound

    # Tono's own finance office, on the same page, may approve it.
    context.clear_cookies()
    p.sign_in(page, "fo-tono")
    page.goto(notice_url)
    assert page.locator("[data-read-only]").count() == 0
    assert page.get_by_role("button", name="検査し承認する").count() == 1
    context.close()
