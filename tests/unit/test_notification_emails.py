"""The e-mails of the web app: sign-in links (and what is kept of them), registration changes,
interest answered with contact cards, links that land on pages, and plurals in both languages."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from notification import domain
from shared import clock
from shared.contracts.events import derived_id, new_event, parse_event
from shared.contracts.registration import reference_of

SITE = {
    "base_url": "http://expo.test",
    "expo_name_ko": "2026 기술동행 박람회",
    "expo_name_en": "Tech Companion Expo 2026",
}
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
TOKEN = "s3cr3t-link-token-0123456789abcdef"

COMPANY = {
    "registration_id": "c-1",
    "kind": "company",
    "name": "Dasom Care",
    "email": "hello@dasom.kr",
    "language": "en",
    "organisation": None,
    "contact_person": "Dasom Kim",
    "website": "https://dasom.kr",
}
INVESTOR = {
    "registration_id": "i-1",
    "kind": "investor",
    "name": "Sujin Lee",
    "email": "sujin@blue.vc",
    "language": "en",
    "organisation": "Blue Ventures",
    "contact_person": None,
    "website": None,
}


def event(event_type, payload):
    return parse_event(new_event(event_type, payload))


def sign_in_requested(email="Lee@VC.kr", language="ko", minutes=15):
    expires_at = clock.to_iso(NOW + timedelta(minutes=minutes))
    return event(
        "registration.sign_in_link_requested",
        {"email": email, "language": language, "link_token": TOKEN, "expires_at": expires_at},
    )


def answered(accepted):
    return event(
        "matching.interest_answered",
        {"interest_id": "i-1:c-1", "investor_id": "i-1", "company_id": "c-1", "accepted": accepted},
    )


def rendered(planned, contact, counterpart=None, now=NOW):
    return domain.render(planned.kind, planned.data, contact, SITE, counterpart=counterpart, now=now)


# sign-in links


def test_a_sign_in_link_goes_to_an_id_derived_from_the_address_never_the_address():
    first = sign_in_requested("Lee@VC.kr")
    (planned,) = domain.plan(first)
    assert planned.kind == domain.SIGN_IN_KIND == "sign_in_link"
    assert planned.recipient_id == derived_id("sign-in", "lee@vc.kr")
    assert "lee" not in planned.recipient_id.lower()
    # any spelling of the address's case is the same recipient; the event decides the id
    (other,) = domain.plan(sign_in_requested("lee@vc.KR"))
    assert other.recipient_id == planned.recipient_id and other.id != planned.id
    assert domain.plan(first) == [planned]
    assert planned.data["link_token"] == TOKEN and planned.counterpart_id is None


@pytest.mark.parametrize(
    ("language", "subject", "valid", "ignore"),
    [
        ("ko", "[기술동행] 로그인 링크", "링크는 15분 동안", "요청하지 않으셨다면 이 메일을 무시"),
        ("en", "[Tech Companion] Your sign-in link", "valid for 15 minutes", "did not ask for this, ignore"),
    ],
)
def test_the_sign_in_email_holds_the_link_and_how_long_it_is_valid(language, subject, valid, ignore):
    (planned,) = domain.plan(sign_in_requested(language=language))
    contact = domain.addressee(planned.data)
    assert contact == {"name": "", "email": "Lee@vc.kr", "language": language}
    got_subject, body = rendered(planned, contact)
    assert got_subject == subject
    assert f"\n{SITE['base_url']}/sign-in/{TOKEN}\n" in body
    assert valid in body and ignore in body and "{" not in body


def test_the_validity_is_counted_from_the_expiry_when_the_email_goes():
    (planned,) = domain.plan(sign_in_requested(language="en", minutes=15))
    later = NOW + timedelta(minutes=14, seconds=10)
    assert "valid for 1 minute and" in rendered(planned, domain.addressee(planned.data), now=later)[1]
    assert domain.minutes_left(planned.data["expires_at"], NOW) == 15
    assert not domain.link_expired(planned.data["expires_at"], later)
    assert domain.link_expired(planned.data["expires_at"], NOW + timedelta(minutes=14, seconds=40))
    assert domain.link_expired(planned.data["expires_at"], NOW + timedelta(hours=1))
    assert domain.link_expired("not a time", NOW)
    with pytest.raises(ValueError):  # a sign-in e-mail cannot be written without the time
        domain.render(planned.kind, planned.data, domain.addressee(planned.data), SITE)


def test_what_is_kept_of_a_sign_in_email_has_neither_link_nor_address():
    (planned,) = domain.plan(sign_in_requested(language="en"))
    _, body = rendered(planned, domain.addressee(planned.data))
    kept_body = domain.redacted(planned.kind, planned.data, body)
    assert TOKEN not in kept_body and f"/sign-in/{domain.REDACTED}" in kept_body
    kept = domain.kept_data(planned.kind, planned.data)
    assert kept == {"language": "en", "expires_at": planned.data["expires_at"]}
    assert TOKEN not in str(kept) and "vc.kr" not in str(kept).lower()
    # a relay's refusal may quote the address, in any case
    refusal = "550 b'5.1.1 <lee@vc.kr>: Recipient address rejected'"
    assert domain.redacted(planned.kind, planned.data, refusal) == (
        f"550 b'5.1.1 <{domain.REDACTED}>: Recipient address rejected'"
    )
    # every other kind keeps what it had
    confirmation = {"registrant_kind": "company", "email": "lee@vc.kr"}
    assert domain.kept_data("registration_confirmed", confirmation) is None
    assert domain.redacted("registration_confirmed", confirmation, body) == body
    assert domain.redacted("registration_confirmed", confirmation, refusal) == refusal


def test_sign_in_emails_are_never_in_the_inbox_and_are_purged_after_a_day():
    assert domain.SIGN_IN_KIND in domain.HIDDEN_FROM_INBOX
    assert domain.sign_in_purge_before(NOW) == NOW - timedelta(hours=24)


# registration e-mails


def test_the_confirmation_names_the_number_and_sends_to_the_sign_in_page():
    created = event(
        "registration.created",
        {
            "registration_id": "i-1",
            "kind": "investor",
            "expo_id": "expo-2026",
            "revision": 1,
            "contact": {"name": "Sujin Lee", "email": "sujin@blue.vc", "language": "en"},
        },
    )
    (planned,) = domain.plan(created)
    for language in ("ko", "en"):
        _, body = rendered(planned, {**INVESTOR, "language": language})
        assert f"{reference_of('i-1')}\n" in body and "\nhttp://expo.test/my\n" in body
        assert "manage token" not in body and "관리 토큰" not in body
    _, body = rendered(planned, INVESTOR)
    assert "as an investor" in body and "sign in with this e-mail address" in body and "one-time" in body
    _, body = rendered(planned, {**INVESTOR, "language": "ko"})
    assert "투자자로 등록해" in body and "(으)로" not in body and "로그인 링크를 메일로" in body


def test_a_change_is_told_with_the_number_and_a_link_to_my_page():
    (planned,) = domain.plan(
        event(
            "registration.updated",
            {
                "registration_id": "c-1",
                "kind": "company",
                "expo_id": "expo-2026",
                "revision": 3,
                "contact": {"name": "Dasom Care", "email": "hello@dasom.kr", "language": "ko"},
            },
        )
    )
    subject, body = rendered(planned, {**COMPANY, "language": "ko"})
    assert subject == "[기술동행] 2026 기술동행 박람회 등록 내용이 변경되었습니다"
    assert f"등록 번호 {reference_of('c-1')}" in body and "\nhttp://expo.test/my\n" in body
    subject, body = rendered(planned, COMPANY)
    assert subject == "[Tech Companion] Your registration for Tech Companion Expo 2026 was changed"
    assert f"(number {reference_of('c-1')}) was changed" in body


# interest


def test_interest_received_names_the_investor_by_organisation_and_person():
    (planned,) = domain.plan(
        event(
            "matching.interest_expressed",
            {"interest_id": "i-1:c-1", "investor_id": "i-1", "company_id": "c-1"},
        )
    )
    assert (planned.recipient_id, planned.counterpart_id) == ("c-1", "i-1")
    _, body = rendered(planned, COMPANY, INVESTOR)
    assert "Sujin Lee of Blue Ventures has expressed interest" in body
    assert "sujin@blue.vc" not in body  # the address only once the company accepts
    assert "\nhttp://expo.test/my/c-1/suggestions\n" in body
    _, body = rendered(planned, {**COMPANY, "language": "ko"}, INVESTOR)
    assert "투자자: Blue Ventures Sujin Lee" in body


def test_an_accepted_interest_gives_each_side_the_others_contact_card():
    accepted = answered(True)
    to_investor, to_company = domain.plan(accepted)
    assert (to_investor.kind, to_investor.recipient_id, to_investor.counterpart_id) == (
        "interest_answered",
        "i-1",
        "c-1",
    )
    assert (to_company.kind, to_company.recipient_id, to_company.counterpart_id) == (
        "contact_shared",
        "c-1",
        "i-1",
    )
    assert to_investor.id != to_company.id and domain.plan(accepted) == [to_investor, to_company]

    subject, body = rendered(to_investor, INVESTOR, COMPANY)
    assert subject == "[Tech Companion] Dasom Care accepted your interest"
    assert (
        "  Organisation: Dasom Care\n  Contact person: Dasom Kim\n"
        "  E-mail: hello@dasom.kr\n  Website: https://dasom.kr\n"
    ) in body
    assert "\nhttp://expo.test/my/i-1/suggestions\n" in body

    subject, body = rendered(to_company, COMPANY, INVESTOR)
    assert subject == "[Tech Companion] Contact details of Sujin Lee of Blue Ventures"
    assert "  Organisation: Blue Ventures\n  Contact person: Sujin Lee\n  E-mail: sujin@blue.vc\n\n" in body
    assert "\nhttp://expo.test/my/c-1/suggestions\n" in body

    _, body = rendered(to_company, {**COMPANY, "language": "ko"}, INVESTOR)
    assert "  기관: Blue Ventures\n  담당자: Sujin Lee\n  이메일: sujin@blue.vc\n" in body


def test_a_declined_interest_is_told_politely_without_a_contact():
    (planned,) = domain.plan(answered(False))
    assert (planned.kind, planned.recipient_id, planned.counterpart_id) == ("interest_answered", "i-1", "c-1")
    subject, body = rendered(planned, INVESTOR, COMPANY)
    assert subject == "[Tech Companion] An answer to your interest in Dasom Care"
    assert "Thank you for your interest in Dasom Care" in body
    assert "hello@dasom.kr" not in body and "dasom.kr" not in body and "Dasom Kim" not in body
    _, body = rendered(planned, {**INVESTOR, "language": "ko"}, COMPANY)
    assert "감사합니다" in body and "hello@dasom.kr" not in body and "Dasom Kim" not in body


def test_a_contact_card_shows_what_is_known():
    assert domain.card_fields(COMPANY) == {
        "organisation": "Dasom Care",  # a company registers under its own name
        "person": "Dasom Kim",
        "email": "hello@dasom.kr",
        "website": "https://dasom.kr",
    }
    assert domain.card_fields({**INVESTOR, "organisation": None}) == {
        "person": "Sujin Lee",
        "email": "sujin@blue.vc",
    }
    assert domain.party_name({**INVESTOR, "organisation": None}, "en") == "Sujin Lee"
    assert domain.party_name({**COMPANY, "contact_person": None}, "ko") == "Dasom Care"


# every e-mail, in both languages


def every_email():
    """(kind, language, subject, body) of every transactional e-mail and the digest."""
    sign_in = domain.plan(sign_in_requested())[0]
    cases = [
        ("registration_confirmed", {"registrant_kind": "attendee"}, None),
        ("registration_confirmed", {"registrant_kind": "attendee", "waiting_position": 3}, None),
        ("registration_promoted", {"registrant_kind": "attendee"}, None),
        (
            "registration_promoted",
            {"registrant_kind": "attendee", "offer_expires_at": "2026-08-01T09:30:00.000000Z"},
            None,
        ),
        ("registration_changed", {"registrant_kind": "company"}, None),
        ("registration_cancelled", {"registrant_kind": "investor"}, None),
        ("interest_received", {}, INVESTOR),
        ("interest_answered", {"accepted": True}, COMPANY),
        ("interest_answered", {"accepted": False}, COMPANY),
        ("contact_shared", {}, INVESTOR),
        (domain.SIGN_IN_KIND, sign_in.data, None),
    ]
    for language in ("ko", "en"):
        contact = {**INVESTOR, "language": language}
        for kind, data, counterpart in cases:
            subject, body = domain.render(kind, data, contact, SITE, counterpart=counterpart, now=NOW)
            yield kind, language, subject, body
        items = [
            domain.announcement(
                {
                    "recipient_id": "i-1",
                    "recipient_kind": "investor",
                    "counterpart_id": f"c{n}",
                    "score": 50.0,
                    "shared_tags": ["dementia"],
                },
                "e",
                "t",
            )
            for n in range(6)
        ]
        for count in (1, 6):
            subject, body = domain.render_digest(items[:count], contact, {}, SITE)
            yield domain.DIGEST_KIND, language, subject, body


def test_every_link_in_an_email_lands_on_a_page_never_on_the_api():
    expected = {
        "registration_confirmed": "http://expo.test/my",
        "registration_changed": "http://expo.test/my",
        "registration_promoted": "http://expo.test/my",
        "registration_cancelled": "http://expo.test/",
        "interest_received": "http://expo.test/my/i-1/suggestions",
        "interest_answered": "http://expo.test/my/i-1/suggestions",
        "contact_shared": "http://expo.test/my/i-1/suggestions",
        domain.SIGN_IN_KIND: f"http://expo.test/sign-in/{TOKEN}",
        domain.DIGEST_KIND: "http://expo.test/my/i-1/suggestions",
    }
    for kind, language, _, body in every_email():
        links = set(re.findall(r"https?://expo\.test\S*", body))
        assert links == {expected[kind]}, (kind, language, links)


def test_no_email_reads_a_attendee_or_1_new_companies():
    for kind, language, subject, body in every_email():
        text = f"{subject}\n{body}"
        if language == "en":
            assert not re.search(r"\b[Aa] (?!one)[aeiouAEIOU]", text), (kind, text)  # "a one-time" is right
            assert not re.search(r"\b[Aa]n [^aeiouAEIOU\W]", text), (kind, text)
            assert not re.search(r"\b1 (new )?[a-z]+s\b", text), (kind, text)
            assert not re.search(r"\b([02-9]|\d\d+) (new )?(suggestion|minute|company|investor)\b", text)
        else:
            assert "(으)로" not in text and "(이)" not in text and "은(는)" not in text, (kind, text)
        assert "{" not in text and "}" not in text


@pytest.mark.parametrize(
    ("minutes", "language", "phrase"),
    [(1, "en", "1 minute"), (15, "en", "15 minutes"), (1, "ko", "1분"), (15, "ko", "15분")],
)
def test_minutes_are_singular_or_plural_in_english_and_counted_in_korean(minutes, language, phrase):
    assert domain.minutes_phrase(minutes, language) == phrase


@pytest.mark.parametrize(
    "kind",
    ["registration_confirmed", "registration_changed", "registration_cancelled", "registration_promoted"],
)
def test_a_carer_is_greeted_as_the_contact_and_told_whom_the_registration_is_for(kind):
    attendee = {"registration_id": "a-1", "name": "김순자", "email": "carer@example.kr", "language": "ko"}
    data = {"registrant_kind": "attendee"}
    _, korean = domain.render(kind, data, {**attendee, "carer_name": "박보호"}, SITE)
    assert korean.startswith("박보호님, 안녕하세요.\n\n김순자님을 대신해 등록해 주셨기에")
    _, english = domain.render(kind, data, {**attendee, "language": "en", "carer_name": "Park Bo"}, SITE)
    assert english.startswith("Hello Park Bo,\n\nYou registered 김순자, who is coming: as their contact")
    _, own = domain.render(kind, data, {**attendee, "carer_name": None}, SITE)
    assert own.startswith("김순자님, 안녕하세요.\n\n") and "대신해" not in own


def test_the_carers_name_travels_with_the_contact_and_the_companions_names_do_not():
    from registration import domain as registration_domain

    data = {
        "name": "김순자",
        "email": "carer@example.kr",
        "language": "ko",
        "attendee_type": "citizen",
        "consents": {"privacy": True},
        "companions": 1,
        "companion_names": ["이민호"],
        "carer_name": "박보호",
    }
    _, events = registration_domain.register("attendee", data, "expo-2026", "hash", clock.now_iso())
    (created,) = events
    contact = parse_event(created).payload["contact"]
    assert contact["carer_name"] == "박보호" and "이민호" not in str(created)
    _, own = registration_domain.register(
        "attendee", {**data, "carer_name": None}, "expo-2026", "hash", clock.now_iso()
    )
    assert parse_event(own[0]).payload["contact"]["carer_name"] is None
