"""Load demo data through the HTTP API: a programme (two past town halls, the next one, and the
expo, under way with its venue and a demo-sized capacity), companies like those presented
at the network's launch, investors of every type, and attendees, some of them also coming to the
next town hall, and a crowd of visitors for the expo; the last of them wait for a place, and
every other person admitted is checked in at the door (``make seed``, with the platform
running).

Each registration goes through the same validation as any other. Running it again skips what
is already there (an event of the same English name; a registration answered 409). The
programme is made with the organiser token (``ORGANISER_TOKEN``, or ``make run``'s
``var/organiser-token``). The manage tokens are written to ``var/seed-tokens.json``.
"""

import json
import os
import sys
import urllib.error
import urllib.request
from datetime import date, datetime, timedelta
from pathlib import Path

from shared.clock import SEOUL
from shared.contracts.registration import SENSITIVE_ATTENDEE_TYPES

GATEWAY = os.environ.get("GATEWAY_URL", "http://127.0.0.1:8000")
CONSENT = {"privacy": True}

COMPANIES = [
    (
        "Sori Bridge",
        "AI real-time text interpretation for deaf and hard-of-hearing people in meetings "
        "and public offices.",
        ["hearing_impairment", "speech_to_text", "ai", "communication"],
        "pre_a",
    ),
    (
        "Open Data Lab",
        "AI that collects and cleans public data so small welfare organisations can use it.",
        ["data_use", "ai", "big_data", "low_income"],
        "seed",
    ),
    (
        "Malhaneun Jangbaguni",
        "A barrier-free conversational voice shopping app for blind people and seniors.",
        ["visual_impairment", "elderly", "voice_interface", "mobile_app", "digital_use"],
        "seed",
    ),
    (
        "Memory Garden VR",
        "VR programmes for early dementia prevention and for depression in dementia patients.",
        ["dementia", "elderly", "vr_ar", "health_safety"],
        "series_a",
    ),
    (
        "Easy Kiosk",
        "Senior-friendly, barrier-free kiosks with large type, voice guidance and wheelchair height.",
        ["kiosk_accessibility", "elderly", "physical_disability", "digital_use"],
        "growth",
    ),
    (
        "Safe Way Home",
        "A safe-return app and wearable alarm for people who live alone and walk home late.",
        ["health_safety", "single_household", "wearables", "mobile_app"],
        "seed",
    ),
    (
        "Dawn Shuttle",
        "Autonomous dawn shuttle buses for early-shift workers in outer districts.",
        ["mobility", "autonomous_mobility", "low_income"],
        "series_b_plus",
    ),
    (
        "Restart Academy",
        "AI and coding courses for career-break women, with childcare during class.",
        ["education", "career_break_women", "ai"],
        "pre_a",
    ),
    (
        "Hands Talk",
        "A sign-language avatar that translates announcements in stations and hospitals.",
        ["sign_language", "hearing_impairment", "ai", "communication"],
        "idea",
    ),
    (
        "Dodam Robotics",
        "Companion care robots that check on seniors living alone and call for help.",
        ["robotics", "iot", "elderly", "single_household", "health_safety"],
        "series_a",
    ),
    (
        "Rainbow Class",
        "Learning apps in many languages for children of multicultural families.",
        ["children_youth", "multicultural", "education", "mobile_app"],
        "seed",
    ),
    (
        "Step Together",
        "Visual schedules and easy-read guides that help people with developmental "
        "disabilities travel on their own.",
        ["developmental_disability", "mobility", "mobile_app"],
        "idea",
    ),
]

INVESTORS = [
    (
        "Kim Minjun",
        "Hangang Impact Partners",
        "impact",
        ["elderly", "dementia", "health_safety", "robotics"],
        ["seed", "pre_a", "series_a"],
    ),
    (
        "Park Seoyeon",
        "Seoul Future Fund",
        "public_fund",
        ["mobility", "low_income", "data_use", "education"],
        ["pre_a", "series_a", "series_b_plus"],
    ),
    (
        "Lee Jiho",
        "Blue Ocean Ventures",
        "vc",
        ["ai", "speech_to_text", "hearing_impairment", "big_data"],
        ["seed", "pre_a"],
    ),
    (
        "Choi Yuna",
        "Mirae Angels",
        "angel",
        ["career_break_women", "education", "children_youth"],
        ["idea", "seed"],
    ),
    (
        "Jung Hyunwoo",
        "Daehan Telecom CVC",
        "corporate_vc",
        ["communication", "digital_use", "voice_interface", "kiosk_accessibility"],
        ["series_a", "growth"],
    ),
    (
        "Han Soojin",
        "Companion Accelerator",
        "accelerator",
        ["visual_impairment", "developmental_disability", "sign_language", "mobile_app"],
        ["idea", "seed"],
    ),
]

