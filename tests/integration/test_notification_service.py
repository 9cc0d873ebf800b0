"""The notification service as a real process, sending to a real SMTP server on loopback."""

import secrets
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from deploy.local import mailsink
from notification.handlers import Notifier
from notification.store import NotificationStore
from shared import clock
from shared.contracts.events import derived_id, new_event
from shared.contracts.registration import reference_of
from shared.settings import Settings
from tests.conftest import acting_for, free_port, received_mail, service_env, wait_for
from tests.integration.service_helpers import new_id, start_service

BASE_URL = "http://expo.test"


@pytest.fixture(scope="module")
def mail(tmp_path_factory):
    """The SMTP port the service sends to; the sink on it is started and stopped by the tests."""
    return {"port": free_port(), "dir": tmp_path_factory.mktemp("mail")}


@pytest.fixture(scope="module")
def notification(amqp_uri, store_server, mail, tmp_path_factory):
    env = service_env(
        amqp_uri,
        store_server["uri"],
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(mail["port"]),
        SMTP_RETRY_BASE_SECONDS="0.3",
        PUBLIC_BASE_URL=BASE_URL,
        # three seconds: the first digest is due a window after the registration
        SUGGESTION_DIGEST_MINUTES="0.05",
    )
    process, client = start_service("notification", env, tmp_path_factory.mktemp("logs"))
    yield client
    client.close()
    process.stop()


@pytest.fixture
def sink(mail):
    controller = mailsink.start("127.0.0.1", mail["port"], mail["dir"])
    yield mail["dir"]
    controller.stop()


def registered(
    registration_id, language="ko", kind="investor", *, revision=1, event_type="created", **contact
):
    """A registration event; ``contact`` adds to or replaces fields of the contact."""
    return new_event(
        f"registration.{event_type}",
        {
            "registration_id": registration_id,
            "kind": kind,
            "expo_id": "expo-2026",
            "revision": revision,
            "contact": {
                "name": "이수진" if language == "ko" else "Sujin Lee",
                "email": f"{registration_id}@example.kr",
                "language": language,
                **contact,
            },
        },
    )


def mail_to(directory, registration_id):
    return [m for m in received_mail(directory) if registration_id in m["To"]]


def inbox(notification, registration_id, count=1, status="sent"):
    return wait_for(
        lambda: (
            (
                items := notification.call(
                    "notification", "inbox_of", registration_id, acting_for(registration_id)
                )
            )
            and len(items) >= count
            and all(i["status"] == status for i in items)
            and items
        ),
        message=f"{count} {status} notification(s)",
    )


def test_registration_is_confirmed_once_by_email_in_the_registrants_language(notification, publish, sink):
    registration_id = f"r-{uuid.uuid4().hex[:8]}"
    event = registered(registration_id, language="ko")
    publish(event)
    publish(event)  # delivered twice: still one notification, one e-mail
    (item,) = inbox(notification, registration_id)
    assert item["kind"] == "registration_confirmed" and item["attempts"] == 1
    (message,) = wait_for(lambda: mail_to(sink, registration_id), message="the e-mail")
    assert "등록이 완료" in message["Subject"] and "이수진" in message.get_content()
    assert message["Content-Language"] == "ko" and message.get_content_charset() == "utf-8"
    assert message["Message-ID"] == f"<{item['id']}@tech-companion-expo>"
    assert (
        len(notification.call("notification", "inbox_of", registration_id, acting_for(registration_id))) == 1
    )
    assert len(mail_to(sink, registration_id)) == 1


def test_english_registrant_gets_english(notification, publish, sink):
    registration_id = f"r-{uuid.uuid4().hex[:8]}"
    publish(registered(registration_id, language="en"))
    (message,) = wait_for(lambda: mail_to(sink, registration_id), message="the e-mail")
    assert "confirmed" in message["Subject"] and "Hello Sujin Lee" in message.get_content()
    assert message["Content-Language"] == "en"
    # the registration number, and the page where one signs in with this address
    body = message.get_content()
    assert f"Registration number: {reference_of(registration_id)}\n" in body
    assert f"\n{BASE_URL}/my\n" in body and "/api/" not in body


def of_kind(items, kind):
    return [item for item in items if item["kind"] == kind]


