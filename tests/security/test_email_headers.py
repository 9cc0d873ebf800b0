"""E-mail addresses and names that try to add or split a header, or to reach an internal host,
are refused where they come in (the API's schemas), where they are consumed (events), and once
more by the mailer, against a real SMTP server on loopback."""

import pytest
from marshmallow import ValidationError

from notification.mailer import Attachment, PermanentFailure, SmtpMailer
from shared.contracts.events import InvalidEvent, parse_event
from shared.contracts.fields import deliverable_address
from shared.contracts.registration import load_registration
from shared.settings import Settings
from tests.conftest import received_mail

# control characters a quoted local part let through, which header folding turned into a raw
# line break in To: (the Subject, Message-ID and Date then fell out of the headers)
HEADER_BREAKING_ADDRESSES = [
    f'"x{control}Bcc: victim@example.kr"@example.kr' for control in ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e")
] + ['"a\\"b"@example.kr', "x\r\nBcc: victim@example.kr@example.kr", "x@exa\nmple.kr"]
INTERNAL_HOST_ADDRESSES = [
    "x@[127.0.0.1]",
    "x@[169.254.169.254]",
    "x@[IPv6:::1]",
    "x@localhost",
    "x@intranet",
    "x@db.internal",
    "x@printer.local",
    "x@host.invalid",
    "x@10.0.0.1",
]
NAMES_WITH_CONTROLS = [
    "Kim\r\nBcc: victim@example.kr",
    "Kim\x0bBcc",
    "Kim\x85Park",  # C1 next line
    "Kim\u2028Park",  # line separator
    "\u202eevil\u202c",  # right-to-left override (Trojan Source)
    "abc\u2066def\u2069",
]


def attendee(**change) -> dict:
    return {
        "name": "김민지",
        "email": "minji@example.kr",
        "attendee_type": "citizen",
        "consents": {"privacy": True},
        **change,
    }


@pytest.mark.parametrize("address", HEADER_BREAKING_ADDRESSES + INTERNAL_HOST_ADDRESSES)
def test_an_address_that_breaks_headers_or_reaches_an_internal_host_is_refused_at_registration(address):
    with pytest.raises(ValidationError) as refused:
        load_registration("attendee", attendee(email=address))
    assert "email" in refused.value.messages


@pytest.mark.parametrize("name", NAMES_WITH_CONTROLS)
def test_a_name_with_control_or_direction_override_characters_is_refused_at_registration(name):
    with pytest.raises(ValidationError) as refused:
        load_registration("attendee", attendee(name=name))
    assert "name" in refused.value.messages


def test_reserved_domains_are_refused_unless_the_deployment_allows_them():
    for address in ("x@example.org", "x@mail.example.com", "x@expo.test"):
        with pytest.raises(ValueError):
            deliverable_address(address)
    assert deliverable_address("x@expo.example.org", ["example.org"]) == "x@expo.example.org"
    assert deliverable_address("x@Expo.TEST", ["test"]) == "x@expo.test"
    assert deliverable_address("o'brien+expo@한국.kr") == "o'brien+expo@한국.kr"


def contact_event(**contact) -> dict:
    payload = {
        "registration_id": "r-1",
        "kind": "attendee",
        "expo_id": "expo-2026",
        "revision": 1,
        "contact": {"name": "김민지", "email": "minji@example.kr", "language": "ko", **contact},
    }
    # as a forged message on the broker would carry it: new_event would refuse to make it
    return {
        "event_id": "6f1d8c2e-4b7a-5e0f-9a3c-2d8e7b1f0c45",
        "type": "registration.created",
        "version": 1,
        "occurred_at": "2026-12-01T09:00:00.000000Z",
        "payload": payload,
    }


