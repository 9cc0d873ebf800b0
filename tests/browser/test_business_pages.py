"""Companies and investors in a real browser, in Korean and English: registering with the keyboard
alone (the tag picker, check your answers, done), then the investor's suggestions with their
reasons, filters and interest, the company's answer, and both contact cards; and the e-mails
each side gets."""

import re
import uuid

from playwright.sync_api import Page

from tests.browser.conftest import (
    assert_controls_named,
    assert_error_summary_focused,
    check_page,
    focused,
    mail_to,
    new_page,
    press_space_on,
    sign_in,
    tab_to,
    type_into,
    unique_email,
)
from tests.conftest import wait_for

REFERENCE = re.compile(r"TCX-[A-Z2-7]{4}-[A-Z2-7]{4}")
# tags rare among the other tests' registrations, so that this company is among the first
SHARED_TAGS = ("hearing_impairment", "sign_language")


def submit(page: Page, selector: str = "main form button[type=submit]") -> None:
    """Tab to a submit button and press Enter; wait for the page it leads to."""
    tab_to(page, selector)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def done_page(page: Page, name: str) -> tuple[str, str]:
    """Checks the confirmation; answers the registration number and the registration's id."""
    page.wait_for_selector("h1[data-focus]")
    assert focused(page, "element.tagName === 'H1'"), "focus is on the confirmation's heading"
    reference = REFERENCE.search(page.locator(".reference").inner_text()).group(0)
    link = page.locator("main a[href*='next=']").get_attribute("href")
    registration_id = re.search(r"%2Fmy%2F([^%]+)%2Fsuggestions|/my/([^/]+)/suggestions", link)
    check_page(page, name)
    return reference, registration_id.group(1) or registration_id.group(2)


def register_company(page: Page, language: str, name: str, address: str) -> tuple[str, str]:
    page.goto("/register/company")
    check_page(page, "company-form")
    assert_controls_named(page)
    assert page.locator("fieldset.tag-group legend").count() == 3

    submit(page)
    assert_error_summary_focused(page, language)
    assert page.locator("#tags").get_attribute("name") == "tags"
    assert page.locator("fieldset.tag-picker").get_attribute("aria-invalid") == "true"
    check_page(page, "company-form-errors")

    type_into(page, "#name", name)
    type_into(
        page, "#description", "청각장애인을 위한 수어 아바타를 만듭니다. We make sign language avatars."
    )
    for tag in SHARED_TAGS:
        press_space_on(page, f"#tags-{tag}")
    # radios: Tab into the group (the first, as none is chosen yet), arrows choose
    tab_to(page, "#stage")
    page.keyboard.press("ArrowDown")
    assert page.locator("input[name=stage]:checked").input_value() == "seed"
    type_into(page, "#contact_name", "박다솜")
    type_into(page, "#email", address)
    type_into(page, "#website", "dasom.example.kr")
    assert page.locator("input[name=language]:checked").input_value() == language
    press_space_on(page, "#consents-privacy")
    submit(page)

    page.wait_for_url("**/register/company/check")
    assert page.title().startswith("신청 내용 확인" if language == "ko" else "Check your answers")
    main = page.locator("main").inner_text()
    assert name in main and "https://dasom.example.kr" in main and address in main
    check_page(page, "company-check")
    assert_controls_named(page)
    # a change goes back to the form with every answer kept
    submit(page, "main a[href$='#tags']")
    assert page.locator(f"#tags-{SHARED_TAGS[0]}").is_checked()
    submit(page)
    page.wait_for_url("**/register/company/check")
    submit(page)
    return done_page(page, "company-done")


