"""The chat widget in a real headless Chromium against the real servers and model."""
from __future__ import annotations

import pytest

from bot.build import model_is_current
from tests.conftest import start_bot

pytest.importorskip("playwright.sync_api")
from axe_playwright_python.sync_playwright import Axe  # noqa: E402

pytestmark = pytest.mark.skipif(not model_is_current(), reason="no current model: run `make test`")
RASA_PORT, ACTION_PORT = 15007, 15057
PAGE = f"http://127.0.0.1:{RASA_PORT + 3000}/"
WAIT = 20_000  # ms: how long to wait for the bot (a bound on waiting, not a timing test)


@pytest.fixture(scope="module")
def bot(tmp_path_factory, kb):
    launcher = start_bot(kb, tmp_path_factory.mktemp("widget") / "tracker.db",
                         RASA_PORT, ACTION_PORT, {})
    yield
    launcher.terminate()
    launcher.wait(timeout=60)


@pytest.fixture(scope="module")
def browser(bot, chromium):
    return chromium


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="ja-JP")
    tab = context.new_page()
    tab.goto(PAGE)
    yield tab
    context.close()


def open_chat(page):
    page.get_by_role("button", name="手続きチャット").click()
    page.wait_for_selector(".gc-bot", timeout=WAIT)


def ask(page, text):
    count = page.locator(".gc-bot").count()
    page.fill("#gc-input", text)
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => document.querySelectorAll('.gc-bot').length > {count}", timeout=WAIT)


def test_question_answer_button_and_history_after_reload(page):
    open_chat(page)
    assert "行政手続きのご案内をします" in page.inner_text(".gc-log")
    ask(page, "転入届はネットでできますか")
    card = page.locator(".gc-card").last
    card.wait_for(timeout=WAIT)
    assert card.locator("h3").inner_text() == "転入届"
    link = card.locator("a")
    assert link.get_attribute("rel") == "noopener noreferrer"
    assert link.get_attribute("href").startswith("https://")
    page.get_by_role("button", name="期限").last.click()
    page.wait_for_function("() => [...document.querySelectorAll('.gc-bot')].some(e => e.textContent.includes('14日以内'))",
                           timeout=WAIT)
    assert page.locator(".gc-user").last.inner_text().endswith("期限")
    before = page.locator(".gc-msg").count()
    page.reload()
    page.wait_for_selector(".gc-panel:not([hidden])", timeout=WAIT)
    assert page.locator(".gc-msg").count() == before
    ask(page, "必要なものは?")  # same session: the procedure carries over after reload
    assert page.locator(".gc-bot").last.inner_text().startswith("【転入届】\n■必要なもの")


def test_enter_during_ime_composition_does_not_send(page):
    open_chat(page)
    users = page.locator(".gc-user").count()
    page.fill("#gc-input", "てんにゅう")
    page.dispatch_event("#gc-input", "compositionstart")
    page.evaluate("""() => document.getElementById('gc-input').dispatchEvent(new KeyboardEvent(
        'keydown', {key: 'Enter', isComposing: true, bubbles: true, cancelable: true}))""")
    assert page.input_value("#gc-input") == "てんにゅう"
    assert page.locator(".gc-user").count() == users
    page.dispatch_event("#gc-input", "compositionend")
    page.keyboard.press("Shift+Enter")
    assert page.locator(".gc-user").count() == users
    page.fill("#gc-input", "転入届")
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => document.querySelectorAll('.gc-user').length > {users}", timeout=WAIT)
    assert page.input_value("#gc-input") == ""


def test_keyboard_only(page):
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.classList.contains('gc-launcher')"):
            break
    assert page.evaluate("() => document.activeElement.textContent") == "手続きチャット"
    page.keyboard.press("Enter")
    page.wait_for_selector(".gc-bot", timeout=WAIT)
    assert page.evaluate("() => document.activeElement.id") == "gc-input"
    ask(page, "印鑑証明の手数料は?")
    page.locator(".gc-buttons:not(.gc-feedback) button").last.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('.gc-user').length >= 2", timeout=WAIT)
    page.keyboard.press("Escape")
    assert page.locator(".gc-panel").is_hidden()
    assert page.evaluate("() => document.activeElement.className") == "gc-launcher"


def test_thumbs_down_by_keyboard_keeps_focus_in_the_panel(page):
    open_chat(page)
    ask(page, "印鑑証明の手数料は?")
    page.get_by_role("button", name="👎 役に立たなかった").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('.gc-log').textContent.includes('お役に立てず')",
                           timeout=WAIT)
    assert page.evaluate("() => document.activeElement.id") == "gc-input"
    assert page.locator(".gc-feedback").count() == 0


def test_html_from_the_user_is_shown_as_text(page):
    open_chat(page)
    ask(page, "<img src=x onerror=alert(1)><b>太字</b>")
    assert "<b>太字</b>" in page.locator(".gc-user").last.inner_text()
    assert page.locator(".gc-log img, .gc-log b").count() == 0


def test_offline_message_and_nothing_typed_is_lost(page):
    open_chat(page)
    page.context.set_offline(True)
    page.wait_for_function("() => document.querySelector('.gc-status').textContent.length > 0",
                           timeout=WAIT)
    page.fill("#gc-input", "死亡届の期限は?")
    page.keyboard.press("Enter")
    assert "送信待ち" in page.locator(".gc-user").last.inner_text()
    page.context.set_offline(False)
    page.wait_for_function("() => [...document.querySelectorAll('.gc-bot')].some(e => e.textContent.includes('【死亡届】'))",
                           timeout=WAIT * 2)
    assert page.inner_text(".gc-status") == ""


def test_axe_finds_no_violations_with_a_conversation_open(page):
    open_chat(page)
    ask(page, "出生届に何がいる?")
    page.locator(".gc-card").last.wait_for(timeout=WAIT)
    for width in (360, 1280):
        page.set_viewport_size({"width": width, "height": 800})
        result = Axe().run(page)
        assert result.violations_count == 0, result.generate_report()
    box = page.locator(".gc-panel").bounding_box()
    assert box["x"] + box["width"] <= 1280


def test_closed_widget_fits_a_small_screen_and_leaves_page_controls_free(page):
    launcher = page.locator(".gc-launcher").bounding_box()
    assert launcher["x"] >= 0 and launcher["x"] + launcher["width"] <= 360
    search = page.locator(".search button").bounding_box()
    overlaps = not (launcher["x"] > search["x"] + search["width"] or
                    launcher["y"] > search["y"] + search["height"] or
                    search["x"] > launcher["x"] + launcher["width"] or
                    search["y"] > launcher["y"] + launcher["height"])
    assert not overlaps