ATTENDEES = [
    ("Yoon Mira", "citizen", ["digital_use"], None),
    (
        "Kang Dongsu",
        "person_with_disability",
        ["mobility", "physical_disability"],
        {"wheelchair_access": True},
    ),
    ("Lim Sunja", "senior", ["elderly", "health_safety"], {"easy_read": True}),
    (
        "Oh Jaehyun",
        "person_with_disability",
        ["hearing_impairment"],
        {"sign_language_interpreter": True, "live_captioning": True},
    ),
    ("Seo Hana", "student", ["ai", "education"], None),
    ("Bae Jinwoo", "public_official", ["data_use", "communication"], None),
    ("Nam Eunji", "press", ["dementia"], None),
]


CITY_HALL = {
    "name_ko": "서울시청 8층 다목적홀",
    "name_en": "Seoul City Hall, multi-purpose hall (8th floor)",
    "address_ko": "서울특별시 중구 세종대로 110",
    "address_en": "110 Sejong-daero, Jung-gu, Seoul",
    "step_free_entrance": True,
    "accessible_toilets": True,
    "hearing_loop": True,
    "subway_exit_ko": "시청역 1·2호선 5번 출구 (엘리베이터)",
    "subway_exit_en": "City Hall station, lines 1 and 2, exit 5 (lift)",
}


def town_hall(day: date) -> dict:
    return {
        "kind": "town_hall",
        "name_ko": f"{day.year}년 {day.month}월 기술동행 타운홀",
        "name_en": f"{day:%B %Y} Tech Companion Town Hall",
        "starts_at": f"{day} 14:00",
        "ends_at": f"{day} 17:00",
        "venue": CITY_HALL,
        "capacity": 120,
        "status": "open",
    }


def third_thursday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(3 - first.weekday()) % 7 + 14)


def months_from(today: date, months: int) -> tuple[int, int]:
    index = today.year * 12 + today.month - 1 + months
    return index // 12, index % 12 + 1


def programme(today: date) -> list[tuple[dict, str]]:
    """(event, the status it ends in): a town hall every other month at City Hall, on the third
    Thursday (the two before ``today`` and the next one), and the yearly expo's dates."""
    upcoming = third_thursday(*months_from(today, 0))
    if upcoming <= today:
        upcoming = third_thursday(*months_from(today, 1))
    past = [third_thursday(*months_from(upcoming, -months)) for months in (4, 2)]
    return [(town_hall(day), "closed") for day in past] + [(town_hall(upcoming), "open")]


