"""A signed-in person's own pages in a real browser, in Korean and English: their registrations,
one registration with its accessibility needs, changes (of one need only), cancellation and
erasure with their confirmations, the inbox and the suggestion e-mail preference."""

import re

from tests.browser.conftest import (
    assert_error_summary_focused,
    check_page,
    focused,
    mail_to,
    register,
    sign_in,
    tab_to,
    type_into,
    unique_email,
)
from tests.browser.test_attendee_pages import assert_every_control_named, submit
from tests.conftest import wait_for

NEEDS = {"wheelchair_access": True, "live_captioning": True, "guide_dog": True}
LABELS = {
    "ko": {
        "wheelchair_access": "휠체어 접근",
        "live_captioning": "실시간 문자 통역(자막)",
        "guide_dog": "안내견·보조견 동반",
    },
    "en": {
        "wheelchair_access": "Wheelchair access",
        "live_captioning": "Live captions",
        "guide_dog": "Guide dog or assistance dog",
    },
}


def register_attendee(platform, address: str) -> dict:
    return register(
        platform,
        "attendees",
        {
            "name": "김하나",
            "email": address,
            "attendee_type": "person_with_disability",
            "companions": 1,
            "accessibility_needs": NEEDS,
            "consents": {"privacy": True, "sensitive": True},
        },
    )


def register_company(platform, address: str) -> dict:
    return register(
        platform,
        "companies",
        {
            "name": "배리어프리랩",
            "email": address,
            "description": "어르신을 위한 음성 키오스크",
            "tags": ["elderly", "kiosk_accessibility"],
            "stage": "seed",
            "consents": {"privacy": True},
        },
    )


def follow(page, selector: str) -> None:
    """Tab to a link and follow it with Enter."""
    tab_to(page, selector)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def notice_is_focused(page) -> bool:
    return focused(page, "element.getAttribute('role') === 'status'")


def test_view_change_one_need_change_details_and_cancel(page, platform, language):
    address = unique_email("mine")
    attendee = register_attendee(platform, address)
    labels = LABELS[language]
    sign_in(page, platform, address)
    assert re.search(r"/my$", page.url), page.url
    check_page(page, "my-registrations")
    assert attendee["reference"] in page.locator("main").inner_text()

    follow(page, f"main a[href='/my/{attendee['id']}']")
    check_page(page, "my-registration")
    shown = page.locator("main").inner_text()
    assert all(label in shown for label in labels.values()), shown
    assert "tcx_" not in page.content()

    # change one need: the guide dog goes, the others stay
    follow(page, f"main a[href='/my/{attendee['id']}/access']")
    check_page(page, "my-change-access")
    assert_every_control_named(page, "change needs")
    assert page.locator("#consents-sensitive").is_checked()
    tab_to(page, "#accessibility_needs-guide_dog")
    page.keyboard.press("Space")
    submit(page)
    page.wait_for_url(f"**/my/{attendee['id']}")
    assert notice_is_focused(page)
    shown = page.locator("main").inner_text()
    assert labels["wheelchair_access"] in shown and labels["live_captioning"] in shown
    assert labels["guide_dog"] not in shown
    check_page(page, "my-registration-changed")
    stored = platform.call(
        "GET", f"/api/v1/attendees/{attendee['id']}", token=attendee["manage_token"]
    ).json()
    assert (
        stored["accessibility_needs"]["wheelchair_access"]
        and stored["accessibility_needs"]["live_captioning"]
    )
    assert not stored["accessibility_needs"]["guide_dog"]

    # needs kept without the consent: an error, nothing changed
    page.goto(f"/my/{attendee['id']}/access")
    tab_to(page, "#consents-sensitive")
    page.keyboard.press("Space")
    submit(page)
    assert_error_summary_focused(page, language)
    assert page.locator(".error-summary a[href='#consents-sensitive']").count() == 1
    check_page(page, "my-change-access-errors")

    # change details: two companions now, and nothing else is sent
    page.goto(f"/my/{attendee['id']}/change")
    check_page(page, "my-change")
    assert_every_control_named(page, "change details")
    tab_to(page, "#companions")
    page.keyboard.press("ArrowDown")
    assert page.locator("#companions").input_value() == "2"
    submit(page)
    page.wait_for_url(f"**/my/{attendee['id']}")
    assert notice_is_focused(page)
    stored = platform.call(
        "GET", f"/api/v1/attendees/{attendee['id']}", token=attendee["manage_token"]
    ).json()
    assert stored["companions"] == 2 and stored["name"] == "김하나"
    assert stored["accessibility_needs"]["wheelchair_access"], "a change of details keeps the needs"

    # cancel, after a confirmation step
    follow(page, f"main a[href='/my/{attendee['id']}/cancel']")
    check_page(page, "my-cancel")
    assert_every_control_named(page, "cancel")
    submit(page)
    page.wait_for_url(f"**/my/{attendee['id']}")
    assert notice_is_focused(page)
    assert ("취소됨" if language == "ko" else "Cancelled") in page.locator("main").inner_text()
    assert page.locator(f"main a[href='/my/{attendee['id']}/change']").count() == 0
    check_page(page, "my-registration-cancelled")
    stored = platform.call(
        "GET", f"/api/v1/attendees/{attendee['id']}", token=attendee["manage_token"]
    ).json()
    assert stored["status"] == "cancelled" and not stored.get("accessibility_needs")


