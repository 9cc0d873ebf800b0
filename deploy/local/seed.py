"""Load demo data through the HTTP API: companies like those presented at the network's launch,
investors of every type, and attendees (``make seed``, with the platform running).

Each registration goes through the same validation as any other. Running it again skips what
is already registered (409). The manage tokens are written to ``var/seed-tokens.json``.
"""

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

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


def post(path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(  # noqa: S310 - our own gateway
        GATEWAY + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 - our own gateway
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def email(name: str, domain: str) -> str:
    return f"{name.lower().replace(' ', '.')}@{domain}"


def registrations() -> list[tuple[str, dict]]:
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
    return items


def main() -> int:
    tokens, created, skipped = {}, 0, 0
    for collection, body in registrations():
        status, answer = post(f"/api/v1/{collection}", body)
        if status == 201:
            created += 1
            tokens[f"{collection}/{body['name']}"] = {
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
    print(f"seeded {created} registrations ({skipped} already there); manage tokens in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
