"""New suggestions as a real notification process handles them: announced once and shown in-app
at once, e-mailed in digests at most one per window, as each recipient chose, with a one-click
unsubscribe link; against the real broker, store and an SMTP server on loopback.

The digest window is made short here (SUGGESTION_DIGEST_MINUTES=0.1, six seconds)."""

import dataclasses
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from deploy.local import mailsink
from notification.mailer import PermanentFailure, SmtpMailer
from notification.store import SKIPPED, NotificationStore
from shared.contracts.events import new_event
from shared.errors import Invalid, NotFound
from shared.settings import Settings
from tests.conftest import acting_for, free_port, received_mail, service_env, wait_for
from tests.integration.service_helpers import new_id, start_service

WINDOW_SECONDS = 6


@pytest.fixture(scope="module")
def sink(tmp_path_factory):
    port, directory = free_port(), tmp_path_factory.mktemp("mail")
    controller = mailsink.start("127.0.0.1", port, directory)
    yield {"port": port, "dir": directory}
    controller.stop()


@pytest.fixture(scope="module")
def notification(amqp_uri, store_server, sink, tmp_path_factory):
    env = service_env(
        amqp_uri,
        store_server["uri"],
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(sink["port"]),
        SUGGESTION_DIGEST_MINUTES=str(WINDOW_SECONDS / 60),
        PUBLIC_BASE_URL="http://expo.test",
    )
    process, client = start_service("notification", env, tmp_path_factory.mktemp("logs"))
    yield client
    client.close()
    process.stop()


def register(publish, notification, registration_id, kind, name, language="en"):
    publish(
        new_event(
            "registration.created",
            {
                "registration_id": registration_id,
                "kind": kind,
                "expo_id": "expo-2026",
                "revision": 1,
                "contact": {"name": name, "email": f"{registration_id}@example.kr", "language": language},
            },
        )
    )
    wait_for(
        lambda: any(
            item["status"] == "sent"
            for item in notification.call(
                "notification", "inbox_of", registration_id, acting_for(registration_id)
            )
        ),
        message="the confirmation",
    )


def pair(investor, company, score=80.0, tags=("dementia", "vr_ar")):
    """A new pair, told to both sides, as matching announces it."""
    return [
        {
            "recipient_id": investor,
            "recipient_kind": "investor",
            "counterpart_id": company,
            "score": score,
            "shared_tags": list(tags),
        },
        {
            "recipient_id": company,
            "recipient_kind": "company",
            "counterpart_id": investor,
            "score": score,
            "shared_tags": list(tags),
        },
    ]


def suggested(party_id, suggestions):
    return new_event("matching.suggested", {"party_id": party_id, "suggestions": suggestions}, version=2)


def items_of(notification, recipient_id, kind=None):
    items = notification.call("notification", "inbox_of", recipient_id, acting_for(recipient_id))
    return [item for item in items if kind is None or item["kind"] == kind]


def mail_to(sink, recipient_id):
    return [m for m in received_mail(sink["dir"]) if recipient_id in m["To"]]


def digests_to(sink, recipient_id):
    return [m for m in mail_to(sink, recipient_id) if m["List-Unsubscribe"]]


def test_a_recorded_digest_is_left_as_it_is_a_skipped_one_is_due_again_and_a_new_one_recorded(mongo):
    database = mongo[f"digests_{uuid.uuid4().hex[:8]}"]
    store = NotificationStore(database)
    earlier, later = "2026-12-01T10:00:00.000000Z", "2026-12-01T11:00:00.000000Z"

    def digest(digest_id, status, due_at):
        return {
            "_id": digest_id,
            "recipient_id": "r-1",
            "kind": "suggestions_digest",
            "status": status,
            "due_at": due_at,
            "created_at": earlier,
            "updated_at": due_at,
        }

    try:
        database.notifications.insert_many(
            [digest("queued", "queued", earlier), digest("skipped", SKIPPED, earlier)]
        )
        new = store.add_digests(
            [
                digest("queued", "queued", later),
                digest("skipped", "queued", later),
                digest("new", "queued", later),
            ]
        )
        stored = {document["_id"]: document for document in database.notifications.find()}
        assert new == {"new"}
        assert (stored["queued"]["status"], stored["queued"]["due_at"]) == ("queued", earlier)
        assert (stored["skipped"]["status"], stored["skipped"]["due_at"]) == ("queued", later)
        assert (stored["new"]["status"], stored["new"]["due_at"]) == ("queued", later)
        assert store.add_digests([digest("new", "queued", later)]) == set()
    finally:
        mongo.drop_database(database.name)


