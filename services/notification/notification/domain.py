"""Which events become which notifications, how they read, and when a failed one is tried
again; which new suggestions are announced, and when and how the digest e-mail that tells of
them goes out. Pure: no I/O but reading the bundled templates."""

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo

from itsdangerous import BadData, Signer

from shared import taxonomy
from shared.contracts.events import Event, derived_id

MAX_SEND_ATTEMPTS = 6
# a notification whose recipient is still unknown after this long is given up
RECIPIENT_WAIT_SECONDS = 3600

KIND_LABELS = {
    "attendee": ("참가자", "an attendee"),
    "company": ("참여 기업", "an exhibiting company"),
    "investor": ("투자자", "an investor"),
}


@dataclass(frozen=True)
class Planned:
    """A notification an event calls for: to whom, which kind, with which facts."""

    id: str
    recipient_id: str
    kind: str
    data: dict


def plan(event: Event) -> list[Planned]:
    """The transactional notifications ``event`` calls for, each e-mailed at once (none for
    events that only update contacts; suggestions are announced and digested instead, see
    ``new_suggestions`` and ``next_digest``)."""
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
    kind_ko, kind_en = KIND_LABELS[data.get("registrant_kind", "attendee")]
    values = {
        "name": contact["name"],
        "registration_id": contact["registration_id"],
        "expo_name": site["expo_name_ko"] if ko else site["expo_name_en"],
        "kind_label": kind_ko if ko else kind_en,
        "base_url": site["base_url"],
        "matches_url": matches_url(site, contact["registration_id"], recipient_kind),
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


# Suggestions. Each new (recipient, counterpart) pair is announced once, in-app at once; by e-mail
# a recipient hears of new suggestions in a digest, at most one per digest window, as they chose.

DIGEST_KIND = "suggestions_digest"
# "immediate": one e-mail per event; "hourly": at most one per SUGGESTION_DIGEST_MINUTES;
# "daily": at SUGGESTION_DAILY_HOUR, Seoul time; "off": in-app only
PREFERENCES = ("immediate", "hourly", "daily", "off")
DEFAULT_PREFERENCE = "hourly"
# the suggestions a digest lists one by one; the rest are counted ("and 12 more")
DIGEST_BEST_FEW = 5
# the daily digest's hour is Seoul's, where the expo is (no daylight saving time there)
SEOUL = ZoneInfo("Asia/Seoul")
COUNTERPART_KIND = {"investor": "company", "company": "investor"}
MATCHES_PATH = {"investor": "investors", "company": "companies"}
NEW_SUGGESTION_FIELDS = ("recipient_id", "recipient_kind", "counterpart_id", "score", "shared_tags")
# an unsubscribe token is good for this one purpose only
UNSUBSCRIBE_PURPOSE = "unsubscribe-suggestions"


def new_suggestions(event: Event) -> list[dict]:
    """The suggestions a ``matching.suggested`` event tells of, one per (recipient, counterpart)
    pair, each with recipient_id, recipient_kind, counterpart_id, score and shared_tags.

    Version 1 (one event per recipient, queued before an upgrade) names only the counterparts
    and the best score: each counterpart gets that score and no shared tags. A pair named twice
    in one event keeps its best score."""
    payload = event.payload
    if event.version == 1:
        items: Iterable[Mapping] = (
            {
                "recipient_id": payload["recipient_id"],
                "recipient_kind": payload["recipient_kind"],
                "counterpart_id": counterpart_id,
                "score": payload["best_score"],
                "shared_tags": [],
            }
            for counterpart_id in payload["counterpart_ids"]
        )
    else:
        items = payload["suggestions"]
    best: dict[str, dict] = {}
    for item in items:
        key = announcement_id(item["recipient_id"], item["counterpart_id"])
        if key not in best or item["score"] > best[key]["score"]:
            best[key] = {field: item[field] for field in NEW_SUGGESTION_FIELDS}
    return list(best.values())


def announcement_id(recipient_id: str, counterpart_id: str) -> str:
    """One announcement per pair and side, whatever event, score or tags: its own primary key
    makes a second announcement of the pair to the same recipient a duplicate."""
    return f"{recipient_id}|{counterpart_id}"


def announcement(suggestion: Mapping, event_id: str, announced_at: str) -> dict:
    """The stored announcement of one new suggestion; ``digest_id`` names the digest e-mail
    that took it (None until one does)."""
    return {
        "_id": announcement_id(suggestion["recipient_id"], suggestion["counterpart_id"]),
        "recipient_id": suggestion["recipient_id"],
        "counterpart_id": suggestion["counterpart_id"],
        "counterpart_kind": COUNTERPART_KIND[suggestion["recipient_kind"]],
        "score": float(suggestion["score"]),
        "shared_tags": list(suggestion["shared_tags"]),
        "event_id": event_id,
        "announced_at": announced_at,
        "digest_id": None,
    }


@dataclass(frozen=True)
class Digest:
    """When the next digest e-mail of a recipient is due, and its id: the same (recipient,
    window) always gives the same id, so a second scheduler of the same digest finds it made."""

    id: str
    due_at: datetime


def next_digest(
    preference: str,
    recipient_id: str,
    *,
    now: datetime,
    last_sent: datetime | None,
    window_minutes: float,
    daily_hour: int,
    event_id: str,
) -> Digest | None:
    """The digest that should tell ``recipient_id`` of suggestions announced ``now``; None when
    they chose no suggestion e-mails.

    - immediate: one per event, due now;
    - hourly (and anything unknown: the default): due at max(now, last sent + W), in window
      floor(due / W) of W = ``window_minutes``. The first goes at once; the next are at least
      W apart, so at most one falls in any window; and suggestions arriving while one is due
      join it, as they get its id;
    - daily: due at the next ``daily_hour``:00 in Seoul after max(now, last sent), one per date.
    """
    if preference == "off":
        return None
    if preference == "immediate":
        return Digest(derived_id(DIGEST_KIND, recipient_id, "event", event_id), now)
    if preference == "daily":
        due = next_daily_hour(max(now, last_sent) if last_sent else now, daily_hour)
        date = due.astimezone(SEOUL).date().isoformat()
        return Digest(derived_id(DIGEST_KIND, recipient_id, "daily", date), due)
    due = now if last_sent is None else max(now, last_sent + timedelta(minutes=window_minutes))
    window = window_index(due, window_minutes)
    # the window's length is in the id: a changed setting does not meet an old window's id
    return Digest(derived_id(DIGEST_KIND, recipient_id, f"{window_minutes:g}min", str(window)), due)


def window_index(moment: datetime, window_minutes: float) -> int:
    """The digest window ``moment`` falls in: windows of W minutes counted from the epoch."""
    return math.floor(moment.timestamp() / (window_minutes * 60))


def next_daily_hour(after: datetime, hour: int) -> datetime:
    """The first ``hour``:00 Seoul time strictly after ``after`` (in UTC)."""
    local = after.astimezone(SEOUL)
    due = datetime.combine(local.date(), time(hour), tzinfo=SEOUL)
    if due <= local:
        due = datetime.combine(local.date() + timedelta(days=1), time(hour), tzinfo=SEOUL)
    return due.astimezone(after.tzinfo)


def best_few(announcements: Iterable[Mapping], count: int = DIGEST_BEST_FEW) -> tuple[list, int]:
    """The ``count`` best suggestions by score (ties by counterpart, so a retry lists the same),
    and how many more there are."""
    ranked = sorted(announcements, key=lambda a: (-a["score"], a["counterpart_id"]))
    return ranked[:count], len(ranked) - len(ranked[:count])


def new_suggestions_phrase(count: int, language: str) -> str:
    """ "1 new suggestion", "3 new suggestions"; Korean counts without a plural: "새 추천 3건"."""
    if language == "ko":
        return f"새 추천 {count}건"
    return f"{count} new suggestion" + ("" if count == 1 else "s")


def more_phrase(count: int, language: str) -> str:
    return f"외 {count}건" if language == "ko" else f"and {count} more"


def listing(labels: list[str], language: str) -> str:
    """Labels as a list in words: "A, B and C" in English, "A, B, C" in Korean."""
    if language == "ko" or len(labels) < 2:
        return ", ".join(labels)
    return f"{', '.join(labels[:-1])} and {labels[-1]}"


def tag_labels(tags: Iterable[str], language: str) -> list[str]:
    """The taxonomy's labels of ``tags``; a tag the taxonomy no longer knows keeps its id."""
    return [taxonomy.label(tag, language) if tag in taxonomy.TAGS else tag for tag in tags]


def counterpart_text(item: Mapping, counterpart_name: str | None, language: str) -> str:
    """Who is suggested, in words. A company is named; an investor never is (a company sees
    what the investor is interested in, not who they are)."""
    ko = language == "ko"
    tags = listing(tag_labels(item["shared_tags"], language), language)
    if item["counterpart_kind"] == "company":
        return counterpart_name or ("한 기업" if ko else "a company")
    if not tags:
        return "관심 분야가 맞는 투자자" if ko else "an investor whose interests match yours"
    return f"{tags} 분야에 관심 있는 투자자" if ko else f"an investor interested in {tags}"


def reason_text(item: Mapping, language: str) -> str:
    """Why a suggestion was made, in plain words: the shared tags, and the score."""
    ko = language == "ko"
    score = f"{item['score']:.1f}"
    tags = listing(tag_labels(item["shared_tags"], language), language)
    if item["counterpart_kind"] == "investor":  # the tags are already in the counterpart's text
        return f"100점 만점에 {score}점" if ko else f"score {score} of 100"
    if ko:
        shared = f"공통 분야 {tags}" if tags else "관심 분야 일치"
        return f"{shared} · 100점 만점에 {score}점"
    return f"you share {tags}, score {score} of 100" if tags else f"your tags match, score {score} of 100"


def matches_url(site: Mapping, recipient_id: str, recipient_kind: str) -> str:
    return f"{site['base_url']}/api/v1/{MATCHES_PATH.get(recipient_kind, '')}/{recipient_id}/matches"


def render_suggestion(
    item: Mapping, contact: Mapping, counterpart_name: str | None, site: Mapping
) -> tuple[str, str]:
    """Subject and body of one announced suggestion, as the in-app inbox shows it."""
    language = contact.get("language", "ko")
    who = counterpart_text(item, counterpart_name, language)
    body = f"{_capital(who)} ({reason_text(item, language)})\n\n"
    body += matches_url(site, item["recipient_id"], COUNTERPART_KIND[item["counterpart_kind"]])
    if language == "ko":
        return f"[기술동행] 새 추천: {who}", body
    return f"[Tech Companion] New suggestion: {who}", body


def render_digest(
    announcements: list[Mapping], contact: Mapping, names: Mapping[str, str], site: Mapping
) -> tuple[str, str]:
    """Subject and body of a digest e-mail: how many new suggestions, the best few with their
    reasons, how many more, and the link to the full list."""
    language = contact.get("language", "ko")
    ko = language == "ko"
    top, more = best_few(announcements)
    count = new_suggestions_phrase(len(announcements), language)
    lines = [
        f"- {_capital(counterpart_text(item, names.get(item['counterpart_id']), language))} — "
        f"{reason_text(item, language)}"
        for item in top
    ]
    if more:
        lines.append(f"- {more_phrase(more, language)}")
    url = matches_url(site, contact["registration_id"], COUNTERPART_KIND[top[0]["counterpart_kind"]])
    if ko:
        subject = f"[기술동행] {count}이 있습니다"
        greeting = f"{contact['name']}님, 안녕하세요.\n\n태그가 맞는 {count}을 알려 드립니다."
        closing = f"전체 추천 목록과 추천 이유는 아래에서 확인하실 수 있습니다.\n\n{url}\n\n"
        closing += "기술동행 네트워크 드림"
    else:
        subject = f"[Tech Companion] {count} for you"
        greeting = f"Hello {contact['name']},\n\nHere {'is' if len(announcements) == 1 else 'are'} {count}."
        closing = f"See them all, ranked and explained:\n\n{url}\n\nThe Tech Companion Network"
    return subject, "\n\n".join([greeting, "\n".join(lines), closing]) + "\n"


def render_pending_digest(language: str) -> tuple[str, str]:
    """How the in-app inbox shows a digest not yet sent (its suggestions are listed on their own)."""
    if language == "ko":
        return (
            "[기술동행] 새 추천 메일 발송 예정",
            "새 추천은 받은 편지함에 바로 보이고, 메일로는 모아서 보내 드립니다.",
        )
    return (
        "[Tech Companion] New suggestions e-mail coming",
        "New suggestions show in your inbox at once; by e-mail they come together in one message.",
    )


def unsubscribe_footer(language: str, url: str) -> str:
    """The last lines of a suggestions e-mail (never of a transactional one)."""
    if language == "ko":
        return f"\n-- \n추천 메일을 그만 받으시려면: {url}\n"
    return f"\n-- \nTo stop suggestion e-mails: {url}\n"


def unsubscribe_token(secret: str, recipient_id: str) -> str:
    """A token that turns off ``recipient_id``'s suggestion e-mails and does nothing else: the
    recipient id signed with the service's secret for this purpose alone. It does not expire,
    as an unsubscribe link must work in an old e-mail too."""
    return _signer(secret).sign(recipient_id).decode("utf-8")


def unsubscribe_recipient(secret: str, token: str) -> str | None:
    """The recipient an unsubscribe token was made for; None for anything forged or garbled."""
    try:
        return _signer(secret).unsign(token).decode("utf-8")
    except (BadData, UnicodeError):
        return None


def _signer(secret: str) -> Signer:
    return Signer(secret, salt=UNSUBSCRIBE_PURPOSE, digest_method=hashlib.sha256)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
