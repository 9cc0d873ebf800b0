"""Events as the registration service answers them to everyone, for the pages' unit tests."""

from flask_smorest import abort

EXPO = {
    "id": "expo-2026",
    "kind": "expo",
    "name_ko": "2026 기술동행 박람회",
    "name_en": "Tech Companion Expo 2026",
    "starts_at": None,
    "ends_at": None,
    "venue": {},
    "registration_opens_at": None,
    "registration_closes_at": None,
    "status": "open",
    "registration_state": "open",
    "past": False,
}
TOWN_HALL = {
    **EXPO,
    "id": "town-hall-8",
    "kind": "town_hall",
    "name_ko": "8월 기술동행 타운홀",
    "name_en": "August Tech Companion Town Hall",
    # 21 August 2026, 14:00 to 17:00 in Seoul
    "starts_at": "2026-08-21T05:00:00.000000Z",
    "ends_at": "2026-08-21T08:00:00.000000Z",
    "venue": {
        "name_ko": "서울시청 다목적홀",
        "name_en": "Seoul City Hall, multi-purpose hall",
        "address_ko": "서울특별시 중구 세종대로 110",
        "step_free_entrance": True,
        "accessible_toilets": False,
        "subway_exit_ko": "시청역 5번 출구",
        "subway_exit_en": "City Hall Station, exit 5",
    },
}


class PublicEvents:
    """The registration service's public_events and public_event, over ``events``."""

    def __init__(self, *events: dict) -> None:
        self.events = list(events)

    def public_events(self) -> list[dict]:
        return [dict(event) for event in self.events]

    def public_event(self, event_id: str) -> dict:
        for event in self.events:
            if event["id"] == event_id:
                return dict(event)
        abort(404, message=f"No event {event_id!r}.")

    def set_state(self, event_id: str, state: str) -> None:
        for event in self.events:
            if event["id"] == event_id:
                event["registration_state"] = state