def register_investor(page: Page, language: str, organisation: str, address: str) -> tuple[str, str]:
    page.goto("/register/investor")
    check_page(page, "investor-form")
    assert_controls_named(page)
    submit(page)
    assert_error_summary_focused(page, language)
    check_page(page, "investor-form-errors")

    type_into(page, "#name", "이수진")
    type_into(page, "#organisation", organisation)
    # Tab lands on the chosen radio ("rather not say", the last); the arrow goes round to the first
    tab_to(page, "input[name=investor_type]:checked")
    page.keyboard.press("ArrowDown")
    assert page.locator("input[name=investor_type]:checked").input_value() == "vc"
    for tag in SHARED_TAGS:
        press_space_on(page, f"#interests-{tag}")
    press_space_on(page, "#stages-seed")
    press_space_on(page, "#stages-pre_a")
    type_into(page, "#ticket_min_krw", "50,000,000")
    type_into(page, "#ticket_max_krw", "10,000,000")
    type_into(page, "#email", address)
    press_space_on(page, "#consents-privacy")
    submit(page)
    # the largest amount below the smallest: said at once, next to the field
    assert_error_summary_focused(page, language)
    assert page.locator("[data-error-summary] a").evaluate_all("links => links.map(l => l.hash)") == [
        "#ticket_max_krw"
    ]
    assert page.locator("#ticket_min_krw").input_value() == "50,000,000", "what was typed is kept"
    tab_to(page, "#ticket_max_krw")
    page.keyboard.press("Control+A")
    page.keyboard.type("500,000,000")
    submit(page)

    page.wait_for_url("**/register/investor/check")
    main = page.locator("main").inner_text()
    assert ("50,000,000원" if language == "ko" else "50,000,000 won") in main
    check_page(page, "investor-check")
    assert_controls_named(page)
    submit(page)
    return done_page(page, "investor-done")


def suggestions_showing(page: Page, path: str, text: str) -> None:
    """Open the suggestions page until ``text`` is on it (matching takes a moment)."""

    def shown() -> bool:
        page.goto(path)
        return text in page.locator("main").inner_text()

    wait_for(shown, 30, interval=0.5, message=f"{text} on {path}")


def status_message(page: Page) -> str:
    status = page.locator("[role=status][data-focus]")
    status.wait_for()
    assert focused(page, "element.getAttribute('role') === 'status'"), "focus is on the status message"
    return status.inner_text()


