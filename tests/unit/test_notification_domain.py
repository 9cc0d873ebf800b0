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
    suggested = parse_event(
        new_event(
            "matching.suggested",
            {
                "recipient_id": "inv-1",
                "recipient_kind": "investor",
                "counterpart_ids": ["c1", "c2"],
                "best_score": 88.5,
            },
        )
    )
    (planned,) = domain.plan(suggested)
    assert planned.kind == "suggestions_new" and planned.data["count"] == 2
    assert planned.id != first[0].id


def test_contact_updates_plan_nothing():
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
    assert domain.plan(updated) == []


def test_rendered_in_the_recipients_language():
    (planned,) = domain.plan(created())
    subject_ko, body_ko = domain.render(planned.kind, planned.data, contact("ko"), SITE)
    subject_en, body_en = domain.render(planned.kind, planned.data, contact("en"), SITE)
    assert "등록이 완료" in subject_ko and "2026 기술동행 박람회" in body_ko and "Lee님" in body_ko
    assert "confirmed" in subject_en and "Hello Lee" in body_en and "an investor" in body_en


def test_every_template_renders_in_both_languages():
    data = {
        "recipient_kind": "company",
        "count": 3,
        "best_score": 91.0,
        "accepted": True,
        "registrant_kind": "company",
    }
    for kind in (
        "registration_confirmed",
        "registration_cancelled",
        "suggestions_new",
        "interest_received",
        "interest_answered",
    ):
        for language in ("ko", "en"):
            subject, body = domain.render(kind, data, contact(language), SITE)
            assert subject and "{" not in subject + body


def test_retry_delay_doubles_and_is_capped():
    assert [domain.retry_delay(n, 5) for n in (1, 2, 3)] == [5, 10, 20]
    assert domain.retry_delay(30, 5) == 600


def test_message_id_is_derived_from_the_notification():
    assert domain.message_id("abc") == "<abc@tech-companion-expo>"
