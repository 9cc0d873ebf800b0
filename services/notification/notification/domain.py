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

import icalendar
from itsdangerous import BadData, Signer

from notification.mailer import Attachment
from shared import badges, clock, taxonomy
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
# in the confirmation of a company or an investor: the suggestions are on their page at once,
# and e-mailed in a digest only a window later
SUGGESTIONS_NOTE = (
    "\n\n추천해 드리는 상대는 찾는 대로 아래 페이지에 바로 나타납니다.\n{url}",
    "\n\nThe suggestions we find for you appear at once on this page:\n{url}",
)
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


def contact_record(event: Event, status: str) -> dict:
    """What is kept of a registration's contact, from the registration event that tells of it;
    the one that made the registration also tells when (the first digest window opens then)."""
    payload = event.payload
    registered = {"registered_at": event.occurred_at} if event.type == "registration.created" else {}
    return {
        **registered,
        "kind": payload["kind"],
        "status": status,
        **payload["contact"],
        # the event the registration is for, whether the person has a place there, and their
        # check-in code while they do: for reminders, and notices of a change
        "event_id": payload["expo_id"],
        "admission": payload.get("admission"),
        "checkin_code": payload.get("checkin_code"),
    }


def plan(event: Event) -> list[Planned]:
    """The transactional notifications ``event`` calls for, each e-mailed at once (suggestions
    are announced and digested instead, see ``new_suggestions`` and ``next_digest``); none for
    a refreshed contact, which only brings what is kept of it up to date."""
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
    programme_event: Mapping | None = None,
) -> tuple[str, str]:
    """Subject and plain-text body in the recipient's language. ``counterpart`` is the other
    party's contact, for the kinds in ABOUT_COUNTERPART; ``now`` dates a sign-in link;
    ``programme_event`` is the event the e-mail is about, as the read model knows it (None while
    it does not: the default expo's name is then used), for the kinds in ABOUT_PROGRAMME_EVENT."""
    language = contact.get("language", "ko")
    ko = language == "ko"
    if kind == EVENT_REMINDER_KIND:
        return render_reminder(programme_event, contact, site)
    if kind == EVENT_CHANGED_KIND:
        return render_change(data, programme_event, contact, site)
    details = event_details(programme_event, language)
    code = contact.get("checkin_code")
    carer = contact.get("carer_name")
    values = {
        "name": contact.get("name", ""),
        "greeting_name": carer or contact.get("name", ""),
        "for_whom": FOR_WHOM[0 if ko else 1].format(name=contact.get("name", "")) if carer else "",
        "expo_name": event_name(programme_event, site, language),
        "home_url": f"{site['base_url']}/",
        "my_url": my_url(site),
        "event_details": f"\n{details}" if details else "",
        "badge": f"\n\n{badge_text(code, language)}" if code and holds_place(contact) else "",
        "suggestions_note": "",
    }
    if "registration_id" in contact:
        values["reference"] = reference_of(contact["registration_id"])
        values["suggestions_url"] = suggestions_url(site, contact["registration_id"])
        if data.get("registrant_kind") in COUNTERPART_KIND:  # a company or an investor
            values["suggestions_note"] = SUGGESTIONS_NOTE[0 if ko else 1].format(
                url=values["suggestions_url"]
            )
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
    registered_at: datetime | None,
    window_minutes: float,
    daily_hour: int,
    event_id: str,
) -> Digest | None:
    """The digest that should tell ``recipient_id`` of suggestions announced ``now``; None when
    they chose no suggestion e-mails.

    - immediate: one per event, due now;
    - hourly (and anything unknown: the default): due at max(now, last sent + W), with W =
      ``window_minutes``, so at most one falls in any window of W. The confirmation of the
      registration (at ``registered_at``) opens the first window: someone who registers hears
      from us once then, and of the suggestions found meanwhile a window later, not moments
      after the confirmation (they are in-app at once). When neither is known (a contact
      kept by an earlier version), the first goes at once. A digest is named after the e-mail
      it follows, not after the moment: every suggestion announced until it is sent and
      recorded joins it, even one announced while it is being sent, across the turn of an hour;
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
    if last_sent is not None:
        opened, follows = last_sent, last_sent.isoformat()
    elif registered_at is not None:
        opened, follows = registered_at, f"registration {registered_at.isoformat()}"
    else:
        opened, follows = None, "none"
    due = now if opened is None else max(now, opened + timedelta(minutes=window_minutes))
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


# Events of the programme. Registration tells of each event as everyone may see it
# (``registration.programme_event_changed``); notification keeps the newest of each, and says
# in its e-mails which event, when and where, reminds the people who have places the day before,
# and tells everyone registered when an event is cancelled or moves.

EVENT_REMINDER_KIND = "event_reminder"
EVENT_CHANGED_KIND = "event_changed"
# the e-mails about a registration that name its event, and say when and where
ABOUT_PROGRAMME_EVENT = frozenset(
    {
        "registration_confirmed",
        "registration_cancelled",
        "registration_promoted",
        "registration_changed",
        EVENT_REMINDER_KIND,
        EVENT_CHANGED_KIND,
    }
)
# the e-mails that tell of nothing but the event, and are not written without it
ABOUT_EVENT_ONLY = frozenset({EVENT_REMINDER_KIND, EVENT_CHANGED_KIND})
# the e-mails that carry the check-in code (its QR code) and the calendar entry, to those who
# hold their places
# a change may be a new badge in place of a lost one: every change e-mail shows the badge as it is now
WITH_BADGE = frozenset(
    {"registration_confirmed", "registration_promoted", "registration_changed", EVENT_REMINDER_KIND}
)
WITH_CALENDAR = frozenset(
    {"registration_confirmed", "registration_promoted", EVENT_REMINDER_KIND, EVENT_CHANGED_KIND}
)
# what the read model keeps of each event
PROGRAMME_FIELDS = ("kind", "status", "name_ko", "name_en", "starts_at", "ends_at", "venue")
# events people may come to: reminded of, and told of when they change
TAKING_PLACE = ("open", "closed")
WEEKDAYS = {
    "ko": ("월", "화", "수", "목", "금", "토", "일"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
VENUE_FACT_LABELS = {
    "step_free_entrance": ("계단 없는 입구", "Step-free entrance"),
    "accessible_toilets": ("장애인 화장실", "Accessible toilets"),
    "hearing_loop": ("청각 보조 장치(히어링 루프)", "Hearing loop"),
}
FACT_VALUES = {True: ("있음", "yes"), False: ("없음", "no"), None: ("확인 중", "not known yet")}
CALENDAR_PRODUCT = "-//Tech Companion Network//Tech Companion Expo//KO"


def programme_event_record(payload: Mapping) -> dict:
    """What the read model keeps of an event of the programme, from its event."""
    return {key: payload.get(key) for key in PROGRAMME_FIELDS} | {"venue": dict(payload.get("venue") or {})}


def holds_place(contact: Mapping) -> bool:
    """Whether the person is coming: registered, and admitted (or at an event without places to
    count, where everyone is); not waiting, not offered places still to confirm, not cancelled."""
    return contact.get("status") == "active" and contact.get("admission") in ("admitted", None)


def programme_event_id(data: Mapping, contact: Mapping) -> str | None:
    """The event a notification is about: named in it (reminders, notices of a change), or the
    one the registration is for."""
    return data.get("programme_event_id") or contact.get("event_id")


def event_name(event: Mapping | None, site: Mapping, language: str) -> str:
    """The event's name in ``language``; the default expo's name while the event is not known."""
    if event is None:
        return site["expo_name_ko"] if language == "ko" else site["expo_name_en"]
    return event["name_ko"] if language == "ko" else event["name_en"]


def when_text(starts_at: str, ends_at: str | None, language: str) -> str:
    """The date and time, Seoul's: "2026년 12월 2일 (수) 14:00~17:00 (서울 시간)" or "Wednesday
    2 December 2026, 14:00–17:00 (Seoul time)"; an end on another day is dated too."""
    start = clock.in_seoul(starts_at)
    end = clock.in_seoul(ends_at) if ends_at else None
    if language == "ko":
        day = f"{start.year}년 {start.month}월 {start.day}일 ({WEEKDAYS['ko'][start.weekday()]})"
        text = f"{day} {start:%H:%M}"
        if end is not None:
            text += (
                f"~{end:%H:%M}" if end.date() == start.date() else f" ~ {end.month}월 {end.day}일 {end:%H:%M}"
            )
        return f"{text} (서울 시간)"
    day = f"{WEEKDAYS['en'][start.weekday()]} {start.day} {MONTHS_EN[start.month - 1]} {start.year}"
    text = f"{day}, {start:%H:%M}"
    if end is not None:
        text += (
            f"–{end:%H:%M}"
            if end.date() == start.date()
            else f" to {end.day} {MONTHS_EN[end.month - 1]}, {end:%H:%M}"
        )
    return f"{text} (Seoul time)"


