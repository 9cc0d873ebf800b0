"""Schemas of the gateway's own answers and small requests (the registration schemas are shared
with the registration service, in ``shared.contracts.registration``)."""

import re

from marshmallow import Schema, fields, validate

from shared.contracts.fields import Flag


class ReasonSchema(Schema):
    kind = fields.String(metadata={"description": "shared_tag or stage"})
    tag = fields.String()
    category = fields.String()
    weight = fields.Float()
    stage = fields.String()
    fit = fields.String(metadata={"description": "exact, adjacent or none"})
    text = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "The reason in Korean (ko) and English (en)."},
    )


class _MatchSchema(Schema):
    score = fields.Float(metadata={"description": "In (0, 100]; higher is better."})
    reasons = fields.List(fields.Nested(ReasonSchema))
    suggested_at = fields.String()
    interest = fields.String(allow_none=True, metadata={"description": "pending, accepted, declined"})


class CompanyMatchSchema(_MatchSchema):
    company_id = fields.String()
    company = fields.Dict(metadata={"description": "The company's public profile."})


class InvestorMatchSchema(_MatchSchema):
    investor_id = fields.String()
    investor = fields.Dict(metadata={"description": "The investor's public profile."})


class CompanyMatchesSchema(Schema):
    items = fields.List(fields.Nested(CompanyMatchSchema))


class InvestorMatchesSchema(Schema):
    items = fields.List(fields.Nested(InvestorMatchSchema))


class InterestSchema(Schema):
    interest_id = fields.String()
    investor_id = fields.String()
    company_id = fields.String()
    status = fields.String(metadata={"description": "pending, accepted or declined"})
    created_at = fields.String()
    answered_at = fields.String(allow_none=True)


class InterestAnswerSchema(Schema):
    accept = Flag(required=True)


class DeleteQuerySchema(Schema):
    erase = fields.Boolean(
        load_default=False,
        truthy={"true", "1"},
        falsy={"false", "0"},
        metadata={"description": "true: destroy all personal data now (PIPA Art. 21) instead of cancelling."},
    )


class ExportQuerySchema(Schema):
    format = fields.String(
        load_default="csv",
        validate=validate.OneOf(("csv", "xlsx")),
        metadata={"description": "csv (UTF-8 with a byte order mark) or xlsx (an Excel workbook)."},
    )
    names = fields.Boolean(
        load_default=False,
        truthy={"true", "1"},
        falsy={"false", "0"},
        metadata={
            "description": "accessibility only: the people with their needs, by name, rather than counts. "
            "Only for organisers given that permission (ORGANISER_SENSITIVE_EMAILS) and signed in to "
            "the pages: the organiser token names nobody, and is refused (403)."
        },
    )


class NotificationSchema(Schema):
    id = fields.String()
    kind = fields.String(
        metadata={
            "description": "registration_confirmed, registration_cancelled, interest_received, "
            "interest_answered, suggestions_digest (an e-mail telling of new suggestions), "
            "suggestion (one new suggestion, shown in-app at once), event_reminder (the day "
            "before the event), event_changed (the event was cancelled or moved)"
        }
    )
    status = fields.String(
        metadata={"description": "queued, sending, sent or failed; in_app for a suggestion"}
    )
    attempts = fields.Integer()
    created_at = fields.String()
    sent_at = fields.String(allow_none=True)
    subject = fields.String(allow_none=True)
    body = fields.String(allow_none=True)


class NotificationsSchema(Schema):
    items = fields.List(fields.Nested(NotificationSchema))


class ListQuerySchema(Schema):
    """How much of a list to answer: the suggestions (a party keeps its best MATCHING_TOP_N), or
    the notifications."""

    limit = fields.Integer(
        load_default=50,
        validate=validate.Range(min=1, max=200),
        metadata={"description": "How many items at most, best or newest first."},
    )


class NotificationsQuerySchema(ListQuerySchema):
    recipient_id = fields.String(metadata={"description": "Organisers only: whose notifications."})


# how a registrant hears of new suggestions by e-mail (the notification service's choices)
SUGGESTION_EMAILS = ("immediate", "hourly", "daily", "off")


class PreferencesSchema(Schema):
    suggestion_emails = fields.String(
        required=True,
        validate=validate.OneOf(SUGGESTION_EMAILS),
        metadata={
            "description": "New suggestions by e-mail: immediate (one e-mail per change), hourly "
            "(at most one e-mail per SUGGESTION_DIGEST_MINUTES, the default), daily (at "
            "SUGGESTION_DAILY_HOUR, Seoul time) or off (in-app only). Other e-mails always go."
        },
    )


class PreferencesQuerySchema(Schema):
    recipient_id = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Organisers only: whose preferences."},
    )


# an unsubscribe token as the notification service makes it: printable ASCII, no space
UNSUBSCRIBE_TOKEN = re.compile(r"[!-~]{1,400}")


class UnsubscribeQuerySchema(Schema):
    token = fields.String(
        required=True,
        validate=validate.Length(min=1, max=400),
        metadata={"description": "The token of the List-Unsubscribe link in a suggestions e-mail."},
    )


class OneClickSchema(Schema):
    """RFC 8058's one-click body, as mail clients send it; may be left out."""

    one_click = fields.String(data_key="List-Unsubscribe", validate=validate.Equal("One-Click"))


class UnsubscribedSchema(Schema):
    suggestion_emails = fields.String(metadata={"description": "Now off."})
    message = fields.String()


class TagSchema(Schema):
    id = fields.String()
    ko = fields.String()
    en = fields.String()
    synonyms = fields.List(fields.String())


class TagCategorySchema(Schema):
    id = fields.String()
    tags = fields.List(fields.Nested(TagSchema))


class TaxonomySchema(Schema):
    categories = fields.List(fields.Nested(TagCategorySchema))


class SummarySchema(Schema):
    registrations = fields.Dict(metadata={"description": "Counts by kind and status."})
    accessibility_needs = fields.Dict(metadata={"description": "Counts of active needs, by need."})
    notifications = fields.Dict(metadata={"description": "Counts by delivery status."})
    dead_letters = fields.Dict(metadata={"description": "Parked messages, by service."})
    outbox_pending = fields.Dict(metadata={"description": "Events not yet published, by service."})
    matching = fields.Dict()


class DeadLetterSchema(Schema):
    service = fields.String()
    id = fields.String(metadata={"description": "The event id (or a digest of a body without one)."})
    reason = fields.String()
    attempts = fields.Integer()
    status = fields.String(metadata={"description": "parked, replaying or replayed"})
    parked_at = fields.String()
    replays = fields.Integer()
    replayed_at = fields.String(allow_none=True)
    body = fields.Raw(metadata={"description": "The message as it was received (inspect only)."})


class DeadLettersSchema(Schema):
    items = fields.List(fields.Nested(DeadLetterSchema))