def test_a_digest_takes_each_announcement_once_even_when_another_took_some_since_it_read(mongo):
    database = mongo[f"digests_{uuid.uuid4().hex[:8]}"]
    store = NotificationStore(database)
    store.announce(
        [{"_id": f"r-1>c-{n}", "recipient_id": "r-1", "counterpart_id": f"c-{n}"} for n in range(4)]
    )
    as_read_before = store.announced_to("r-1")
    try:
        assert {document["_id"] for document in store.take_for_digest("r-1", "first")} == {
            f"r-1>c-{n}" for n in range(4)
        }
        # sent again after a crash: the same
        assert len(store.take_for_digest("r-1", "first")) == 4
        assert store.take_for_digest("r-1", "second") == []

        store.announce([{"_id": "r-1>c-9", "recipient_id": "r-1", "counterpart_id": "c-9"}])
        stale = NotificationStore(database)
        stale.announced_to = lambda recipient_id: [*as_read_before, *store.announcements(["r-1>c-9"])]
        taken = stale.take_for_digest("r-1", "third")
        assert [(document["_id"], document["digest_id"]) for document in taken] == [("r-1>c-9", "third")]
    finally:
        mongo.drop_database(database.name)


def test_a_pair_is_announced_once_and_shown_in_app_at_once(notification, publish, sink, mongo):
    investor, company = new_id("i"), new_id("c")
    register(publish, notification, investor, "investor", "Sujin Lee")
    register(publish, notification, company, "company", "다솜케어", "ko")
    publish(suggested(company, pair(investor, company)))

    (shown,) = wait_for(lambda: items_of(notification, investor, "suggestion"), message="in-app at once")
    assert shown["status"] == "in_app" and shown["attempts"] == 0
    assert shown["subject"] == "[Tech Companion] New suggestion: 다솜케어"
    assert "you share Dementia and VR / AR" in shown["body"]
    assert shown["body"].endswith(f"http://expo.test/my/{investor}/suggestions")
    (told,) = wait_for(lambda: items_of(notification, company, "suggestion"), message="the company's")
    assert "치매, 가상·증강현실 분야에 관심 있는 투자자" in told["subject"] and "Sujin" not in str(told)

    # the same pair again, with other tags and score (churn): never announced again
    publish(suggested(investor, pair(investor, company, 95.0, ("elderly",))))
    publish(suggested(investor, pair(investor, new_id("c"), 60.0)[:1]))  # a marker handled after it
    wait_for(lambda: len(items_of(notification, investor, "suggestion")) == 2, message="the marker")
    assert len(items_of(notification, company, "suggestion")) == 1
    stored = mongo["notification"]["announced_suggestions"].find_one({"_id": f"{investor}|{company}"})
    assert stored["score"] == 80.0 and stored["shared_tags"] == ["dementia", "vr_ar"]
    # one digest each so far, a window after the registration
    wait_for(
        lambda: len(digests_to(sink, company)) == 1, WINDOW_SECONDS + 8, message="the company's first digest"
    )