def _in_language(venue: Mapping, field: str, language: str) -> str | None:
    """A venue's text in ``language``, or in the other one when only that was given."""
    first, second = ("ko", "en") if language == "ko" else ("en", "ko")
    return venue.get(f"{field}_{first}") or venue.get(f"{field}_{second}")


def where_text(venue: Mapping, language: str) -> str | None:
    """The venue's name and address, in one line; None when neither is known yet."""
    parts = [_in_language(venue, field, language) for field in ("name", "address")]
    known = [part for part in parts if part]
    return ", ".join(known) if known else None


def event_details(event: Mapping | None, language: str) -> str:
    """When and where, one labelled line each, as far as they are known ("" for neither)."""
    if event is None:
        return ""
    ko = language == "ko"
    lines = []
    if event.get("starts_at"):
        lines.append(
            f"{'일시' if ko else 'When'}: {when_text(event['starts_at'], event.get('ends_at'), language)}"
        )
    where = where_text(event.get("venue") or {}, language)
    if where:
        lines.append(f"{'장소' if ko else 'Where'}: {where}")
    return "\n".join(lines)


def step_free_directions(venue: Mapping, language: str) -> str:
    """How to get there and about step-free: the subway exit, what the venue has, and the
    organisers' notes, in ``language``."""
    ko = language == "ko"
    position = 0 if ko else 1
    lines = ["오시는 길 (계단 없이):" if ko else "Getting there step-free:"]
    subway = _in_language(venue, "subway_exit", language)
    if subway:
        lines.append(f"- {'지하철' if ko else 'Subway'}: {subway}")
    for fact, labels in VENUE_FACT_LABELS.items():
        lines.append(f"- {labels[position]}: {FACT_VALUES[venue.get(fact)][position]}")
    notes = _in_language(venue, "access_notes", language)
    if notes:
        lines.append("- " + notes.replace("\n", "\n  "))
    return "\n".join(lines)


