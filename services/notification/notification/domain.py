"""Which events become which notifications, how they read, and when a failed one is tried
again; which new suggestions are announced, and when and how the digest e-mail that tells of
them goes out; what a sign-in e-mail leaves behind. Pure: no I/O but reading the bundled
templates."""

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cache
from importlib import resources
from urllib.parse import quote
from zoneinfo import ZoneInfo

from itsdangerous import BadData, Signer

from shared import clock, taxonomy
from shared.contracts.events import Event, derived_id
from shared.contracts.registration import reference_of

MAX_SEND_ATTEMPTS = 6
# a notification whose recipient (or the counterpart it names) is still unknown after this long
# is given up
RECIPIENT_WAIT_SECONDS = 3600

# "registered for the expo as ...": Korean takes the particle the word's last syllable calls for
REGISTERED_AS = {
    "attendee": ("참가자로", "as an attendee"),
    "company": ("참여 기업으로", "as an exhibiting company"),
    "investor": ("투자자로", "as an investor"),
}
# a registration made by a carer: the e-mail is the carer's, who is greeted and told whom it is for
FOR_WHOM = (
    "\n\n{name}님을 대신해 등록해 주셨기에, 이 등록에 관한 메일은 연락을 맡으신 보호자님께 보내 드립니다.",
    "\n\nYou registered {name}, who is coming: as their contact, you get every e-mail about this "
    "registration.",
)

# A sign-in link goes to the address that asked for it (organisers have no registration). Its
# notification's recipient is an id derived from the address, never the address itself; it is
# never shown in-app, keeps neither the link nor the address once sent or given up, and is
# deleted after SIGN_IN_RECORD_HOURS.
SIGN_IN_KIND = "sign_in_link"
SIGN_IN_RECORD_HOURS = 24
# what a sign-in notification keeps once sent or given up
SIGN_IN_KEPT = ("language", "expires_at")
# stands in for the link's token, or the address, in what is stored of a sign-in e-mail
REDACTED = "[removed]"
# kinds never shown in the in-app inbox
HIDDEN_FROM_INBOX = (SIGN_IN_KIND,)
# kinds whose text names the other party of an interest (the notification's ``counterpart_id``):
# written only once that party's contact is known
ABOUT_COUNTERPART = frozenset({"interest_received", "interest_answered", "contact_shared"})


@dataclass(frozen=True)
class Planned:
    """A notification an event calls for: to whom, which kind, with which facts, and about whom
    (the other party of an interest, whose contact the e-mail names)."""

    id: str
    recipient_id: str
    kind: str
    data: dict
    counterpart_id: str | None = None


def plan(event: Event) -> list[Planned]:
    """The transactional notifications ``event`` calls for, each e-mailed at once (suggestions
    are announced and digested instead, see ``new_suggestions`` and ``next_digest``)."""
    payload = event.payload
    if event.type == "registration.created":
        return [_registrant(event, "registration_confirmed")]
    if event.type == "registration.updated" and payload.get("promoted"):
        return [_registrant(event, "registration_promoted")]
    if event.type == "registration.updated":
        return [_registrant(event, "registration_changed")]
    if event.type == "registration.cancelled":
        return [_registrant(event, "registration_cancelled")]
    if event.type == "registration.sign_in_link_requested":
        data = {field: payload[field] for field in ("email", "language", "link_token", "expires_at")}
        return [_planned(event, sign_in_recipient(payload["email"]), SIGN_IN_KIND, data)]
    if event.type == "matching.interest_expressed":
        return [_planned(event, payload["company_id"], "interest_received", {}, payload["investor_id"])]
    if event.type == "matching.interest_answered":
        investor, company, accepted = payload["investor_id"], payload["company_id"], payload["accepted"]
        planned = [_planned(event, investor, "interest_answered", {"accepted": accepted}, company)]
        if accepted:  # both sides get the other's contact card
            planned.append(_planned(event, company, "contact_shared", {}, investor))
        return planned
    return []


def sign_in_recipient(email: str) -> str:
    """The recipient id of sign-in e-mails to ``email``: the same for any spelling of the
    address's case, and not the address itself."""
    return derived_id("sign-in", email.lower())


def addressee(data: Mapping) -> dict:
    """Whom a sign-in e-mail goes to: the address that asked, in its language; no name."""
    return {"name": "", "email": data["email"], "language": data["language"]}


