"""Registering as a visitor in a real browser, in Korean and English: about you, accessibility
needs with their own consent, check your answers, done; with the keyboard alone, and in easy read."""

import re
import time

from playwright.sync_api import Page

from tests.browser.conftest import (
    assert_error_summary_focused,
    check_page,
    focused,
    mail_to,
    press_space_on,
    tab_to,
    type_into,
    unique_email,
)
from tests.conftest import wait_for

# a form control in an accessibility snapshot with no name: `- textbox`, `- checkbox [checked]`
UNNAMED_CONTROL = re.compile(r'^\s*- (textbox|checkbox|radio|combobox|button|spinbutton)\b(?!\s+")')
REFERENCE = re.compile(r"TCX-[A-Z2-7]{4}-[A-Z2-7]{4}")


def assert_every_control_named(page: Page, name: str) -> None:
    snapshot = page.locator("main form").aria_snapshot()
    unnamed = [line for line in snapshot.splitlines() if UNNAMED_CONTROL.match(line)]
    assert unnamed == [], f"controls without a name on {name}:\n" + "\n".join(unnamed)
    # and the snapshot does list the controls (the regular expression reads what it should)
    assert re.search(r'- (button|checkbox) "', snapshot), snapshot


def submit(page: Page) -> None:
    """Tab to the form's submit button and press Enter."""
    tab_to(page, "main form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_load_state()


def tick(page: Page, field_id: str) -> None:
    """Tick a checkbox or choose a radio by its label, as KRDS draws it (with the mouse)."""
    page.locator(f"label[for='{field_id}']").click()


def test_registering_with_the_keyboard_alone(page, platform, language):
    address = unique_email("keyboard")
    page.goto("/register/attendee")
    check_page(page, "attendee-about-you")
    assert_every_control_named(page, "about you")

    # sent empty: the summary gets the focus and names what to fill in
    submit(page)
    assert_error_summary_focused(page, language)
    check_page(page, "attendee-about-you-errors")

    type_into(page, "#name", "김하나")
    type_into(page, "#email", address)
    # radios: Tab into the group, arrows choose
    tab_to(page, "#attendee_type")
    page.keyboard.press("ArrowDown")
    assert page.locator("input[name=attendee_type]:checked").input_value() == "person_with_disability"
    tab_to(page, "#companions")
    page.keyboard.press("ArrowDown")
    assert page.locator("#companions").input_value() == "1"
    press_space_on(page, "#interests")
    press_space_on(page, "#interests-technology")  # AI, the first technology
    press_space_on(page, "#consents-privacy")
    submit(page)

    page.wait_for_url("**/register/attendee/access")
    check_page(page, "attendee-access")
    assert_every_control_named(page, "access")
    press_space_on(page, "#accessibility_needs")  # wheelchair access
    press_space_on(page, "#accessibility_needs-live_captioning")
    # needs without the sensitive consent: an error on the consent, nothing kept
    submit(page)
    assert_error_summary_focused(page, language)
    assert page.locator(".error-summary a[href='#consents-sensitive']").count() == 1
    assert page.locator("#consents-sensitive").get_attribute("aria-invalid") == "true"
    assert page.locator("#accessibility_needs").is_checked(), "the ticked needs are still ticked"
    check_page(page, "attendee-access-errors")
    press_space_on(page, "#consents-sensitive")
    submit(page)

    page.wait_for_url("**/register/attendee/check")
    check_page(page, "attendee-check")
    summary = page.locator("main").inner_text()
    assert "김하나" in summary and address in summary
    wheelchair, captions = (
        ("휠체어 접근", "실시간 문자 통역(자막)")
        if language == "ko"
        else (
            "Wheelchair access",
            "Live captions",
        )
    )
    assert wheelchair in summary and captions in summary
    assert_every_control_named(page, "check")
    submit(page)

    page.wait_for_url("**/register/attendee/done")
    page.wait_for_selector("h1[data-focus]")
    assert focused(page, "element.tagName === 'H1' && element.hasAttribute('data-focus')")
    reference = page.locator(".reference").inner_text().strip()
    assert REFERENCE.fullmatch(reference), reference
    assert "tcx_" not in page.content(), "the manage token is never shown"
    check_page(page, "attendee-done")

    message = wait_for(lambda: mail_to(platform, address), 30, message="the confirmation e-mail")[0]
    assert reference in message.get_body(preferencelist=("plain",)).get_content()

    # back to the answers and sent again: the same registration, not an error
    page.go_back()
    page.wait_for_url("**/register/attendee/check")
    assert reference in page.locator("main").inner_text(), "the check page says it was sent"
    check_page(page, "attendee-check-sent")
    submit(page)
    page.wait_for_url("**/register/attendee/done")
    assert page.locator(".reference").inner_text().strip() == reference
    time.sleep(2)
    assert len(mail_to(platform, address)) == 1, "registered and confirmed once"


def test_an_empty_form_links_every_error_to_its_field(page, language):
    page.goto("/register/attendee")
    submit(page)
    assert_error_summary_focused(page, language)
    links = page.locator(".error-summary a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert links == ["#name", "#email", "#attendee_type", "#consents-privacy"]
    for field_id in ("name", "email", "consents-privacy"):
        field = page.locator(f"#{field_id}")
        assert field.get_attribute("aria-invalid") == "true", field_id
        # the message is read with the field
        described = field.get_attribute("aria-describedby")
        assert f"{field_id}-error" in described.split(), described
    assert page.locator("fieldset:has(#attendee_type)").get_attribute("aria-invalid") == "true"
    # what was typed stays; the summary's link leads to its field
    page.locator(".error-summary a[href='#email']").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**#email")


def test_registering_for_someone_else(page, platform, language):
    address = unique_email("carer")
    page.goto("/register/attendee")
    page.fill("#name", "김어르신")
    page.fill("#email", address)
    tick(page, "on_behalf")
    tick(page, "attendee_type-senior")
    tick(page, "consents-privacy")
    submit(page)
    # ticked, but no name of their own
    assert_error_summary_focused(page, language)
    assert page.locator(".error-summary a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    ) == ["#carer_name"]
    check_page(page, "attendee-about-you-carer-errors")
    page.fill("#carer_name", "박보호")
    submit(page)
    page.wait_for_url("**/access")
    # "senior" tells of a need for care: it is kept only with the consent to sensitive information
    submit(page)
    assert_error_summary_focused(page, language)
    check_page(page, "attendee-access-sensitive-type-errors")
    tick(page, "consents-sensitive")
    submit(page)
    page.wait_for_url("**/check")
    assert "박보호" in page.locator("main").inner_text()
    check_page(page, "attendee-check-carer")
    submit(page)
    page.wait_for_url("**/done")
    assert "김어르신" in page.locator("main").inner_text()
    check_page(page, "attendee-done-carer")


def test_an_address_already_registered_is_told_to_sign_in(page, platform, language):
    address = unique_email("twice")
    answer = platform.call(
        "POST",
        "/api/v1/attendees",
        json={"name": "김하나", "email": address, "attendee_type": "citizen", "consents": {"privacy": True}},
    )
    assert answer.status_code == 201, answer.text
    page.goto("/register/attendee")
    page.fill("#name", "김하나")
    page.fill("#email", address)
    tick(page, "attendee_type")
    tick(page, "consents-privacy")
    submit(page)
    submit(page)
    page.wait_for_url("**/check")
    submit(page)
    page.wait_for_selector("h1[data-focus]")
    assert page.locator("main a[href='/sign-in']").count() >= 1
    check_page(page, "attendee-already-registered")


def test_the_easy_read_version(page, platform, language):
    page.goto("/register/attendee")
    switch = page.locator(".easy-read-switch a")
    assert switch.inner_text().strip() == ("쉬운 말로 보기" if language == "ko" else "Easy read")
    tab_to(page, ".easy-read-switch a")
    page.keyboard.press("Enter")
    page.wait_for_url("**easy=1")
    easy_heading = "누가 오나요?" if language == "ko" else "Who are you?"
    assert page.locator("h1").inner_text() == easy_heading
    check_page(page, "attendee-about-you-easy")
    submit(page)
    assert_error_summary_focused(page, language)
    check_page(page, "attendee-about-you-easy-errors")

    page.fill("#name", "이쉬움")
    page.fill("#email", unique_email("easy"))
    tick(page, "attendee_type-person_with_disability")
    tick(page, "consents-privacy")
    submit(page)
    page.wait_for_url("**/access")
    assert page.locator(".easy-read-switch a").get_attribute("href").endswith("easy=0"), "remembered"
    check_page(page, "attendee-access-easy")
    tick(page, "accessibility_needs-easy_read")
    tick(page, "consents-sensitive")
    submit(page)
    page.wait_for_url("**/check")
    check_page(page, "attendee-check-easy")
    submit(page)
    page.wait_for_url("**/done")
    check_page(page, "attendee-done-easy")

    # and back to the standard version
    page.goto("/register/attendee?easy=0")
    assert page.locator("h1").inner_text() != easy_heading