def badge_text(code: str, language: str) -> str:
    """What is said of the check-in code, whose QR code the e-mail carries as an image."""
    if language == "ko":
        return f"입장 코드: {badges.display(code)}\n입장하실 때 첨부된 QR 코드나 이 코드를 보여 주세요."
    return f"Check-in code: {badges.display(code)}\nShow the attached QR code, or this code, at the entrance."


def reminders_due(events: Iterable[Mapping], now: datetime, hour: int) -> list[Mapping]:
    """The events (read-model documents) whose reminders are to be sent now: taking place, with
    a start on the next day in Seoul, from ``hour``:00 Seoul time the day before, and not yet
    sent for that start (``reminded_for``)."""
    local = now.astimezone(SEOUL)
    if local.hour < hour:
        return []
    tomorrow = local.date() + timedelta(days=1)
    return [
        event
        for event in events
        if event.get("status") in TAKING_PLACE
        and event.get("starts_at")
        and clock.in_seoul(event["starts_at"]).date() == tomorrow
        and event.get("reminded_for") != event["starts_at"]
    ]


def reminder_notifications(event: Mapping, contacts: Iterable[Mapping], now: str) -> list[dict]:
    """A reminder for each of ``contacts`` (registered for ``event``) who holds a place: one per
    registration and event whoever plans it and however often (its id says so), due now."""
    return [
        _queued(
            derived_id(EVENT_REMINDER_KIND, event["_id"], contact["_id"]),
            contact["_id"],
            EVENT_REMINDER_KIND,
            {"programme_event_id": event["_id"]},
            now,
        )
        for contact in contacts
        if holds_place(contact)
    ]


def reminder_still_due(contact: Mapping, event: Mapping | None, now: datetime) -> bool:
    """Whether a reminder planned earlier still has something to remind of as it is sent: the
    person still holds a place, and the event is still taking place and to come."""
    return (
        holds_place(contact)
        and event is not None
        and event.get("status") in TAKING_PLACE
        and bool(event.get("starts_at"))
        and clock.parse_iso(event["starts_at"]) > now
    )


