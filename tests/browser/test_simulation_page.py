"""The outcome simulation in Chromium (issues 15 and 16): the intermediary opens it from the
navigation, starts a small simulation of the demo's contract from its example file, sees the
job's progress (the page reloads itself from the database), then the charts — every payer's fan
chart against its 債務負担行為, the loans' shortfall by due date, the IRR histogram — with every
request off 127.0.0.1 blocked and none made. A screenshot goes to out/screens/."""

from __future__ import annotations

import os

import pytest

from tests.browser.conftest import SCREENS, Portal, add_users, copy_sqlite, serve

pytestmark = pytest.mark.browser

C = "sib-2019-five-municipalities"


@pytest.fixture(scope="module")
def portal(demo_story, tmp_path_factory):  # noqa: ANN001, ANN201
    """A copy of the demo's books, an intermediary and a finance office, served."""
    from api.settings import get_settings
    folder = tmp_path_factory.mktemp("simulation-portal")
    url = copy_sqlite(demo_story[0], folder / "demo.db")
    # Yawata's finance office is not the lead payer: it sees its own payer only.
    tokens = add_users(url, [("twr", "intermediary", None), ("fo-yawata", "finance_officer",
                                                            "yawata")])
    before = os.environ.get("SIB_OUT_DIR")
    os.environ["SIB_OUT_DIR"] = str(folder / "out")  # where the batches are kept
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


def test_a_small_simulation_runs_in_the_background_and_shows_its_charts(browser, portal):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    outbound: list[str] = []

    def route(request_route) -> None:  # noqa: ANN001
        url = request_route.request.url
        if url.startswith(portal.base) or url.startswith(("data:", "blob:")):
            request_route.continue_()
        else:
            outbound.append(url)
            request_route.abort()

    context.route("**/*", route)
    page = context.new_page()
    portal.sign_in(page, "twr")
    page.locator("#nav-simulation").click()
    page.wait_for_load_state()
    assert "/portal/simulation" in page.url
    page.get_by_label("契約の例示ファイル").check()
    page.get_by_label("試行回数 (1–1,000,000)").fill("2000")
    page.get_by_label("乱数シード").fill("16")
    page.get_by_label("1バッチの試行回数").fill("250")
    page.get_by_label("推計開始年度").select_option("2021")
    page.get_by_role("button", name="シミュレーションを開始").click()
    page.wait_for_load_state()
    assert "/portal/simulation/jobs/" in page.url
    # The progress, read from the database: 2,000 runs in eight batches.
    progress = page.locator("#job-progress")
    assert progress.get_attribute("max") == "2000"
    page.wait_for_selector("#job-state[data-state=done]", timeout=120_000)
    assert page.locator("#job-progress").get_attribute("value") == "2000"

    for payer in ("ube", "tono", "yawata", "ibusuki", "misato"):
        fan = page.locator(f"#payer-{payer} svg")
        assert fan.count() == 1 and fan.locator("polygon").count() == 1  # the P5–P95 band
        assert fan.locator("line[stroke='#b00020']").count() >= 1  # its 債務負担行為
    assert page.locator("#payer-ube").get_by_text("122,000,000円").count() >= 1
    assert page.locator("#payer-ube").get_by_text("令和3年度").count() >= 1
    assert page.locator("figure[id^=shortfall-] svg").count() >= 1
    assert page.locator("#irr-citizen-units svg rect").count() >= 10  # the histogram's bars
    assert page.locator("#capital-loss-citizen-units").inner_text().endswith("%")
    page.reload()  # a reload shows the same job, done
    assert page.locator("#job-state").get_attribute("data-state") == "done"
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / "simulation.png"), full_page=True)

    # The finance office sees its own payer's figures on the same job's page.
    job_url = page.url
    context.clear_cookies()
    portal.sign_in(page, "fo-yawata")
    page.goto(job_url)
    assert page.locator("#payer-yawata svg").count() == 1
    assert page.locator("#payer-tono").count() == 0 and page.locator("#loans").count() == 0
    assert outbound == [], outbound
    context.close()
