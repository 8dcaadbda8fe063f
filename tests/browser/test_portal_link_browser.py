"""A one-time sign-in link through Chromium (issue 15): the link an administrator prints
(``sib portal link``) opens a page whose button signs in once; opening the same link again
signs nobody in, and typing its token into the ordinary sign-in form does not either."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import copy_sqlite, serve

pytestmark = pytest.mark.browser

FIVE = (Path(__file__).resolve().parents[2]
        / "contracts/examples/sib-2019-five-municipalities.yaml")


@pytest.fixture(scope="module")
def link_portal(migrated_sqlite, tmp_path_factory):  # noqa: ANN001, ANN201
    """A fresh database with the five-municipality contract and Ube's finance officer,
    served: (its address, its URL)."""
    from api.db import unit_of_work
    from api.users import add_user
    from contracts.store import load_contract
    from contracts.validate import load_contract_file
    url = copy_sqlite(f"sqlite:///{migrated_sqlite}",
                      tmp_path_factory.mktemp("link-portal") / "sib.db")
    contract, problems = load_contract_file(FIVE)
    assert contract is not None, problems
    with unit_of_work(url) as session:
        load_contract(session, contract)
        add_user(session, "fo-ube", "finance_officer", "ube")
    for base in serve(url):
        yield base, url


def _link(url: str, base: str) -> str:
    from api.db import unit_of_work
    from api.portal.auth import link_token
    with unit_of_work(url) as session:
        return f"{base}/portal/signin/link/{link_token(session, 'fo-ube')}"


def _session_cookie(context) -> str | None:  # noqa: ANN001
    return next((c["value"] for c in context.cookies() if c["name"] == "sib_session"), None)


def test_a_one_time_link_signs_in_once_from_the_browser(browser, link_portal):
    base, url = link_portal
    link = _link(url, base)
    context = browser.new_context(locale="ja-JP")
    page = context.new_page()
    page.goto(link)
    assert _session_cookie(context) is None  # opening the link page uses nothing up
    page.get_by_role("button", name="サインイン").click()
    page.wait_for_url("**/portal/payer")
    assert page.get_by_role("button", name="サインアウト").count() == 1
    assert _session_cookie(context) is not None
    context.close()

    # The same link again, in another browser: its button is refused, nobody is signed in.
    again = browser.new_context(locale="ja-JP")
    page = again.new_page()
    page.goto(link)
    with page.expect_response(lambda r: r.url.endswith("/portal/signin")
                              and r.request.method == "POST") as answer:
        page.get_by_role("button", name="サインイン").click()
    assert answer.value.status == 403
    assert "SIGN_IN_REFUSED" in page.content()
    assert _session_cookie(again) is None
    # Nor does its token typed into the ordinary form (no one_time field) sign in.
    page.goto(f"{base}/portal/signin")
    page.get_by_label("ユーザー名").fill("fo-ube")
    page.locator("#code").fill(link.rsplit("/", 1)[1])
    page.get_by_role("button", name="サインイン").click()
    page.wait_for_load_state()
    assert "SIGN_IN_REFUSED" in page.content()
    assert _session_cookie(again) is None
    again.close()


def test_a_links_token_typed_into_the_form_signs_in_once_too(browser, link_portal):
    """The reviewer's path in a browser: the token pasted as the code (the form sends no
    one_time field) signs in, and spends the link."""
    base, url = link_portal
    token = _link(url, base).rsplit("/", 1)[1]
    for attempt in range(2):
        context = browser.new_context(locale="ja-JP")
        page = context.new_page()
        page.goto(f"{base}/portal/signin")
        page.get_by_label("ユーザー名").fill("fo-ube")
        page.locator("#code").fill(token)
        page.get_by_role("button", name="サインイン").click()
        page.wait_for_load_state()
        signed_in = _session_cookie(context) is not None
        assert signed_in == (attempt == 0), attempt
        assert ("SIGN_IN_REFUSED" in page.content()) == (attempt == 1)
        context.close()
