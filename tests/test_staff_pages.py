"""The staff pages in a real headless Chromium against the running bot: log in, hear a
caller, copy the answer, compute a deadline, search, take over a citizen's widget
conversation and reply into it, and see the 👎 in the unanswered list. Each run leaves a
screenshot of every page in var/screenshots/ (the ones in docs/ are copies of a run)."""
from __future__ import annotations

import pytest

from bot.build import model_is_current
from bot.config import ROOT
from bot.staff.routes import CLAIMED_MESSAGE
from tests.conftest import PUBLIC_RASA_PORT, STAFF_PASSWORD

pytest.importorskip("playwright.sync_api")
from axe_playwright_python.sync_playwright import Axe  # noqa: E402

pytestmark = pytest.mark.skipif(not model_is_current(), reason="no current model: run `make test`")
SITE = f"http://localhost:{PUBLIC_RASA_PORT + 3000}"
WAIT = 20_000  # ms: a bound on waiting for the bot, not a timing test
SHOTS = ROOT / "var" / "screenshots"


@pytest.fixture(scope="module", autouse=True)
def screenshots_folder() -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)


@pytest.fixture
def staff_page(chromium, staff_account):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=SITE)
    page = context.new_page()
    page.goto(SITE + "/staff/")
    page.wait_for_url("**/staff/login?next=/staff/")
    page.fill("#username", staff_account)
    page.fill("#password", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(SITE + "/staff/")
    page.wait_for_selector("body[data-ready=true]")
    yield page
    context.close()


@pytest.fixture
def citizen(chromium, public_bot):
    context = chromium.new_context(viewport={"width": 360, "height": 740}, locale="ja-JP")
    page = context.new_page()
    page.goto(SITE + "/")
    page.get_by_role("button", name="手続きチャット").click()
    page.wait_for_selector(".gc-bot", timeout=WAIT)
    yield page
    context.close()


def axe_violations(page) -> list:
    """axe-core's findings on the page, as (rule, target) pairs for a readable failure."""
    return [(v["id"], [n["target"] for n in v["nodes"]])
            for v in Axe().run(page).response["violations"]]


def ask(page, text: str) -> None:
    count = page.locator(".gc-bot").count()
    page.fill("#gc-input", text)
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => document.querySelectorAll('.gc-bot').length > {count}",
                           timeout=WAIT)


def test_login_page_needs_the_right_password(chromium, staff_account):
    context = chromium.new_context(viewport={"width": 1280, "height": 700}, locale="ja-JP")
    page = context.new_page()
    page.goto(SITE + "/staff/handoffs")
    page.wait_for_url("**/staff/login?next=/staff/handoffs")
    page.wait_for_selector("body[data-ready=true]")
    page.fill("#username", staff_account)
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    page.wait_for_function("() => document.querySelector('#login-error').textContent !== ''")
    assert page.text_content("#login-error") == "ユーザー名またはパスワードが違います。"
    page.screenshot(path=str(SHOTS / "staff-login.png"))
    context.close()


def test_a_callers_sentence_gives_the_card_an_answer_to_copy_and_the_due_date(staff_page):
    page = staff_page
    page.fill("#caller", "3月3日に引っ越してきたんですけど、転入届っていつまでに出せばいいですか")
    page.wait_for_function(
        "() => (document.querySelector('.card-name') || {}).textContent === '転入届'",
        timeout=WAIT)
    assert page.locator("#intents li").count() == 5
    assert "転入届" in page.text_content("#entities")
    page.click("#copy-answer")
    page.wait_for_function("() => document.querySelector('#copy-status').textContent !== ''")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == page.text_content("#answer") and copied.startswith("【転入届】")
    page.fill("#event-date", "2026-03-03")
    page.click("#deadline-button")
    page.wait_for_function("() => document.querySelector('#deadline-result').textContent !== ''")
    assert "3月17日" in page.text_content("#deadline-result")
    assert "住民基本台帳法" in page.text_content("#deadline-result")
    assert axe_violations(page) == []
    page.screenshot(path=str(SHOTS / "staff-assist.png"), full_page=True)


def test_search_finds_a_paraphrase_and_shows_its_card(staff_page):
    page = staff_page
    page.click("text=手続き検索")
    page.wait_for_selector("body[data-ready=true]")
    page.fill("#query", "はんこを登録したい")
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#results button")
    assert page.text_content("#results li:first-child button") == "印鑑登録"
    page.click("#results li:first-child button")
    page.wait_for_function(
        "() => (document.querySelector('.card-name') || {}).textContent === '印鑑登録'")
    # The Q&A entries are searched too: a click shows the bot's answer with the entry.
    page.fill("#query", "印鑑登録証をなくした")
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#entry-results button[data-entry=inkan_toroku_card_lost]")
    page.click("#entry-results button[data-entry=inkan_toroku_card_lost]")
    page.wait_for_function(
        "() => document.querySelector('#answer').textContent.includes('Q. 印鑑登録証')")
    assert axe_violations(page) == []
    page.screenshot(path=str(SHOTS / "staff-search.png"), full_page=True)


def test_staff_take_over_a_widget_conversation_and_the_reply_reaches_the_citizen(
        staff_page, citizen):
    ask(citizen, "職員と話したいです")
    assert "担当の職員におつなぎします" in citizen.locator(".gc-bot").last.text_content()
    page = staff_page
    page.click("text=有人対応")
    page.wait_for_selector("body[data-ready=true]")
    page.locator("#queue button", has_text="開く").last.click(timeout=WAIT)
    page.wait_for_selector("#transcript li.citizen")
    assert "職員と話したいです" in page.text_content("#transcript")
    page.click("#claim-button")
    citizen.wait_for_function(
        f"() => [...document.querySelectorAll('.gc-bot')].some(n => n.textContent.includes('{CLAIMED_MESSAGE}'))",
        timeout=WAIT)
    page.fill("#reply", "お電話番号は伏せて送ってください。ご用件をどうぞ。")
    page.click("#reply-button")
    citizen.wait_for_function(
        "() => [...document.querySelectorAll('.gc-bot')].some(n => n.textContent.includes('ご用件をどうぞ'))",
        timeout=WAIT)
    citizen.fill("#gc-input", "住民票のことで聞きたいです")
    citizen.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('#transcript').textContent.includes('住民票のことで聞きたいです')",
        timeout=WAIT)
    assert axe_violations(page) == []
    page.screenshot(path=str(SHOTS / "staff-handoffs.png"), full_page=True)
    page.click("#release-button")
    citizen.wait_for_function(
        "() => document.querySelector('.gc-log').textContent.includes('自動の回答でご案内します')",
        timeout=WAIT)


def test_a_thumbs_down_in_the_widget_shows_in_the_unanswered_list(staff_page, citizen):
    ask(citizen, "戸籍謄本はコンビニで取れますか")
    citizen.get_by_role("button", name="👎 役に立たなかった").last.click()
    citizen.wait_for_function(
        "() => document.querySelector('.gc-log').textContent.includes('お役に立てず')",
        timeout=WAIT)
    page = staff_page
    page.click("text=答えられなかった質問")
    page.wait_for_selector("body[data-ready=true]")
    row = page.locator("#groups tr", has_text="戸籍謄本はコンビニで取れますか")
    assert "役に立たなかった" in row.text_content()
    row.locator("select").select_option("koseki_shomei")
    row.locator("text=保存しました").wait_for()
    assert axe_violations(page) == []
    page.screenshot(path=str(SHOTS / "staff-unanswered.png"), full_page=True)