def test_first_digest_a_window_after_registering_then_one_per_window_confirmations_not_held_back(
    notification, publish, sink
):
    investor = new_id("i")
    register(publish, notification, investor, "investor", "Sujin Lee")
    registered_at = time.monotonic()  # the confirmation's arrival, just after the registration
    companies = [new_id("c") for _ in range(3)]
    for number, company in enumerate(companies):
        register(publish, notification, company, "company", f"Company {number}")

    publish(suggested(companies[0], pair(investor, companies[0])))
    wait_for(lambda: items_of(notification, investor, "suggestion"), message="in-app at once")
    assert digests_to(sink, investor) == []  # the confirmation opened the window: not yet
    (first,) = wait_for(lambda: digests_to(sink, investor), WINDOW_SECONDS + 8, message="the first digest")
    first_at = time.monotonic()
    assert first_at - registered_at >= WINDOW_SECONDS - 1
    assert first["Subject"] == "[Tech Companion] 1 new suggestion for you"
    assert f"\nhttp://expo.test/my/{investor}/suggestions\n" in first.get_content()  # a page

    # two events within the next window: one digest, a window after the first
    publish(suggested(companies[1], pair(investor, companies[1], 70.0)))
    publish(suggested(companies[2], pair(investor, companies[2], 90.0)))
    wait_for(lambda: len(items_of(notification, investor, "suggestion")) == 3, message="both in-app")
    (queued,) = wait_for(
        lambda: [
            d for d in items_of(notification, investor, "suggestions_digest") if d["status"] == "queued"
        ],
        message="the next digest, waiting for its window",
    )

    # a transactional e-mail meanwhile goes at once
    publish(
        new_event(
            "matching.interest_answered",
            {
                "interest_id": f"{investor}:{companies[0]}",
                "investor_id": investor,
                "company_id": companies[0],
                "accepted": True,
            },
        )
    )
    answer = wait_for(
        lambda: [m for m in mail_to(sink, investor) if "accepted your interest" in m["Subject"]],
        message="the answer",
    )
    assert time.monotonic() - first_at < WINDOW_SECONDS - 1 and len(digests_to(sink, investor)) == 1
    assert answer[0]["List-Unsubscribe"] is None  # transactional: no unsubscribe header

    wait_for(lambda: len(digests_to(sink, investor)) == 2, WINDOW_SECONDS + 8, message="the second digest")
    assert time.monotonic() - first_at >= WINDOW_SECONDS - 1
    second = digests_to(sink, investor)[1]
    assert second["Subject"] == "[Tech Companion] 2 new suggestions for you"
    body = second.get_content()
    assert body.index("Company 2") < body.index("Company 1")  # best first
    assert "Company 0" not in body
    assert second["Message-ID"] == f"<{queued['id']}@tech-companion-expo>"
    time.sleep(2)
    assert len(digests_to(sink, investor)) == 2  # nothing left to tell: no third