@pytest.mark.parametrize(
    "contact",
    [{"email": address} for address in HEADER_BREAKING_ADDRESSES[:3] + INTERNAL_HOST_ADDRESSES[:3]]
    + [{"name": name} for name in NAMES_WITH_CONTROLS[:3]],
)
def test_a_forged_event_with_a_hostile_contact_is_refused_when_consumed(contact):
    with pytest.raises(InvalidEvent):
        parse_event(contact_event(**contact))


@pytest.fixture
def mailer(smtp_sink):
    settings = Settings.from_env(
        {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_sink["port"]), "EMAIL_RESERVED_DOMAINS_ALLOWED": ""}
    )
    sender = SmtpMailer(settings)
    yield sender
    sender.close()


def send(mailer: SmtpMailer, **change) -> None:
    message = {
        "to_name": "김민지",
        "to_address": "minji@example.kr",
        "subject": "등록 확인",
        "body": "안녕하세요",
        "message_id": "<m-1@expo.example.org>",
        "language": "ko",
        **change,
    }
    mailer.send(**message)


@pytest.mark.parametrize(
    "change",
    [{"to_address": address} for address in HEADER_BREAKING_ADDRESSES + INTERNAL_HOST_ADDRESSES]
    + [{"to_name": name} for name in NAMES_WITH_CONTROLS]
    + [{"subject": "확인\r\nBcc: victim@example.kr"}, {"subject": "확인\u202e"}],
)
def test_the_mailer_refuses_a_hostile_recipient_name_or_subject_and_sends_nothing(mailer, smtp_sink, change):
    with pytest.raises(PermanentFailure):
        send(mailer, **change)
    assert received_mail(smtp_sink["dir"]) == []


@pytest.mark.parametrize(
    "attachment",
    [
        Attachment("event.ics\r\nBcc: victim@example.kr", "text/calendar", b"x"),
        Attachment('event".ics', "text/calendar", b"x"),
        Attachment("../event.ics", "text/calendar", b"x"),
        Attachment("page.html", "text/html", b"<script></script>"),
        Attachment(
            "event.ics", "text/calendar", b"x", parameters=(("method", "PUBLISH\r\nBcc: v@example.kr"),)
        ),
        Attachment("event.ics", "text/calendar", b"x", parameters=(("method\r\nBcc", "PUBLISH"),)),
    ],
)
def test_the_mailer_refuses_an_attachment_it_does_not_make_and_sends_nothing(mailer, smtp_sink, attachment):
    with pytest.raises(PermanentFailure):
        send(mailer, attachments=[attachment])
    assert received_mail(smtp_sink["dir"]) == []


def test_attachments_keep_every_header_in_place(mailer, smtp_sink):
    calendar = Attachment(
        "event.ics", "text/calendar", b"BEGIN:VCALENDAR", parameters=(("method", "PUBLISH"),)
    )
    send(mailer, subject="[기술동행] 내일 열리는 타운홀 안내", attachments=[calendar])
    (message,) = received_mail(smtp_sink["dir"])
    assert message["Subject"] == "[기술동행] 내일 열리는 타운홀 안내" and "Bcc" not in message
    assert message["To"].addresses[0].addr_spec == "minji@example.kr"
    (part,) = message.iter_attachments()
    assert part.get_filename() == "event.ics" and part.get_content() == "BEGIN:VCALENDAR"


def test_every_header_stays_in_place_for_a_korean_name_and_subject(mailer, smtp_sink):
    send(mailer, to_name="김민지 (보호자: 박영수)", subject="[기술동행] 등록이 확인되었습니다: 김민지")
    (message,) = received_mail(smtp_sink["dir"])
    assert message["To"].addresses[0].addr_spec == "minji@example.kr"
    assert message["To"].addresses[0].display_name == "김민지 (보호자: 박영수)"
    assert message["Subject"] == "[기술동행] 등록이 확인되었습니다: 김민지"
    assert message["Message-ID"] == "<m-1@expo.example.org>" and message["Date"]
    assert "Bcc" not in message and message.get_body(("plain",)).get_content().strip() == "안녕하세요"
