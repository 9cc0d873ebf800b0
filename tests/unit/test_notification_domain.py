from datetime import UTC, datetime, timedelta

import pytest

from notification import domain
from shared.contracts.events import new_event, parse_event

SITE = {
    "base_url": "http://expo.test",
    "expo_name_ko": "2026 기술동행 박람회",
    "expo_name_en": "Tech Companion Expo 2026",
}


def contact(language):
    return {"registration_id": "inv-1", "name": "Lee", "email": "lee@vc.kr", "language": language}


def created(kind="investor"):
    return parse_event(
        new_event(
            "registration.created",
            {
                "registration_id": "inv-1",
                "kind": kind,
                "expo_id": "expo-2026",
                "revision": 1,
                "contact": {"name": "Lee", "email": "lee@vc.kr", "language": "ko"},
            },
        )
    )


def test_each_event_plans_its_notifications_with_ids_derived_from_the_event():
    event = created()
    first, again = domain.plan(event), domain.plan(event)
    assert [p.kind for p in first] == ["registration_confirmed"] and first == again
    assert domain.plan(suggested_v1()) == []  # suggestions are announced and digested instead


def test_an_update_plans_the_changed_email_to_the_registrant():
    updated = parse_event(
        new_event(
            "registration.updated",
            {
                "registration_id": "inv-1",
                "kind": "investor",
                "expo_id": "expo-2026",
                "revision": 2,
                "contact": {"name": "Lee", "email": "lee@vc.kr", "language": "ko"},
            },
        )
    )
    (planned,) = domain.plan(updated)
    assert (planned.kind, planned.recipient_id, planned.data) == (
        "registration_changed",
        "inv-1",
        {"registrant_kind": "investor"},
    )
    # only the event that made the registration tells when it was made: an update keeps it
    assert "registered_at" not in domain.contact_record(updated, "active")


def test_a_new_registrations_contact_keeps_when_it_was_made():
    event = created()
    assert domain.contact_record(event, "active")["registered_at"] == event.occurred_at


def test_rendered_in_the_recipients_language():
    (planned,) = domain.plan(created())
    subject_ko, body_ko = domain.render(planned.kind, planned.data, contact("ko"), SITE)
    subject_en, body_en = domain.render(planned.kind, planned.data, contact("en"), SITE)
    assert "등록이 완료" in subject_ko and "2026 기술동행 박람회" in body_ko and "Lee님" in body_ko
    assert "confirmed" in subject_en and "Hello Lee" in body_en and "an investor" in body_en


def test_a_company_or_investor_is_confirmed_with_the_link_to_their_suggestions_an_attendee_is_not():
    (investor,), (attendee,) = domain.plan(created()), domain.plan(created("attendee"))
    for language in ("ko", "en"):
        _, investor_body = domain.render(investor.kind, investor.data, contact(language), SITE)
        _, attendee_body = domain.render(attendee.kind, attendee.data, contact(language), SITE)
        assert "/my/inv-1/suggestions" in investor_body and "/suggestions" not in attendee_body


def test_every_template_renders_in_both_languages():
    data = {"accepted": True, "registrant_kind": "company"}
    counterpart = {**contact("en"), "registration_id": "c-1", "kind": "company"}
    for kind in (
        "registration_confirmed",
        "registration_changed",
        "registration_cancelled",
        "interest_received",
        "interest_answered",
        "contact_shared",
    ):
        for language in ("ko", "en"):
            subject, body = domain.render(kind, data, contact(language), SITE, counterpart=counterpart)
            assert subject and "{" not in subject + body


def test_retry_delay_doubles_and_is_capped():
    assert [domain.retry_delay(n, 5) for n in (1, 2, 3)] == [5, 10, 20]
    assert domain.retry_delay(30, 5) == 600


def test_message_id_is_derived_from_the_notification():
    assert domain.message_id("abc") == "<abc@tech-companion-expo>"


# suggestions: announced once, e-mailed in digests

NOW = datetime(2026, 11, 23, 3, 20, 5, tzinfo=UTC)  # 12:20:05 in Seoul
HOUR = 60


def suggested_v1(counterparts=("c1", "c2"), best_score=88.5):
    return parse_event(
        new_event(
            "matching.suggested",
            {
                "recipient_id": "inv-1",
                "recipient_kind": "investor",
                "counterpart_ids": list(counterparts),
                "best_score": best_score,
            },
        )
    )