def still_to_send(kind: str, contact: Mapping, event: Mapping | None, now: datetime) -> bool:
    """Whether a notification planned earlier is still to be sent as its time comes: a reminder
    to someone who still holds a place at an event still to come, a notice of a change to
    someone still registered; any other, always."""
    if kind == EVENT_REMINDER_KIND:
        return reminder_still_due(contact, event, now)
    if kind == EVENT_CHANGED_KIND:
        return contact.get("status") == "active" and event is not None
    return True


def change_notifications(event: Event, contacts: Iterable[Mapping], now: str) -> list[dict]:
    """A notice of what changed (``changes`` of a ``registration.programme_event_changed``) to
    everyone registered for the event, admitted, offered places or waiting; none when nothing
    they need to know changed. One per change and person (its id derives from the event)."""
    payload = event.payload
    if not payload["changes"]:
        return []
    previous = payload.get("previous") or {}
    data = {
        "programme_event_id": payload["programme_event_id"],
        "changes": list(payload["changes"]),
        "previous_starts_at": previous.get("starts_at"),
        "previous_venue": dict(previous.get("venue") or {}),
    }
    return [
        _queued(
            derived_id(event.event_id, EVENT_CHANGED_KIND, contact["_id"]),
            contact["_id"],
            EVENT_CHANGED_KIND,
            data,
            now,
        )
        for contact in contacts
        if contact.get("status") == "active"
    ]


def _queued(notification_id: str, recipient_id: str, kind: str, data: dict, now: str) -> dict:
    return {
        "_id": notification_id,
        "recipient_id": recipient_id,
        "kind": kind,
        "data": data,
        "attempts": 0,
        "status": "queued",
        "due_at": now,
        "created_at": now,
        "updated_at": now,
    }


def render_reminder(event: Mapping, contact: Mapping, site: Mapping) -> tuple[str, str]:
    """The reminder the day before: when, where, how to get there step-free, the check-in code."""
    language = contact.get("language", "ko")
    name = event_name(event, site, language)
    parts = [event_details(event, language), step_free_directions(event.get("venue") or {}, language)]
    if contact.get("checkin_code"):
        parts.append(badge_text(contact["checkin_code"], language))
    if language == "ko":
        subject = f"[기술동행] 내일 열리는 {name} 안내"
        opening = f"{contact['name']}님, 안녕하세요.\n\n내일 열리는 {name}에 오시기 전에 확인해 주세요."
        closing = (
            "오실 수 없게 되셨다면 다음 대기자가 자리를 받을 수 있도록 아래 주소에서 등록을 취소해 주세요."
            f"\n\n{my_url(site)}\n\n기술동행 네트워크 드림"
        )
    else:
        subject = f"[Tech Companion] Tomorrow: {name}"
        opening = f"Hello {contact['name']},\n\nWe look forward to seeing you at {name} tomorrow."
        closing = (
            "If you can no longer come, please cancel your registration at the page below, so that "
            f"the next person in line gets your place.\n\n{my_url(site)}\n\nThe Tech Companion Network"
        )
    return subject, "\n\n".join(part for part in [opening, *parts, closing] if part) + "\n"


def render_change(data: Mapping, event: Mapping, contact: Mapping, site: Mapping) -> tuple[str, str]:
    """The notice that an event was cancelled, or moved to another time or venue: what it was,
    and what it is now."""
    language = contact.get("language", "ko")
    ko = language == "ko"
    name = event_name(event, site, language)
    changes = data["changes"]
    if "cancelled" in changes:
        if ko:
            subject = f"[기술동행] {name} 행사가 취소되었습니다"
            text = f"{name} 행사가 취소되었습니다. 등록해 주셔서 감사합니다. 불편을 드려 죄송합니다."
        else:
            subject = f"[Tech Companion] {name} is cancelled"
            text = f"We are sorry: {name} is cancelled. Thank you for registering."
        blocks = [("취소된 행사" if ko else "The event was", event_details(event, language))]
        return subject, _notice(text, blocks, contact, site)
    moved = [change for change in ("starts_at", "venue") if change in changes]
    if ko:
        # 일시, 장소, 일시와 장소: each ends in a vowel, so each takes 가
        what = "와 ".join({"starts_at": "일시", "venue": "장소"}[change] for change in moved)
        subject = f"[기술동행] {name} {what} 변경 안내"
        text = f"{name}의 {what}가 바뀌었습니다. 바뀐 내용을 확인해 주세요."
    else:
        what = " and ".join({"starts_at": "time", "venue": "venue"}[change] for change in moved)
        verb = "have" if len(moved) > 1 else "has"
        subject = f"[Tech Companion] The {what} of {name} {verb} changed"
        text = f"The {what} of {name} {verb} changed. Here is how it is now."
    previous = {
        "starts_at": data.get("previous_starts_at") if "starts_at" in changes else None,
        "venue": data.get("previous_venue") if "venue" in changes else {},
    }
    now_details = event_details(event, language)
    if "venue" in changes:
        now_details += "\n\n" + step_free_directions(event.get("venue") or {}, language)
    blocks = [
        ("이전" if ko else "Before", event_details(previous, language)),
        ("바뀐 내용" if ko else "Now", now_details),
    ]
    return subject, _notice(text, blocks, contact, site)