def test_suggestion_and_interest_events_notify_their_recipient(notification, publish, sink):
    investor, company = f"i-{uuid.uuid4().hex[:8]}", f"c-{uuid.uuid4().hex[:8]}"
    publish(registered(investor, "en"))
    publish(registered(company, "ko", kind="company"))
    inbox(notification, investor)
    inbox(notification, company)
    publish(suggested_v1(investor, [company], 77.5))  # a version 1 event, queued before an upgrade
    publish(
        new_event(
            "matching.interest_expressed",
            {"interest_id": f"{investor}:{company}", "investor_id": investor, "company_id": company},
        )
    )

    def told():
        items = notification.call("notification", "inbox_of", investor, acting_for(investor))
        sent = {item["kind"] for item in items if item["status"] == "sent"}
        return sent == {"registration_confirmed", "suggestions_digest"} and items

    items = wait_for(told, 15, message="the confirmation and the first digest, sent")
    (suggestion,) = of_kind(items, "suggestion")
    assert suggestion["status"] == "in_app" and "이수진" in suggestion["subject"]  # the company's name
    assert {item["kind"] for item in inbox(notification, company, 2)} == {
        "registration_confirmed",
        "interest_received",
    }
    wait_for(
        lambda: len(mail_to(sink, investor)) == 2 and len(mail_to(sink, company)) == 2, message="4 e-mails"
    )
    (digest,) = [m for m in mail_to(sink, investor) if "suggestion" in m["Subject"]]
    assert digest["Subject"] == "[Tech Companion] 1 new suggestion for you"
    assert "score 77.5 of 100" in digest.get_content() and digest["List-Unsubscribe-Post"]


def suggested_v1(recipient, counterparts, best_score=50.0):
    return new_event(
        "matching.suggested",
        {
            "recipient_id": recipient,
            "recipient_kind": "investor",
            "counterpart_ids": counterparts,
            "best_score": best_score,
        },
    )


def test_a_notification_waits_for_a_recipient_whose_contact_arrives_later(notification, publish, sink):
    investor = f"i-{uuid.uuid4().hex[:8]}"
    publish(suggested_v1(investor, ["c"]))
    wait_for(
        lambda: (
            {
                (i["kind"], i["status"])
                for i in notification.call("notification", "inbox_of", investor, acting_for(investor))
            }
            == {("suggestion", "in_app"), ("suggestions_digest", "queued")}
        ),
        message="the suggestion in-app and its digest waiting",
    )
    publish(registered(investor, "en"))
    wait_for(lambda: len(mail_to(sink, investor)) == 2, message="the confirmation and the digest")
    assert len(mail_to(sink, investor)) == 2


def test_mail_relay_down_then_back_is_retried_with_backoff_and_sent_once(notification, publish, mail):
    registration_id = f"r-{uuid.uuid4().hex[:8]}"
    publish(registered(registration_id))  # no sink is listening yet
    (item,) = wait_for(
        lambda: [
            i
            for i in notification.call(
                "notification", "inbox_of", registration_id, acting_for(registration_id)
            )
            if i["status"] == "queued" and i["attempts"] >= 2
        ],
        message="a queued notification with failed attempts",
    )
    controller = mailsink.start("127.0.0.1", mail["port"], mail["dir"])
    try:
        (sent,) = inbox(notification, registration_id)
        assert sent["attempts"] >= 3
        assert len(wait_for(lambda: mail_to(mail["dir"], registration_id))) == 1
    finally:
        controller.stop()


def test_erasure_destroys_the_contact_and_its_notifications(notification, publish, sink):
    registration_id = f"r-{uuid.uuid4().hex[:8]}"
    publish(registered(registration_id))
    inbox(notification, registration_id)
    publish(
        new_event(
            "registration.erased", {"registration_id": registration_id, "kind": "investor", "revision": 2}
        )
    )
    wait_for(
        lambda: (
            notification.call("notification", "inbox_of", registration_id, acting_for(registration_id)) == []
        ),
        message="erasure",
    )
    publish(registered(registration_id))  # a late copy of the old event must not bring them back
    publish(suggested_v1(registration_id, ["c"]))
    marker = f"r-{uuid.uuid4().hex[:8]}"
    publish(registered(marker))
    inbox(notification, marker)
    assert notification.call("notification", "inbox_of", registration_id, acting_for(registration_id)) == []


# the web app's e-mails: sign-in links, changes, and interest with contact cards


def sign_in_requested(email, language, link_token, minutes=15.0):
    return new_event(
        "registration.sign_in_link_requested",
        {
            "email": email,
            "language": language,
            "link_token": link_token,
            "expires_at": clock.iso_after(minutes * 60),
        },
    )