def expo_dates(now: datetime) -> dict:
    """The expo under way, so that the door has people to check in: opened two hours ago (on the
    hour), until six in the evening tomorrow, whatever the time of day the seed runs."""
    opened = (now - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    return {"starts_at": f"{opened:%Y-%m-%d %H:%M}", "ends_at": f"{now.date() + timedelta(days=1)} 18:00"}


EXPO = {
    "venue": {
        "name_ko": "동대문디자인플라자(DDP) 알림1관",
        "name_en": "Dongdaemun Design Plaza (DDP), Art Hall 1",
        "address_ko": "서울특별시 중구 을지로 281",
        "address_en": "281 Eulji-ro, Jung-gu, Seoul",
        "step_free_entrance": True,
        "accessible_toilets": True,
        "hearing_loop": None,
        "subway_exit_ko": "동대문역사문화공원역 1번 출구 (엘리베이터)",
        "subway_exit_en": "Dongdaemun History & Culture Park station, exit 1 (lift)",
    },
    # a demo-sized hall: the crowd below fills it, and the last of them wait for a place
    "capacity": 60,
}
CROWD = 30
# visitors who also come to the next town hall
TOWN_HALL_VISITORS = ("Yoon Mira", "Kang Dongsu", "Lim Sunja")


def organiser_token() -> str:
    token = os.environ.get("ORGANISER_TOKEN")
    if token:
        return token
    return (Path(os.environ.get("VAR_DIR", "var")) / "organiser-token").read_text().strip()


def seed_programme(token: str) -> tuple[str, str]:
    """Make the programme's events that are not there yet and give the default expo its dates;
    returns the ids of the next town hall and of the expo."""
    status, answer = call("GET", "/api/v1/organiser/events", token=token)
    if status != 200:
        raise RuntimeError(f"listing events: {status} {answer}")
    existing = {event["name_en"]: event for event in answer["items"]}
    today = datetime.now(SEOUL).date()
    next_town_hall = ""
    for event, final_status in programme(today):
        made = existing.get(event["name_en"])
        if made is None:
            status, made = call("POST", "/api/v1/organiser/events", event, token)
            if status != 201:
                raise RuntimeError(f"{event['name_en']}: {status} {made}")
            if final_status != "open":
                call("PATCH", f"/api/v1/organiser/events/{made['id']}", {"status": final_status}, token)
        if final_status == "open":
            next_town_hall = made["id"]
    # the default expo, made without a date when the platform first started
    expo = next(e for e in answer["items"] if e["kind"] == "expo")
    if not expo.get("starts_at"):
        dated = {**EXPO, **expo_dates(datetime.now(SEOUL))}
        status, changed = call("PATCH", f"/api/v1/organiser/events/{expo['id']}", dated, token)
        if status != 200:
            raise RuntimeError(f"the expo: {status} {changed}")
    return next_town_hall, expo["id"]


def post(path: str, body: dict, token: str | None = None) -> tuple[int, dict]:
    return call("POST", path, body, token)


def call(method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(  # noqa: S310 - our own gateway
        GATEWAY + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 - our own gateway
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def email(name: str, domain: str) -> str:
    return f"{name.lower().replace(' ', '.')}@{domain}"


def registrations(town_hall_id: str) -> list[tuple[str, dict]]:
    items = []
    for name, description, tags, stage in COMPANIES:
        items.append(
            (
                "companies",
                {
                    "name": name,
                    "email": email(name, "company.example.kr"),
                    "description": description,
                    "tags": tags,
                    "stage": stage,
                    "contact_name": "Demo Contact",
                    "consents": CONSENT,
                },
            )
        )
    for name, organisation, investor_type, interests, stages in INVESTORS:
        items.append(
            (
                "investors",
                {
                    "name": name,
                    "organisation": organisation,
                    "investor_type": investor_type,
                    "email": email(name, "invest.example.kr"),
                    "interests": interests,
                    "stages": stages,
                    "language": "en",
                    "consents": CONSENT,
                },
            )
        )
    for name, attendee_type, interests, needs in ATTENDEES:
        body = {
            "name": name,
            "email": email(name, "citizen.example.kr"),
            "attendee_type": attendee_type,
            "interests": interests,
            # needs, and a visitor type that tells of a disability or care, are kept only with
            # the consent to sensitive information
            "consents": {
                **CONSENT,
                "sensitive": needs is not None or attendee_type in SENSITIVE_ATTENDEE_TYPES,
            },
            # the people who need help to take part come with a companion or carer
            "companions": 1 if needs else 0,
        }
        if needs:
            body["accessibility_needs"] = needs
        items.append(("attendees", body))
        if name in TOWN_HALL_VISITORS:
            items.append(("attendees", {**body, "event_id": town_hall_id}))
    for number in range(1, CROWD + 1):
        items.append(
            (
                "attendees",
                {
                    "name": f"관람객 {number:02d}",
                    "email": f"visitor{number:02d}@citizen.example.kr",
                    "attendee_type": "citizen",
                    "interests": ["digital_use"],
                    # every third brings a friend or family member
                    "companions": 1 if number % 3 == 0 else 0,
                    "consents": CONSENT,
                },
            )
        )
    return items


def check_in_every_other(expo_id: str, answers: list[dict], token: str) -> int:
    """Check in every other person admitted to the expo, as the door would: returns how many
    of them are checked in (a second run finds them checked in already)."""
    checked_in = 0
    admitted = [answer for answer in answers if answer.get("checkin_code") and answer["event_id"] == expo_id]
    for answer in admitted[::2]:
        path = f"/api/v1/organiser/events/{expo_id}/check-ins"
        status, door = call("POST", path, {"code": answer["checkin_code"]}, token)
        if status not in (200, 201):
            raise RuntimeError(f"checking in {answer['reference']}: {status} {door}")
        checked_in += 1
    return checked_in


def main() -> int:
    token = organiser_token()
    town_hall_id, expo_id = seed_programme(token)
    tokens, created, skipped, answers = {}, 0, 0, []
    for collection, body in registrations(town_hall_id):
        status, answer = post(f"/api/v1/{collection}", body)
        if status == 201:
            created += 1
            answers.append(answer)
            at = f"@{body['event_id']}" if "event_id" in body else ""
            tokens[f"{collection}/{body['name']}{at}"] = {
                "id": answer["id"],
                "manage_token": answer["manage_token"],
            }
        elif status == 409:
            skipped += 1
        else:
            print(f"{collection} {body['name']}: {status} {answer}", file=sys.stderr)
            return 1
    var = Path(os.environ.get("VAR_DIR", "var"))
    var.mkdir(exist_ok=True)
    path = var / "seed-tokens.json"
    kept = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**kept, **tokens}, ensure_ascii=False, indent=2))
    checked_in = check_in_every_other(expo_id, answers, token)
    status, expo = call("GET", f"/api/v1/organiser/events/{expo_id}", token=token)
    print(f"seeded {created} registrations ({skipped} already there); manage tokens in {path}")
    print(
        f"the expo: {expo['seats_taken']} of {expo['capacity']} places taken, {expo['waiting']} waiting, "
        f"{checked_in} more checked in ({expo['registrations']['checked_in']} in all)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