def test_inbox_preferences_and_erasure(page, platform, language):
    address = unique_email("erase")
    attendee = register_attendee(platform, address)
    company = register_company(platform, address)
    # both confirmations are sent before looking at the inbox
    wait_for(
        lambda: all(
            any(
                reference in m.get_body(preferencelist=("plain",)).get_content()
                for m in mail_to(platform, address)
            )
            for reference in (attendee["reference"], company["reference"])
        ),
        30,
        message="both confirmations",
    )
    sign_in(page, platform, address)
    assert page.locator(f"main a[href='/my/{company['id']}/suggestions']").count() == 1

    follow(page, "main a[href='/my/inbox']")
    check_page(page, "my-inbox")
    shown = page.locator("main").inner_text()
    assert attendee["reference"] in shown and company["reference"] in shown

    # suggestion e-mails once a day, with the keyboard
    page.goto("/my/preferences")
    check_page(page, "my-preferences")
    assert_every_control_named(page, "preferences")
    hourly = f"#suggestion_emails-{company['id']}-hourly"
    assert page.locator(hourly).is_checked(), "hourly is the default"
    tab_to(page, hourly)
    page.keyboard.press("ArrowDown")
    assert page.locator(f"#suggestion_emails-{company['id']}-daily").is_checked()
    submit(page)
    page.wait_for_url("**/my/preferences")
    assert notice_is_focused(page)
    assert page.locator(f"#suggestion_emails-{company['id']}-daily").is_checked()
    preference = platform.call(
        "GET", "/api/v1/notification-preferences", token=company["manage_token"]
    ).json()
    assert preference == {"suggestion_emails": "daily"}

    # erase the company: the confirmation says what goes, and needs the box ticked
    page.goto(f"/my/{company['id']}/erase")
    check_page(page, "my-erase")
    assert_every_control_named(page, "erase")
    submit(page)
    assert_error_summary_focused(page, language)
    assert page.locator("#confirm").get_attribute("aria-invalid") == "true"
    check_page(page, "my-erase-errors")
    tab_to(page, "#confirm")
    page.keyboard.press("Space")
    submit(page)
    page.wait_for_url(re.compile(r".*/my$"))
    assert notice_is_focused(page)
    assert company["reference"] not in page.locator("main .journeys").inner_text()
    assert attendee["reference"] in page.locator("main").inner_text(), "the other registration stays"
    gone = platform.call("GET", f"/api/v1/companies/{company['id']}", token=company["manage_token"])
    assert gone.status_code in (403, 404)

    # erasing the last one signs out
    page.goto(f"/my/{attendee['id']}/erase")
    tab_to(page, "#confirm")
    page.keyboard.press("Space")
    submit(page)
    page.wait_for_url("**/my/erased")
    assert focused(page, "element.tagName === 'H1'")
    check_page(page, "my-erased")
    page.goto("/my")
    assert "/sign-in" in page.url, "signed out"


def test_someone_elses_registration_is_not_found(page, platform):
    mine, theirs = unique_email("me"), unique_email("them")
    register_attendee(platform, mine)
    other = register_attendee(platform, theirs)
    sign_in(page, platform, mine)
    for path in ("", "/change", "/access", "/cancel", "/erase"):
        answer = page.goto(f"/my/{other['id']}{path}")
        assert answer.status == 404, path


def test_a_carer_names_the_companions_with_the_keyboard_and_is_written_to_as_the_contact(
    page, platform, language
):
    address = unique_email("carer")
    attendee = register(
        platform,
        "attendees",
        {
            "name": "김순자",
            "email": address,
            "attendee_type": "citizen",
            "companions": 2,
            "carer_name": "박보호",
            "language": language,
            "consents": {"privacy": True},
        },
    )
    confirmation = wait_for(lambda: mail_to(platform, address), 30, message="the confirmation")[0]
    body = confirmation.get_body(preferencelist=("plain",)).get_content()
    greeting = "박보호님, 안녕하세요." if language == "ko" else "Hello 박보호,"
    assert body.startswith(greeting) and "김순자" in body, body[:200]

    sign_in(page, platform, address)
    page.goto(f"/my/{attendee['id']}")
    shown = page.locator("main").inner_text()
    assert ("보호자 이메일 주소" if language == "ko" else "The carer's e-mail address") in shown

    follow(page, f"main a[href='/my/{attendee['id']}/change']")
    type_into(page, "#companion_names", "이민호")
    page.keyboard.press("Enter")
    page.keyboard.type("최유나")
    submit(page)
    page.wait_for_url(f"**/my/{attendee['id']}")
    assert notice_is_focused(page)
    assert "이민호, 최유나" in page.locator("main").inner_text()
    check_page(page, "my-registration-companions-named")
    stored = platform.call(
        "GET", f"/api/v1/attendees/{attendee['id']}", token=attendee["manage_token"]
    ).json()
    assert (stored["id"], stored["companion_names"]) == (attendee["id"], ["이민호", "최유나"])

    # a third name for two companions: said next to the field
    page.goto(f"/my/{attendee['id']}/change")
    tab_to(page, "#companion_names")
    page.keyboard.press("Control+End")
    page.keyboard.press("Enter")
    page.keyboard.type("김하늘")
    submit(page)
    assert_error_summary_focused(page, language)
    assert page.locator(".error-summary a[href='#companion_names']").count() == 1
    check_page(page, "my-change-companions-errors")
