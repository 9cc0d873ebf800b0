"""Every link in every e-mail lands on a page that works for its recipient once signed in."""

import re

from tests.browser.conftest import check_page, mail_to, new_page, register, sign_in, tab_to, unique_email
from tests.conftest import wait_for

LINK = re.compile(r"https?://[^\s<>\"')]+")


def register_consenting(platform, collection: str, body: dict) -> dict:
    return register(platform, collection, {**body, "consents": {"privacy": True}})


def links_in_mail_to(platform, address: str) -> set[str]:
    """The links to this site in the e-mails to ``address`` (a contact card's website is not ours)."""
    links = set()
    for message in mail_to(platform, address):
        body = message.get_body(preferencelist=("plain",)).get_content()
        links |= {link.rstrip(".,") for link in LINK.findall(body) if link.startswith(platform.url)}
    return links


def test_every_link_in_every_email_opens_a_working_page(browser, platform):
    company = register_consenting(
        platform,
        "companies",
        {
            "name": "다솜케어",
            "email": unique_email("company"),
            "description": "어르신 돌봄 AI",
            "tags": ["elderly", "ai"],
            "stage": "seed",
            "contact_name": "박다솜",
            "website": "https://dasom.example.kr",
        },
    )
    investor = register_consenting(
        platform,
        "investors",
        {
            "name": "Sujin Lee",
            "email": unique_email("investor"),
            "organisation": "Seoul Impact Partners",
            "interests": ["elderly", "ai"],
            "stages": ["seed"],
            "language": "en",
        },
    )
    attendee = register_consenting(
        platform,
        "attendees",
        {"name": "김하나", "email": unique_email("attendee"), "attendee_type": "student"},
    )
    leaving = register_consenting(
        platform,
        "attendees",
        {"name": "이두리", "email": unique_email("leaving"), "attendee_type": "citizen"},
    )
    interest = f"/api/v1/investors/{investor['id']}/matches/{company['id']}/interest"
    wait_for(
        lambda: platform.call("POST", interest, investor["manage_token"]).status_code in (200, 201),
        30,
        message="the company to be suggested to the investor",
    )
    answer = f"/api/v1/companies/{company['id']}/matches/{investor['id']}/response"
    assert platform.call("POST", answer, company["manage_token"], json={"accept": True}).status_code == 200
    changed = platform.call(
        "PATCH", f"/api/v1/attendees/{attendee['id']}", attendee["manage_token"], json={"language": "en"}
    )
    assert changed.status_code == 200
    cancelled = platform.call("DELETE", f"/api/v1/attendees/{leaving['id']}", leaving["manage_token"])
    assert cancelled.status_code == 200

    # company: confirmation, suggestions digest, interest received, contact shared; investor:
    # confirmation, digest, interest answered; attendees: confirmation and change or cancellation
    expected = {company["email"]: 4, investor["email"]: 3, attendee["email"]: 2, leaving["email"]: 2}
    for address, count in expected.items():
        wait_for(lambda a=address, c=count: len(mail_to(platform, a)) >= c, 60, message=f"mail to {address}")

    opened = 0
    for address in expected:
        links = links_in_mail_to(platform, address)
        assert links, f"no link in the e-mails to {address}"
        assert not [link for link in links if "/api/" in link], "e-mails link to pages, not to the API"
        page = new_page(browser, platform)
        sign_in(page, platform, address)
        for link in sorted(links):
            if "/sign-in/" in link:
                continue  # used by sign_in already; works once
            response = page.goto(link)
            assert response.status == 200, f"{link} for {address}: {response.status}"
            assert "/sign-in" not in page.url, f"{link} asked {address} to sign in again"
            assert page.locator("h1").count() == 1
            opened += 1
            if "/unsubscribe?" in link:
                check_page(page, "unsubscribe")
                tab_to(page, "main button[type=submit]")
                page.keyboard.press("Enter")
                page.wait_for_selector("h1[data-focus]")
                check_page(page, "unsubscribed")
        page.context.close()
    assert opened >= len(expected)