def test_preference_off_means_no_digest_and_unsubscribe_turns_only_suggestions_off(
    notification, publish, sink
):
    quiet, loud, company = new_id("i"), new_id("i"), new_id("c")
    for investor in (quiet, loud):
        register(publish, notification, investor, "investor", "Sujin Lee")
    register(publish, notification, company, "company", "Dasom Care")
    assert notification.call("notification", "preferences", quiet, acting_for(quiet)) == {
        "suggestion_emails": "hourly"
    }
    assert notification.call(
        "notification", "set_preferences", quiet, {"suggestion_emails": "off"}, acting_for(quiet)
    ) == {"suggestion_emails": "off"}
    with pytest.raises(Invalid):
        notification.call(
            "notification", "set_preferences", quiet, {"suggestion_emails": "weekly"}, acting_for(quiet)
        )
    with pytest.raises(NotFound):  # nobody known by that id, and no promise that they exist
        nobody = new_id("x")
        notification.call(
            "notification", "set_preferences", nobody, {"suggestion_emails": "off"}, acting_for(nobody)
        )

    publish(suggested(company, pair(quiet, company) + pair(loud, company)[:1]))
    wait_for(lambda: items_of(notification, quiet, "suggestion"), message="in-app, even when off")
    (digest,) = wait_for(
        lambda: digests_to(sink, loud), WINDOW_SECONDS + 8, message="the other investor's digest"
    )
    time.sleep(1.5)
    assert digests_to(sink, quiet) == [] and items_of(notification, quiet, "suggestions_digest") == []

    # the one-click link of the digest turns that recipient's suggestion e-mails off, only
    # a header longer than a line is folded before its value (valid RFC 5322; clients unfold)
    link = digest["List-Unsubscribe"].strip().strip("<>")
    assert link.startswith("http://expo.test/api/v1/unsubscribe?token=")
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # the text links to the page that asks first, with the same token
    assert link.replace("/api/v1/unsubscribe?", "/unsubscribe?") in digest.get_content()
    token = parse_qs(urlsplit(link).query)["token"][0]
    with pytest.raises(NotFound):
        notification.call("notification", "unsubscribe", token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
    with pytest.raises(NotFound):
        notification.call("notification", "unsubscribe", token.replace(loud, quiet))
    assert notification.call("notification", "preferences", loud, acting_for(loud)) == {
        "suggestion_emails": "hourly"
    }
    assert notification.call("notification", "unsubscribe", token) == {"suggestion_emails": "off"}
    assert notification.call("notification", "preferences", loud, acting_for(loud)) == {
        "suggestion_emails": "off"
    }
    assert notification.call("notification", "preferences", quiet, acting_for(quiet)) == {
        "suggestion_emails": "off"
    }


def test_daily_digest_waits_for_nine_in_seoul_and_immediate_sends_one_per_event(notification, publish, sink):
    daily, immediate, company = new_id("i"), new_id("i"), new_id("c")
    for investor in (daily, immediate):
        register(publish, notification, investor, "investor", "Sujin Lee")
    register(publish, notification, company, "company", "Dasom Care")
    notification.call(
        "notification", "set_preferences", daily, {"suggestion_emails": "daily"}, acting_for(daily)
    )
    notification.call(
        "notification",
        "set_preferences",
        immediate,
        {"suggestion_emails": "immediate"},
        acting_for(immediate),
    )
    publish(suggested(company, pair(daily, company)[:1] + pair(immediate, company)[:1]))
    (waiting,) = wait_for(lambda: items_of(notification, daily, "suggestions_digest"), message="daily digest")
    assert waiting["status"] == "queued"
    wait_for(lambda: len(digests_to(sink, immediate)) == 1, message="the immediate one")
    publish(suggested(new_id("c"), pair(immediate, new_id("c"))[:1]))
    wait_for(lambda: len(digests_to(sink, immediate)) == 2, message="one per event")
    assert digests_to(sink, daily) == []


def test_erasure_removes_the_announcements_of_and_about_the_person(notification, publish, sink, mongo):
    investor, company = new_id("i"), new_id("c")
    register(publish, notification, investor, "investor", "Sujin Lee")
    register(publish, notification, company, "company", "Dasom Care")
    publish(suggested(company, pair(investor, company)))
    wait_for(lambda: items_of(notification, investor, "suggestion"), message="in-app")
    publish(new_event("registration.erased", {"registration_id": company, "kind": "company", "revision": 2}))
    wait_for(lambda: not items_of(notification, investor, "suggestion"), message="the investor's, about it")
    assert notification.call("notification", "inbox_of", company, acting_for(company)) == []
    announced = mongo["notification"]["announced_suggestions"]
    assert announced.count_documents({"recipient_id": company}) == 0
    assert announced.count_documents({"counterpart_id": company}) == 0
    # a late copy naming the erased company announces nothing, to it or of it
    publish(suggested(company, pair(investor, company)))
    marker = new_id("c")
    publish(suggested(marker, pair(investor, marker)[:1]))
    wait_for(lambda: items_of(notification, investor, "suggestion"), message="the marker")
    assert [i["id"] for i in items_of(notification, investor, "suggestion")] == [f"{investor}|{marker}"]
    with pytest.raises(NotFound):
        notification.call("notification", "preferences", company, acting_for(company))


def test_one_event_of_many_suggestions_makes_one_digest_of_the_best_few(notification, publish, sink):
    investor = new_id("i")
    register(publish, notification, investor, "investor", "Sujin Lee", "ko")
    suggestions = [
        {
            "recipient_id": investor,
            "recipient_kind": "investor",
            "counterpart_id": f"{investor}-c{n:04d}",
            "score": 10.0 + n / 10,
            "shared_tags": ["elderly"],
        }
        for n in range(800)
    ]
    publish(suggested(investor, suggestions))
    (digest,) = wait_for(lambda: digests_to(sink, investor), 20, message="one digest")
    assert digest["Subject"] == "[기술동행] 새 추천 800건이 있습니다"
    body = digest.get_content()
    assert body.count("\n- ") == 6 and "외 795건" in body and "89.9점" in body
    assert len(items_of(notification, investor)) == 50  # the inbox is limited, newest first


def test_extra_headers_cannot_add_or_split_a_header(smtp_sink):
    settings = dataclasses.replace(Settings.from_env(), smtp_host="127.0.0.1", smtp_port=smtp_sink["port"])
    mailer = SmtpMailer(settings)
    common = {
        "to_name": "Lee",
        "to_address": "lee@example.kr",
        "subject": "s",
        "body": "b",
        "message_id": "<m@x>",
        "language": "en",
    }
    try:
        for headers in (
            {"List-Unsubscribe": "<http://x/>\r\nBcc: victim@example.kr"},
            {"List-Unsubscribe": "<http://x/>\nX-Other: 1"},
            {"Bcc": "victim@example.kr"},
            {"X-Bad Name": "1"},
            {"X-Bad:Name": "1"},
        ):
            with pytest.raises(PermanentFailure):
                mailer.send(**common, headers=headers)
        mailer.send(**common, headers={"List-Unsubscribe": "<http://x/u?token=a.b>"})
    finally:
        mailer.close()
    (message,) = received_mail(smtp_sink["dir"])
    assert message["List-Unsubscribe"] == "<http://x/u?token=a.b>" and message["Bcc"] is None