def stored_sign_in(mongo, email):
    """The stored records of sign-in e-mails to ``email`` (found by the id derived from it)."""
    recipient_id = derived_id("sign-in", email.lower())
    return list(mongo["notification"]["notifications"].find({"recipient_id": recipient_id}))


@pytest.mark.parametrize(
    ("language", "subject", "valid_for"),
    [
        ("ko", "[기술동행] 로그인 링크", "15분 동안"),
        ("en", "[Tech Companion] Your sign-in link", "valid for 15 minutes"),
    ],
)
def test_a_sign_in_link_is_emailed_at_once_and_not_kept(
    notification, publish, sink, mongo, language, subject, valid_for
):
    local = new_id("who")
    email = f"{local}@Example.kr"  # the case of an address does not make another recipient
    token = secrets.token_urlsafe(32)
    event = sign_in_requested(email, language, token)
    publish(event)
    publish(event)  # delivered twice: one e-mail
    (message,) = wait_for(lambda: mail_to(sink, local), message="the sign-in e-mail")
    body = message.get_content()
    assert message["Subject"] == subject and message["Content-Language"] == language
    assert f"\n{BASE_URL}/sign-in/{token}\n" in body and valid_for in body
    assert message["List-Unsubscribe"] is None  # transactional

    (record,) = wait_for(
        lambda: [r for r in stored_sign_in(mongo, email) if r["status"] == "sent"], message="the record, sent"
    )
    assert record["kind"] == "sign_in_link" and record["attempts"] == 1
    assert message["Message-ID"] == f"<{record['_id']}@tech-companion-expo>"
    # neither the link nor the address is kept: the database cannot sign anyone in
    assert token not in str(record) and local not in str(record).lower()
    assert "/sign-in/[removed]" in record["body"] and record["data"] == {
        "language": language,
        "expires_at": event["payload"]["expires_at"],
    }
    assert (
        notification.call(
            "notification", "inbox_of", record["recipient_id"], acting_for(record["recipient_id"])
        )
        == []
    )
    assert len(mail_to(sink, local)) == 1


def test_a_sign_in_link_that_expired_before_it_could_go_is_not_sent(notification, publish, sink, mongo):
    local = new_id("late")
    email = f"{local}@example.kr"
    token = secrets.token_urlsafe(32)
    publish(sign_in_requested(email, "en", token, minutes=-1))
    (record,) = wait_for(
        lambda: [r for r in stored_sign_in(mongo, email) if r["status"] == "failed"], message="given up"
    )
    assert token not in str(record) and local not in str(record) and "expired" in record["last_error"]
    marker = new_id("r")  # handled after it: had it been sent, it would be at the sink by now
    publish(registered(marker, "en"))
    wait_for(lambda: mail_to(sink, marker), message="the marker's e-mail")
    assert mail_to(sink, local) == []


def test_sign_in_records_older_than_a_day_are_purged(mongo):
    store = NotificationStore(mongo[f"notification_purge_{uuid.uuid4().hex[:8]}"])
    store.prepare()
    now = datetime.now(UTC)

    def record(name, kind, hours_ago):
        made = clock.to_iso(now - timedelta(hours=hours_ago))
        return {"_id": name, "recipient_id": "x", "kind": kind, "status": "sent", "created_at": made}

    store.notifications.insert_many(
        [
            record("old sign-in", "sign_in_link", 24.1),
            record("recent sign-in", "sign_in_link", 23.9),
            record("old confirmation", "registration_confirmed", 48),
        ]
    )
    assert Notifier(store, None, None, Settings.from_env()).purge_sign_in_records() == 1
    assert {d["_id"] for d in store.notifications.find()} == {"recent sign-in", "old confirmation"}


def test_a_change_is_emailed_with_the_number_and_a_link_to_my_page(notification, publish, sink):
    registration_id = new_id("r")
    publish(registered(registration_id, "en"))
    inbox(notification, registration_id)
    publish(registered(registration_id, "en", revision=2, event_type="updated", name="Sujin Park"))
    (message,) = wait_for(
        lambda: [m for m in mail_to(sink, registration_id) if "changed" in m["Subject"]], message="the e-mail"
    )
    body = message.get_content()
    assert message["Subject"] == "[Tech Companion] Your registration for Tech Companion Expo 2026 was changed"
    assert "Hello Sujin Park" in body  # the contact is kept up to date, as before
    assert f"(number {reference_of(registration_id)})" in body and f"\n{BASE_URL}/my\n" in body
    assert {item["kind"] for item in inbox(notification, registration_id, 2)} == {
        "registration_confirmed",
        "registration_changed",
    }