def render(
    kind: str,
    data: Mapping,
    contact: Mapping,
    site: Mapping,
    *,
    counterpart: Mapping | None = None,
    now: datetime | None = None,
) -> tuple[str, str]:
    """Subject and plain-text body in the recipient's language. ``counterpart`` is the other
    party's contact, for the kinds in ABOUT_COUNTERPART; ``now`` dates a sign-in link."""
    language = contact.get("language", "ko")
    ko = language == "ko"
    carer = contact.get("carer_name")
    values = {
        "name": contact.get("name", ""),
        "greeting_name": carer or contact.get("name", ""),
        "for_whom": FOR_WHOM[0 if ko else 1].format(name=contact.get("name", "")) if carer else "",
        "expo_name": site["expo_name_ko"] if ko else site["expo_name_en"],
        "home_url": f"{site['base_url']}/",
        "my_url": my_url(site),
    }
    if "registration_id" in contact:
        values["reference"] = reference_of(contact["registration_id"])
        values["suggestions_url"] = suggestions_url(site, contact["registration_id"])
    if "registrant_kind" in data:
        values["registered_as"] = REGISTERED_AS[data["registrant_kind"]][0 if ko else 1]
    if "waiting_position" in data:
        values["waiting_position"] = data["waiting_position"]
    if "offer_expires_at" in data:
        values["confirm_by"] = clock.in_seoul(data["offer_expires_at"]).strftime("%Y-%m-%d %H:%M")
    if counterpart is not None:
        values["who"] = party_name(counterpart, language)
        # a company is named by its organisation alone: the investor asked about the company
        values["organisation"] = card_fields(counterpart).get("organisation") or values["who"]
        values["card"] = contact_card(counterpart, language)
    if kind == SIGN_IN_KIND:
        if now is None:
            raise ValueError("a sign-in e-mail says how long its link is valid: pass now")
        values["sign_in_url"] = sign_in_url(site, data["link_token"])
        values["valid_for"] = minutes_phrase(max(1, minutes_left(data["expires_at"], now)), language)
    subject_line, _, body = _template(_template_name(kind, data), language).partition("\n\n")
    subject = subject_line.removeprefix("Subject: ").format_map(values)
    return subject, body.format_map(values)


def minutes_left(expires_at: str, now: datetime) -> int:
    """Whole minutes (rounded) until a sign-in link expires; below 1, too late to send it."""
    expires = datetime.fromisoformat(expires_at)
    if expires.tzinfo is None:  # a time without a zone is UTC, as every stored time is
        expires = expires.replace(tzinfo=UTC)
    return round((expires - now).total_seconds() / 60)


def link_expired(expires_at: str, now: datetime) -> bool:
    """Whether a sign-in link is too near its expiry to be worth sending (under half a minute
    left), or its expiry cannot be read (then nobody can tell the reader how long it works)."""
    try:
        return minutes_left(expires_at, now) < 1
    except ValueError:
        return True


def minutes_phrase(minutes: int, language: str) -> str:
    """ "1 minute", "15 minutes"; Korean counts without a plural: "15분"."""
    if language == "ko":
        return f"{minutes}분"
    return f"{minutes} minute" + ("" if minutes == 1 else "s")


def kept_data(kind: str, data: Mapping) -> dict | None:
    """What a notification keeps of its data once sent or given up: a sign-in e-mail keeps
    neither its link nor its address (a stored link could be used from the database); None for
    the kinds that keep all of it."""
    if kind != SIGN_IN_KIND:
        return None
    return {field: data[field] for field in SIGN_IN_KEPT if field in data}


def redacted(kind: str, data: Mapping, text: str) -> str:
    """A text stored about a notification (its e-mail's body, the relay's last error): a sign-in
    e-mail's without its link's token or its address, which a relay's refusal may quote."""
    if kind != SIGN_IN_KIND:
        return text
    # the link holds the token as quoted for a URL
    for secret in (quote(data.get("link_token", ""), safe=""), data.get("email", "")):
        if secret:
            text = re.sub(re.escape(secret), REDACTED, text, flags=re.IGNORECASE)
    return text


def sign_in_purge_before(now: datetime) -> datetime:
    """Sign-in records made before this are deleted."""
    return now - timedelta(hours=SIGN_IN_RECORD_HOURS)


# links: every link in an e-mail lands on a page of the site, never on the JSON API (but the
# List-Unsubscribe link of a digest, which mail clients POST to)


def my_url(site: Mapping) -> str:
    """Where a person signs in and sees, changes or cancels their registrations."""
    return f"{site['base_url']}/my"


def suggestions_url(site: Mapping, registration_id: str) -> str:
    """The page of a company's or an investor's suggestions (and the interest shown in them)."""
    return f"{site['base_url']}/my/{quote(registration_id, safe='')}/suggestions"


def sign_in_url(site: Mapping, link_token: str) -> str:
    return f"{site['base_url']}/sign-in/{quote(link_token, safe='')}"


