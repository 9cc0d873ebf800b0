"""The notification service as a real process, sending to a real SMTP server on loopback."""

import uuid

import pytest

from deploy.local import mailsink
from shared.contracts.events import new_event
from tests.conftest import free_port, received_mail, service_env, wait_for
from tests.integration.service_helpers import start_service


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


def registered(registration_id, language="ko", kind="investor"):
    return new_event(
        "registration.created",
        {
            "registration_id": registration_id,
            "kind": kind,
            "expo_id": "expo-2026",
            "revision": 1,
            "contact": {
                "name": "이수진" if language == "ko" else "Sujin Lee",
                "email": f"{registration_id}@example.kr",
                "language": language,
            },
        },
    )


def mail_to(directory, registration_id):
    return [m for m in received_mail(directory) if registration_id in m["To"]]


def inbox(notification, registration_id, count=1, status="sent"):
    return wait_for(
        lambda: (
            (items := notification.call("notification", "inbox_of", registration_id))
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
    assert len(notification.call("notification", "inbox_of", registration_id)) == 1
    assert len(mail_to(sink, registration_id)) == 1


def test_english_registrant_gets_english(notification, publish, sink):
    registration_id = f"r-{uuid.uuid4().hex[:8]}"
    publish(registered(registration_id, language="en"))
    (message,) = wait_for(lambda: mail_to(sink, registration_id), message="the e-mail")
    assert "confirmed" in message["Subject"] and "Hello Sujin Lee" in message.get_content()
    assert message["Content-Language"] == "en"


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
        items = notification.call("notification", "inbox_of", investor)
        sent = {item["kind"] for item in items if item["status"] == "sent"}
        return sent == {"registration_confirmed", "suggestions_digest"} and items

    items = wait_for(told, message="the confirmation and the first digest, sent")
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
            {(i["kind"], i["status"]) for i in notification.call("notification", "inbox_of", investor)}
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
            for i in notification.call("notification", "inbox_of", registration_id)
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
    wait_for(lambda: notification.call("notification", "inbox_of", registration_id) == [], message="erasure")
    publish(registered(registration_id))  # a late copy of the old event must not bring them back
    publish(suggested_v1(registration_id, ["c"]))
    marker = f"r-{uuid.uuid4().hex[:8]}"
    publish(registered(marker))
    inbox(notification, marker)
    assert notification.call("notification", "inbox_of", registration_id) == []