def interest(event_type, investor, company, **answer):
    return new_event(
        f"matching.{event_type}",
        {"interest_id": f"{investor}:{company}", "investor_id": investor, "company_id": company, **answer},
    )


def mail_about(sink, recipient, words):
    return [m for m in mail_to(sink, recipient) if words in m["Subject"]]


def test_an_accepted_interest_sends_each_side_the_others_contact_card(notification, publish, sink):
    investor, company = new_id("i"), new_id("c")
    publish(registered(investor, "en", organisation="Blue Ventures"))
    publish(
        registered(
            company,
            "en",
            kind="company",
            name="Dasom Care",
            contact_person="Dasom Kim",
            website="https://dasom.example",
        )
    )
    inbox(notification, investor)
    inbox(notification, company)

    publish(interest("interest_expressed", investor, company))
    (received,) = wait_for(lambda: mail_about(sink, company, "interested"), message="interest received")
    body = received.get_content()
    assert "Sujin Lee of Blue Ventures has expressed interest in your company" in body
    assert f"\n{BASE_URL}/my/{company}/suggestions\n" in body and investor not in body  # no address yet

    publish(interest("interest_answered", investor, company, accepted=True))
    (accepted,) = wait_for(lambda: mail_about(sink, investor, "accepted"), message="the investor's")
    assert accepted["Subject"] == "[Tech Companion] Dasom Care accepted your interest"
    body = accepted.get_content()
    assert (
        "  Organisation: Dasom Care\n  Contact person: Dasom Kim\n"
        f"  E-mail: {company}@example.kr\n  Website: https://dasom.example\n"
    ) in body
    assert f"\n{BASE_URL}/my/{investor}/suggestions\n" in body
    (shared,) = wait_for(lambda: mail_about(sink, company, "Contact details"), message="the company's")
    assert shared["Subject"] == "[Tech Companion] Contact details of Sujin Lee of Blue Ventures"
    assert (
        f"  Organisation: Blue Ventures\n  Contact person: Sujin Lee\n  E-mail: {investor}@example.kr\n"
    ) in shared.get_content()
    assert shared["List-Unsubscribe"] is None and accepted["List-Unsubscribe"] is None
    assert {item["kind"] for item in inbox(notification, company, 3)} == {
        "registration_confirmed",
        "interest_received",
        "contact_shared",
    }

    # erasing the investor deletes the company's copies that named them, card and all
    publish(
        new_event("registration.erased", {"registration_id": investor, "kind": "investor", "revision": 2})
    )
    wait_for(
        lambda: (
            {i["kind"] for i in notification.call("notification", "inbox_of", company, acting_for(company))}
            == {"registration_confirmed"}
        ),
        message="the copies naming the erased investor, deleted",
    )


def test_an_interest_waits_for_the_contact_it_names_and_a_decline_shares_none(notification, publish, sink):
    investor, company = new_id("i"), new_id("c")
    publish(registered(company, "ko", kind="company", name="다솜케어", contact_person="김다솜"))
    inbox(notification, company)
    publish(interest("interest_expressed", investor, company))  # the investor's contact is not here yet
    wait_for(
        lambda: [
            i
            for i in notification.call("notification", "inbox_of", company, acting_for(company))
            if i["kind"] == "interest_received" and i["status"] == "queued"
        ],
        message="the interest e-mail waiting for the investor's contact",
    )
    assert mail_about(sink, company, "관심") == []
    publish(registered(investor, "ko", organisation="블루벤처스"))
    (received,) = wait_for(lambda: mail_about(sink, company, "관심"), message="sent once it is known")
    assert "투자자: 블루벤처스 이수진\n" in received.get_content()

    publish(interest("interest_answered", investor, company, accepted=False))
    (declined,) = wait_for(lambda: mail_about(sink, investor, "답변"), message="the decline")
    body = declined.get_content()
    assert declined["Subject"] == "[기술동행] 관심 표시에 대한 답변이 도착했습니다: 다솜케어"
    assert "감사합니다" in body and company not in body and "김다솜" not in body
    assert f"\n{BASE_URL}/my/{investor}/suggestions\n" in body
    marker = new_id("r")
    publish(registered(marker, "en"))
    wait_for(lambda: mail_to(sink, marker), message="a marker handled after it")
    assert len(mail_to(sink, company)) == 2  # the confirmation and the interest: no card on a decline