# the other party of an interest, in words

CARD_LABELS = {
    "organisation": ("기관", "Organisation"),
    "person": ("담당자", "Contact person"),
    "email": ("이메일", "E-mail"),
    "website": ("웹사이트", "Website"),
}


def card_fields(contact: Mapping) -> dict[str, str]:
    """A company's or an investor's contact card, with the fields known: a company registers
    under its own name (its person is ``contact_person``), an investor under their own (their
    firm is ``organisation``)."""
    if contact.get("kind") == "company":
        organisation = contact.get("organisation") or contact.get("name")
        person = contact.get("contact_person")
    else:
        organisation = contact.get("organisation")
        person = contact.get("contact_person") or contact.get("name")
    fields = {
        "organisation": organisation,
        "person": person,
        "email": contact.get("email"),
        "website": contact.get("website"),
    }
    return {field: value for field, value in fields.items() if value}


def party_name(contact: Mapping, language: str) -> str:
    """Who a party is, in a few words: "블루벤처스 이수진" or "Sujin Lee of Blue Ventures"; the
    organisation or the person alone when only one is known."""
    card = card_fields(contact)
    organisation, person = card.get("organisation"), card.get("person")
    if organisation and person and organisation != person:
        return f"{organisation} {person}" if language == "ko" else f"{person} of {organisation}"
    return organisation or person or ("한 참가자" if language == "ko" else "a participant")


def contact_card(contact: Mapping, language: str) -> str:
    """The party's contact card, one labelled line per known field."""
    position = 0 if language == "ko" else 1
    return "\n".join(
        f"  {CARD_LABELS[field][position]}: {value}" for field, value in card_fields(contact).items()
    )


def retry_delay(attempt: int, base_seconds: float) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1, 2, ...): doubling, capped."""
    return min(base_seconds * 2 ** (attempt - 1), 600.0)


def message_id(notification_id: str) -> str:
    """The e-mail's Message-ID, derived from the notification (and so from the event)."""
    return f"<{notification_id}@tech-companion-expo>"


def _registrant(event: Event, kind: str) -> Planned:
    payload = event.payload
    data = {"registrant_kind": payload["kind"]}
    if payload.get("admission") == "waiting" and payload.get("waiting_position"):
        data["waiting_position"] = payload["waiting_position"]
    if payload.get("offer_expires_at"):
        data["offer_expires_at"] = payload["offer_expires_at"]
    return _planned(event, payload["registration_id"], kind, data)


def _planned(
    event: Event, recipient_id: str, kind: str, data: dict, counterpart_id: str | None = None
) -> Planned:
    return Planned(derived_id(event.event_id, kind, recipient_id), recipient_id, kind, data, counterpart_id)


def _template_name(kind: str, data: Mapping) -> str:
    """An answer to interest reads differently as it was accepted or declined, a confirmation
    as the person has a place or is on the waiting list, a promotion as the place is the
    person's or is offered until a deadline."""
    if kind == "interest_answered":
        return "interest_accepted" if data.get("accepted") else "interest_declined"
    if kind == "registration_confirmed" and data.get("waiting_position"):
        return "registration_waiting"
    if kind == "registration_promoted" and data.get("offer_expires_at"):
        return "registration_offered"
    return kind


@cache
def _template(name: str, language: str) -> str:
    filename = f"{name}.{'ko' if language == 'ko' else 'en'}.txt"
    return resources.files("notification").joinpath("templates", filename).read_text("utf-8")


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
    - hourly (and anything unknown: the default): due at max(now, last sent + W), with W =
      ``window_minutes``. The first goes at once; the next are at least W apart, so at most one
      falls in any window of W. It is named after the e-mail it follows, not after the moment:
      every suggestion announced until it is sent and recorded joins it, even one announced
      while it is being sent, across the turn of an hour;
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
    follows = "none" if last_sent is None else last_sent.isoformat()
    # the window's length is in the id: a changed setting does not meet an earlier digest's id
    return Digest(derived_id(DIGEST_KIND, recipient_id, f"{window_minutes:g}min", "after", follows), due)


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


def render_suggestion(
    item: Mapping, contact: Mapping, counterpart_name: str | None, site: Mapping
) -> tuple[str, str]:
    """Subject and body of one announced suggestion, as the in-app inbox shows it."""
    language = contact.get("language", "ko")
    who = counterpart_text(item, counterpart_name, language)
    body = f"{_capital(who)} ({reason_text(item, language)})\n\n"
    body += suggestions_url(site, item["recipient_id"])
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
    url = suggestions_url(site, contact["registration_id"])
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