def suggestion(recipient="inv-1", counterpart="c1", score=80.0, tags=("dementia",), kind="investor"):
    return {
        "recipient_id": recipient,
        "recipient_kind": kind,
        "counterpart_id": counterpart,
        "score": score,
        "shared_tags": list(tags),
    }


def suggested_v2(*suggestions):
    return parse_event(
        new_event("matching.suggested", {"party_id": "c1", "suggestions": list(suggestions)}, version=2)
    )


def digest(
    preference, now=NOW, last_sent=None, event_id="e1", window=HOUR, recipient="inv-1", registered_at=None
):
    return domain.next_digest(
        preference,
        recipient,
        now=now,
        last_sent=last_sent,
        registered_at=registered_at,
        window_minutes=window,
        daily_hour=9,
        event_id=event_id,
    )


def test_version_1_maps_each_counterpart_to_a_suggestion_with_the_best_score_and_no_tags():
    assert domain.new_suggestions(suggested_v1()) == [
        suggestion(counterpart="c1", score=88.5, tags=()),
        suggestion(counterpart="c2", score=88.5, tags=()),
    ]


def test_version_2_gives_one_suggestion_per_pair_and_side_keeping_the_best_score():
    event = suggested_v2(
        suggestion(counterpart="c1", score=70.0),
        suggestion(recipient="c1", counterpart="inv-1", kind="company"),
        suggestion(counterpart="c1", score=75.0, tags=("dementia", "vr_ar")),
    )
    found = {(s["recipient_id"], s["counterpart_id"]): s for s in domain.new_suggestions(event)}
    assert set(found) == {("inv-1", "c1"), ("c1", "inv-1")}
    assert found[("inv-1", "c1")]["score"] == 75.0


def test_an_announcement_is_keyed_by_pair_and_side_only():
    first = domain.announcement(suggestion(score=60.0), "e1", "t1")
    again = domain.announcement(suggestion(score=90.0, tags=("elderly",)), "e2", "t2")
    other_side = domain.announcement(
        suggestion(recipient="c1", counterpart="inv-1", kind="company"), "e1", "t1"
    )
    assert first["_id"] == again["_id"] == "inv-1|c1" and other_side["_id"] == "c1|inv-1"
    assert first["counterpart_kind"] == "company" and other_side["counterpart_kind"] == "investor"
    assert first["digest_id"] is None


def test_hourly_first_digest_waits_a_window_after_the_registration_then_a_window_after_the_last():
    registered = NOW - timedelta(seconds=2)
    first = digest("hourly", registered_at=registered)
    assert first.due_at == registered + timedelta(minutes=HOUR)
    # later events in that window join the same digest
    assert digest("hourly", now=NOW + timedelta(minutes=30), registered_at=registered, event_id="e2") == first
    # registered long ago, never e-mailed suggestions: at once
    assert digest("hourly", registered_at=NOW - timedelta(hours=2)).due_at == NOW
    # a contact kept without its registration time (an earlier version): at once
    assert digest("hourly").due_at == NOW


def test_hourly_digests_are_at_least_a_window_apart():
    last_sent = NOW + timedelta(seconds=3)
    later = digest("hourly", now=NOW + timedelta(minutes=5), last_sent=last_sent, registered_at=NOW)
    assert later.due_at == last_sent + timedelta(minutes=HOUR)
    # long after the last one: at once again
    idle = digest("hourly", now=NOW + timedelta(hours=5), last_sent=last_sent)
    assert idle.due_at == NOW + timedelta(hours=5)


def test_an_hourly_digest_is_named_after_the_e_mail_it_follows():
    last_sent = NOW
    a = digest("hourly", now=NOW + timedelta(minutes=1), last_sent=last_sent, event_id="e1")
    b = digest("hourly", now=NOW + timedelta(minutes=50), last_sent=last_sent, event_id="e2")
    assert a == b  # two events before the next may go: one digest
    # suggestions announced while the first is being sent, on either side of the turn of an hour,
    # join it: its e-mail is not recorded yet, and the moment does not name it
    before_the_hour = datetime(2026, 11, 23, 2, 59, 59, tzinfo=UTC)
    first = digest("hourly", now=before_the_hour, event_id="e1")
    assert digest("hourly", now=before_the_hour + timedelta(seconds=2), event_id="e2").id == first.id
    # once it is recorded, the next one is another, at least a window later
    after_it = digest("hourly", now=before_the_hour + timedelta(seconds=3), last_sent=before_the_hour)
    assert after_it.id != first.id and after_it.due_at == before_the_hour + timedelta(minutes=HOUR)
    assert digest("hourly", recipient="someone-else").id != digest("hourly").id
    # another window length never meets this one's ids
    assert digest("hourly", window=30).id != digest("hourly").id


