"""Which events become which notifications, how they read, and when a failed one is tried
again. Pure: no I/O but reading the bundled templates."""

from dataclasses import dataclass
from functools import cache
from importlib import resources

from shared.contracts.events import Event, derived_id

MAX_SEND_ATTEMPTS = 6
# a notification whose recipient is still unknown after this long is given up
RECIPIENT_WAIT_SECONDS = 3600

KIND_LABELS = {
    "attendee": ("참가자", "an attendee"),
    "company": ("참여 기업", "an exhibiting company"),
    "investor": ("투자자", "an investor"),
}
COUNTERPART_LABELS = {"investor": ("기업", "companies"), "company": ("투자자", "investors")}


@dataclass(frozen=True)
class Planned:
    """A notification an event calls for: to whom, which kind, with which facts."""

    id: str
    recipient_id: str
    kind: str
    data: dict


def plan(event: Event) -> list[Planned]:
    """The notifications ``event`` calls for (none for events that only update contacts)."""
    payload = event.payload
    if event.type == "registration.created":
        return [
            _planned(
                event,
                payload["registration_id"],
                "registration_confirmed",
                {"registrant_kind": payload["kind"]},
            )
        ]
    if event.type == "registration.cancelled":
        return [
            _planned(
                event,
                payload["registration_id"],
                "registration_cancelled",
                {"registrant_kind": payload["kind"]},
            )
        ]
    if event.type == "matching.suggested":
        return [
            _planned(
                event,
                payload["recipient_id"],
                "suggestions_new",
                {
                    "recipient_kind": payload["recipient_kind"],
                    "count": len(payload["counterpart_ids"]),
                    "best_score": payload["best_score"],
                },
            )
        ]
    if event.type == "matching.interest_expressed":
        return [_planned(event, payload["company_id"], "interest_received", {"recipient_kind": "company"})]
    if event.type == "matching.interest_answered":
        return [
            _planned(
                event,
                payload["investor_id"],
                "interest_answered",
                {"recipient_kind": "investor", "accepted": payload["accepted"]},
            )
        ]
    return []


def render(kind: str, data: dict, contact: dict, site: dict) -> tuple[str, str]:
    """Subject and plain-text body in the recipient's language."""
    language = contact.get("language", "ko")
    ko = language == "ko"
    recipient_kind = data.get("recipient_kind") or data.get("registrant_kind", "attendee")
    path = {"investor": "investors", "company": "companies"}.get(recipient_kind, "")
    counterpart_ko, counterpart_en = COUNTERPART_LABELS.get(recipient_kind, ("", ""))
    kind_ko, kind_en = KIND_LABELS[data.get("registrant_kind", "attendee")]
    values = {
        "name": contact["name"],
        "registration_id": contact["registration_id"],
        "expo_name": site["expo_name_ko"] if ko else site["expo_name_en"],
        "kind_label": kind_ko if ko else kind_en,
        "base_url": site["base_url"],
        "matches_url": f"{site['base_url']}/api/v1/{path}/{contact['registration_id']}/matches",
        "counterpart_label": counterpart_ko if ko else counterpart_en,
        "count": data.get("count", 0),
        "best_score": data.get("best_score", 0),
        "answer_ko": "수락" if data.get("accepted") else "거절",
        "answer_en": "accepted" if data.get("accepted") else "declined",
    }
    subject_line, _, body = _template(kind, language).partition("\n\n")
    subject = subject_line.removeprefix("Subject: ").format_map(values)
    return subject, body.format_map(values)


def retry_delay(attempt: int, base_seconds: float) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1, 2, ...): doubling, capped."""
    return min(base_seconds * 2 ** (attempt - 1), 600.0)


def message_id(notification_id: str) -> str:
    """The e-mail's Message-ID, derived from the notification (and so from the event)."""
    return f"<{notification_id}@tech-companion-expo>"


def _planned(event: Event, recipient_id: str, kind: str, data: dict) -> Planned:
    return Planned(derived_id(event.event_id, kind, recipient_id), recipient_id, kind, data)


@cache
def _template(kind: str, language: str) -> str:
    name = f"{kind}.{'ko' if language == 'ko' else 'en'}.txt"
    return resources.files("notification").joinpath("templates", name).read_text("utf-8")
