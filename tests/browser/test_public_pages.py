"""Pages for everyone, in a real browser: home, privacy notice, signing in and out, error pages and
the API reference, in Korean and English."""

import re

from tests.browser.conftest import (
    assert_controls_named,
    check_page,
    link_in,
    mail_to,
    sign_in,
    tab_to,
    type_into,
    unique_email,
    wait_until,
)
from tests.conftest import wait_for


def register_attendee(platform, address: str) -> dict:
    answer = platform.call(
        "POST",
        "/api/v1/attendees",
        json={"name": "김하나", "email": address, "attendee_type": "citizen", "consents": {"privacy": True}},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_home_and_privacy_notice(page, language):
    page.goto("/")
    assert page.evaluate("document.documentElement.lang") == language
    check_page(page, "home")
    # the privacy notice is reached from every page's footer, with the keyboard
    tab_to(page, "footer a[href='/privacy']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/privacy")
    assert page.locator("#sensitive").count() == 1
    check_page(page, "privacy")


def test_the_language_can_be_switched_with_the_keyboard(page, language):
    page.goto("/")
    other = "en" if language == "ko" else "ko"
    tab_to(page, f"header a[lang={other}]")
    page.keyboard.press("Enter")
    wait_until(page, f"document.documentElement.lang === '{other}'")
    page.goto("/privacy")
    assert page.evaluate("document.documentElement.lang") == other, "the choice is remembered"


def test_signing_in_with_an_emailed_link_and_out_again(page, platform, language):
    address = unique_email("visitor")
    register_attendee(platform, address)
    page.goto("/sign-in")
    check_page(page, "sign-in")
    assert_controls_named(page)

    # an empty form: the error summary gets the focus and links to the field
    tab_to(page, "main button[type=submit]")
    page.keyboard.press("Enter")
    wait_until(page, "document.activeElement.hasAttribute('data-error-summary')")
    assert page.locator("#email").get_attribute("aria-invalid") == "true"
    assert page.title().startswith("오류:" if language == "ko" else "Error:")
    check_page(page, "sign-in-errors")

    sign_in(page, platform, address)
    assert re.search(r"/my$", page.url), page.url
    tab_to(page, "header button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector("[role=status]")
    page.goto("/my")
    assert "/sign-in" in page.url, "signed out: /my asks to sign in again"


def test_an_unknown_address_is_answered_like_a_known_one_and_gets_no_mail(page, platform):
    address = unique_email("stranger")
    page.goto("/sign-in")
    type_into(page, "#email", address)
    page.keyboard.press("Enter")
    wait_until(page, "document.activeElement.matches('h1[data-focus]')")
    check_page(page, "sign-in-sent")
    known = unique_email("known")
    register_attendee(platform, known)
    page.goto("/sign-in")
    type_into(page, "#email", known)
    page.keyboard.press("Enter")
    wait_for(lambda: mail_to(platform, known, "로그인") or mail_to(platform, known, "sign-in"), 30)
    assert mail_to(platform, address) == []


def test_a_sign_in_link_works_once(page, platform):
    address = unique_email("once")
    register_attendee(platform, address)
    sign_in(page, platform, address)
    # the newest e-mail is the link just used
    link = link_in(mail_to(platform, address)[-1], r"https?://\S+/sign-in/[A-Za-z0-9_\-]+")
    page.context.clear_cookies()
    page.goto(link)
    check_page(page, "sign-in-link")
    tab_to(page, "main button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector("h1[data-focus]")
    check_page(page, "sign-in-expired")


def test_a_missing_page_is_a_page(page):
    answer = page.goto("/no-such-page")
    assert answer.status == 404
    check_page(page, "not-found")


def test_the_api_reference_works_offline_under_the_content_security_policy(page):
    refused = []
    page.on("console", lambda message: refused.append(message.text) if message.type == "error" else None)
    page.on("response", lambda response: refused.append(response.url) if response.status >= 400 else None)
    page.goto("/api/docs")
    page.get_by_text("/api/v1/attendees", exact=True).first.wait_for()
    assert refused == []
    # Swagger UI is not ours, but the page is: its colours and landmarks are amended to pass too
    page.locator(".operations-heading").wait_for()
    check_page(page, "api-docs")


def test_motion_is_turned_off_for_people_who_ask_for_less(page):
    page.emulate_media(reduced_motion="reduce")
    page.goto("/sign-in")
    durations = page.evaluate(
        "[...document.querySelectorAll('*')].map(e => getComputedStyle(e).transitionDuration)"
        ".filter(d => d.split(',').some(part => parseFloat(part) > 0))"
    )
    assert durations == []