def test_a_company_and_an_investor_meet(browser, platform, language):
    run = uuid.uuid4().hex[:6]
    company_name, organisation = f"다솜케어 {run}", f"Seoul Impact {run}"
    company_email, investor_email = unique_email("company"), unique_email("investor")

    company_page = new_page(browser, platform, language)
    investor_page = new_page(browser, platform, language)
    try:
        company_reference, company_id = register_company(company_page, language, company_name, company_email)
        investor_reference, investor_id = register_investor(
            investor_page, language, organisation, investor_email
        )
        assert company_reference != investor_reference

        # the investor sees the company, with the reasons in plain words
        sign_in(investor_page, platform, investor_email)
        mine = f"/my/{investor_id}/suggestions"
        suggestions_showing(investor_page, mine, company_name)
        item = investor_page.locator(f"#suggestion-{company_id}")
        reasons = item.locator(".reasons").inner_text()
        assert ("공통 기술: 수어" if language == "ko" else "Shared technology: Sign language") in reasons
        assert re.search(r"(100점 만점에|score) \d+", item.locator(".fit").inner_text())
        check_page(investor_page, "investor-suggestions")
        assert_controls_named(investor_page)

        # filtered by a tag, with the keyboard-operable form (GET: the address keeps the filter)
        tab_to(investor_page, "#tag")
        investor_page.locator("#tag").select_option("sign_language")
        press_space_on(investor_page, "#stage-seed")
        submit(investor_page, "main form.filters button[type=submit]")
        assert "tag=sign_language" in investor_page.url and "stage=seed" in investor_page.url
        assert investor_page.locator(f"#suggestion-{company_id}").count() == 1
        for tags in investor_page.locator(".suggestion-list p.tags").all_inner_texts():
            assert ("수어" if language == "ko" else "Sign language") in tags
        check_page(investor_page, "investor-suggestions-filtered")

        # interest, from the filtered page, and back to it
        submit(investor_page, f"#suggestion-{company_id} form button[type=submit]")
        assert company_name in status_message(investor_page)
        assert "tag=sign_language" in investor_page.url
        pending = investor_page.locator(f"#interest-{company_id}")
        assert ("답변 기다리는 중" if language == "ko" else "Waiting for an answer") in pending.inner_text()
        assert company_email not in investor_page.locator("main").inner_text(), "no card before an answer"
        check_page(investor_page, "investor-after-interest")

        # the company hears of it by e-mail, naming the investor, and answers on its page
        received = wait_for(
            lambda: [m for m in mail_to(platform, company_email) if organisation in _body(m)],
            30,
            message="the interest e-mail to the company",
        )
        assert f"/my/{company_id}/suggestions" in _body(received[-1])
        sign_in(company_page, platform, company_email)
        company_page.goto(f"/my/{company_id}/suggestions")
        interest = company_page.locator(f"#interest-{investor_id}")
        assert organisation in interest.inner_text()
        check_page(company_page, "company-suggestions-interest")
        assert_controls_named(company_page)
        submit(company_page, f"#interest-{investor_id} button[value=yes]")
        assert organisation in status_message(company_page)
        card = company_page.locator(f"#interest-{investor_id} .contact-card")
        assert investor_email in card.inner_text() and "이수진" in card.inner_text()
        assert card.locator(f"a[href='mailto:{investor_email}']").count() == 1
        check_page(company_page, "company-after-accept")

        # and the investor now sees the company's card (within the seconds a list is kept)
        suggestions_showing(investor_page, mine, company_email)
        card = investor_page.locator(f"#interest-{company_id} .contact-card")
        assert company_email in card.inner_text() and "박다솜" in card.inner_text()
        assert "https://dasom.example.kr" in card.inner_text()
        check_page(investor_page, "investor-after-accept")

        # both are told by e-mail, each with the other's contact details
        wait_for(
            lambda: [m for m in mail_to(platform, investor_email) if company_email in _body(m)],
            30,
            message="the acceptance e-mail to the investor",
        )
        wait_for(
            lambda: [m for m in mail_to(platform, company_email) if investor_email in _body(m)],
            30,
            message="the investor's contact details e-mailed to the company",
        )
    finally:
        company_page.context.close()
        investor_page.context.close()


def _body(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_many_suggestions_come_in_pages_of_twenty(page, platform, language):
    tag = "metaverse"
    investor_email = unique_email("pages")
    investor = platform.call(
        "POST",
        "/api/v1/investors",
        json={
            "name": "Kim Paging",
            "email": investor_email,
            "organisation": "Paging Fund",
            "interests": [tag],
            "stages": ["seed"],
            "consents": {"privacy": True},
        },
    )
    assert investor.status_code == 201, investor.text
    for number in range(22):
        company = platform.call(
            "POST",
            "/api/v1/companies",
            json={
                "name": f"Metaverse {number:02d}",
                "email": unique_email("metaverse"),
                "description": "Shared virtual spaces for seniors.",
                "tags": [tag, "elderly"],
                "stage": "seed",
                "consents": {"privacy": True},
            },
        )
        assert company.status_code == 201, company.text
    investor_id = investor.json()["id"]
    sign_in(page, platform, investor_email)
    path = f"/my/{investor_id}/suggestions"

    def all_there() -> bool:
        page.goto(path)
        return page.locator("nav.krds-pagination").count() == 1

    wait_for(all_there, 60, interval=1, message="more than 20 suggestions")
    assert page.locator(".suggestion-list > li").count() == 20
    assert page.locator("nav.krds-pagination [aria-current=page]").inner_text().strip().endswith("1")
    submit(page, "nav.krds-pagination a.next")
    assert "page=2" in page.url
    assert page.locator(".suggestion-list > li").count() >= 2
    assert page.locator(".suggestion-list").get_attribute("start") == "21"
    check_page(page, "investor-suggestions-page-2")