def test_immediate_digest_is_due_now_one_per_event():
    one, two = digest("immediate", event_id="e1"), digest("immediate", event_id="e2")
    assert one.due_at == two.due_at == NOW and one.id != two.id
    assert digest("immediate", event_id="e1") == one


def test_off_means_no_digest():
    assert digest("off") is None


def test_unknown_preference_is_the_default_hourly():
    assert digest("weekly") == digest("hourly") and domain.DEFAULT_PREFERENCE == "hourly"


@pytest.mark.parametrize(
    ("now_utc", "due_utc"),
    [
        # 12:20 Seoul: tomorrow's 09:00 Seoul is 00:00 UTC the day after
        (datetime(2026, 11, 23, 3, 20, tzinfo=UTC), datetime(2026, 11, 24, 0, 0, tzinfo=UTC)),
        # 08:59 Seoul: today's 09:00
        (datetime(2026, 11, 22, 23, 59, tzinfo=UTC), datetime(2026, 11, 23, 0, 0, tzinfo=UTC)),
        # 23:30 UTC on the 22nd is already 08:30 on the 23rd in Seoul (past midnight there)
        (datetime(2026, 11, 22, 23, 30, tzinfo=UTC), datetime(2026, 11, 23, 0, 0, tzinfo=UTC)),
        # exactly 09:00 Seoul: the next one, tomorrow
        (datetime(2026, 11, 23, 0, 0, tzinfo=UTC), datetime(2026, 11, 24, 0, 0, tzinfo=UTC)),
        # across the end of a year, and in summer (Seoul keeps no daylight saving time)
        (datetime(2026, 12, 31, 15, 0, tzinfo=UTC), datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
        (datetime(2026, 7, 1, 1, 0, tzinfo=UTC), datetime(2026, 7, 2, 0, 0, tzinfo=UTC)),
    ],
)
def test_daily_digest_is_due_at_the_next_nine_oclock_in_seoul(now_utc, due_utc):
    found = digest("daily", now=now_utc)
    assert found.due_at == due_utc and found.due_at.tzinfo is not None


def test_daily_digest_waits_for_the_day_after_the_last_one_and_is_one_per_date():
    sent = datetime(2026, 11, 23, 0, 0, 1, tzinfo=UTC)  # 09:00:01 Seoul
    before_nine = digest("daily", now=datetime(2026, 11, 22, 23, 0, tzinfo=UTC), last_sent=sent)
    assert before_nine.due_at == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    same_day = digest("daily", now=datetime(2026, 11, 23, 10, 0, tzinfo=UTC), last_sent=sent)
    assert same_day == before_nine
    assert digest("daily", now=datetime(2026, 11, 24, 1, 0, tzinfo=UTC)).id != same_day.id


def test_best_few_by_score_and_how_many_more():
    items = [domain.announcement(suggestion(counterpart=f"c{n}", score=float(n)), "e", "t") for n in range(8)]
    top, more = domain.best_few(items)
    assert [item["counterpart_id"] for item in top] == ["c7", "c6", "c5", "c4", "c3"] and more == 3
    top, more = domain.best_few(items[:2])
    assert len(top) == 2 and more == 0
    tied = [domain.announcement(suggestion(counterpart=c, score=50.0), "e", "t") for c in "bca"]
    assert [item["counterpart_id"] for item in domain.best_few(tied, 2)[0]] == ["a", "b"]


def test_plural_forms():
    assert domain.new_suggestions_phrase(1, "en") == "1 new suggestion"
    assert domain.new_suggestions_phrase(3, "en") == "3 new suggestions"
    assert domain.new_suggestions_phrase(0, "en") == "0 new suggestions"
    assert domain.new_suggestions_phrase(1, "ko") == "새 추천 1건"
    assert domain.new_suggestions_phrase(3, "ko") == "새 추천 3건"
    assert domain.more_phrase(2, "en") == "and 2 more" and domain.more_phrase(2, "ko") == "외 2건"
    assert domain.listing(["A", "B", "C"], "en") == "A, B and C"
    assert domain.listing(["A", "B"], "ko") == "A, B"


def test_digest_names_companies_but_never_investors_and_links_the_full_list():
    investor = {"registration_id": "inv-1", "name": "Lee", "language": "en"}
    items = [
        domain.announcement(
            suggestion(counterpart=f"c{n}", score=90.0 - n, tags=("dementia", "vr_ar")), "e", "t"
        )
        for n in range(7)
    ]
    subject, body = domain.render_digest(items, investor, {"c0": "Dasom Care"}, SITE)
    assert subject == "[Tech Companion] 7 new suggestions for you"
    assert "Dasom Care — you share Dementia and VR / AR, score 90.0 of 100" in body
    assert "and 2 more" in body and "http://expo.test/my/inv-1/suggestions" in body
    assert body.count("\n- ") == 6 and "{" not in body

    company = {"registration_id": "c0", "name": "다솜케어", "language": "ko"}
    item = domain.announcement(
        suggestion(recipient="c0", counterpart="inv-1", kind="company", tags=("dementia",)), "e", "t"
    )
    subject, body = domain.render_digest([item], company, {"inv-1": "Sujin Lee"}, SITE)
    assert subject == "[기술동행] 새 추천 1건이 있습니다"
    assert "치매 분야에 관심 있는 투자자" in body and "Sujin Lee" not in body
    assert "http://expo.test/my/c0/suggestions" in body and "외" not in body
    english = domain.render_digest([item], {**company, "language": "en"}, {"inv-1": "Sujin Lee"}, SITE)
    assert english[0] == "[Tech Companion] 1 new suggestion for you"
    assert "An investor interested in Dementia" in english[1] and "Sujin Lee" not in english[1]


def test_in_app_suggestion_reads_in_the_recipients_language():
    item = domain.announcement(suggestion(tags=()), "e", "t")
    subject, body = domain.render_suggestion(item, {"language": "ko"}, "다솜케어", SITE)
    assert subject == "[기술동행] 새 추천: 다솜케어" and "관심 분야 일치" in body
    subject, body = domain.render_suggestion(item, {"language": "en"}, None, SITE)
    assert subject == "[Tech Companion] New suggestion: a company" and "your tags match" in body
    assert body.endswith("\n\nhttp://expo.test/my/inv-1/suggestions")  # a page, not the API


def test_unsubscribe_token_names_its_recipient_and_nothing_forged_passes():
    token = domain.unsubscribe_token("secret", "inv-1")
    assert domain.unsubscribe_recipient("secret", token) == "inv-1"
    assert domain.unsubscribe_recipient("other secret", token) is None
    assert domain.unsubscribe_recipient("secret", token.replace("inv-1", "inv-2")) is None
    assert domain.unsubscribe_recipient("secret", "inv-1") is None
    assert domain.unsubscribe_recipient("secret", "") is None
    # signed for this purpose only: a signature made for another purpose does not pass
    from itsdangerous import Signer

    other = Signer("secret", salt="something-else").sign("inv-1").decode()
    assert domain.unsubscribe_recipient("secret", other) is None


def contact_refreshed(**payload):
    return parse_event(
        new_event(
            "registration.contact_refreshed",
            {
                "registration_id": "att-1",
                "kind": "attendee",
                "expo_id": "town-hall-1",
                "revision": 2,
                "contact": {
                    "name": "Park",
                    "email": "park@example.kr",
                    "language": "ko",
                    "carer_name": "Ahn",
                },
                "admission": "admitted",
                "checkin_code": "ABCDEFGHJKMN",
                **payload,
            },
        )
    )


def test_a_refreshed_contact_keeps_its_event_place_and_badge_and_plans_no_email():
    event = contact_refreshed()
    assert domain.plan(event) == []
    assert domain.contact_record(event, "active") == {
        "kind": "attendee",
        "status": "active",
        "name": "Park",
        "email": "park@example.kr",
        "language": "ko",
        "carer_name": "Ahn",
        "organisation": None,
        "contact_person": None,
        "website": None,
        "event_id": "town-hall-1",
        "admission": "admitted",
        "checkin_code": "ABCDEFGHJKMN",
    }