def _notice(text: str, blocks: list[tuple[str, str]], contact: Mapping, site: Mapping) -> str:
    """A notice of a change: greeting, what happened, labelled blocks (those with any lines),
    and the page of the person's registration."""
    ko = contact.get("language", "ko") == "ko"
    greeting = f"{contact['name']}님, 안녕하세요." if ko else f"Hello {contact['name']},"
    parts = [greeting, text, *(f"{label}:\n{lines}" for label, lines in blocks if lines)]
    parts.append(
        ("등록은 아래 주소에서 확인하실 수 있습니다." if ko else "Your registration is at the page below.")
        + f"\n\n{my_url(site)}\n\n"
        + ("기술동행 네트워크 드림" if ko else "The Tech Companion Network")
    )
    return "\n\n".join(parts) + "\n"


def calendar_uid(registration_id: str, event_id: str) -> str:
    """The calendar entry's UID: the same for a registration and its event in every e-mail, so a
    calendar replaces its entry with a newer one (a moved or cancelled event) instead of adding
    another."""
    return f"{derived_id('calendar', registration_id, event_id)}@tech-companion-expo"


def calendar_entry(
    event: Mapping, event_id: str, revision: int, contact: Mapping, site: Mapping, now: datetime
) -> bytes:
    """The event as an iCalendar (RFC 5545) entry for the registration's calendar, in the
    person's language, in UTC; cancelled (STATUS:CANCELLED) once the event is. SEQUENCE is the
    event's revision: a newer entry replaces an older one."""
    language = contact.get("language", "ko")
    calendar = icalendar.Calendar()
    calendar.add("prodid", CALENDAR_PRODUCT)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    entry = icalendar.Event()
    entry.add("uid", calendar_uid(contact["registration_id"], event_id))
    entry.add("dtstamp", now.astimezone(UTC))
    entry.add("sequence", revision)
    entry.add("dtstart", clock.parse_iso(event["starts_at"]))
    if event.get("ends_at"):
        entry.add("dtend", clock.parse_iso(event["ends_at"]))
    entry.add("summary", event_name(event, site, language))
    where = where_text(event.get("venue") or {}, language)
    if where:
        entry.add("location", where)
    entry.add("url", my_url(site))
    entry.add("status", "CANCELLED" if event.get("status") == "cancelled" else "CONFIRMED")
    calendar.add_component(entry)
    return calendar.to_ical()


def attachments(
    kind: str,
    contact: Mapping,
    event: Mapping | None,
    site: Mapping,
    now: datetime,
) -> list[Attachment]:
    """What an e-mail of ``kind`` carries besides its text, for a person who holds a place: the
    QR code of their check-in code (shown in the message), and the calendar entry of their event
    once it has a start time."""
    if not holds_place(contact):
        return []
    attached = []
    code = contact.get("checkin_code")
    if kind in WITH_BADGE and code:
        attached.append(
            Attachment(f"checkin-{badges.display(code)}.png", "image/png", badges.qr_png(code), inline=True)
        )
    if kind in WITH_CALENDAR and event is not None and event.get("starts_at"):
        entry = calendar_entry(event, event["_id"], event["revision"], contact, site, now)
        attached.append(Attachment("event.ics", "text/calendar", entry, parameters=(("method", "PUBLISH"),)))
    return attached
