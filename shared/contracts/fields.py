"""Strict marshmallow fields for input from outside.

Only the exact JSON type is accepted: no string where a number belongs, no number where a flag
belongs, no object (such as ``{"$ne": null}``) where a string belongs.
"""

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from marshmallow import ValidationError, fields, validate

from shared import clock, taxonomy
from shared.settings import Settings

MAX_TEXT = 2000


# what must never be in a name or any one-line text: C0 and C1 control characters (a line break
# in an e-mail header starts a new header) and the bidirectional controls that make text read
# differently from how it is stored (Trojan Source, CVE-2021-42574)
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
LINE_SEPARATORS = frozenset("\u2028\u2029")


def unsafe_characters(text: str, allowed: str = "") -> bool:
    """Whether ``text`` holds a control, bidirectional-control or line-separator character
    (other than those ``allowed``)."""
    return any(
        (ord(ch) < 32 or 127 <= ord(ch) < 160 or ch in BIDI_CONTROLS or ch in LINE_SEPARATORS)
        and ch not in allowed
        for ch in text
    )


class Text(fields.String):
    """A trimmed string without control characters, bidirectional controls, NUL or unpaired
    surrogates; one line unless ``multiline`` (names end up in e-mail headers)."""

    def __init__(
        self, *, max_length: int = 200, min_length: int = 1, multiline: bool = False, **kwargs: Any
    ) -> None:
        validators = [validate.Length(min=min_length, max=max_length)]
        super().__init__(validate=validators, **kwargs)
        self.allowed_controls = "\n\t" if multiline else ""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = _valid_unicode(super()._deserialize(value, attr, data, **kwargs)).strip()
        if unsafe_characters(text, self.allowed_controls):
            raise ValidationError("Must not contain control characters, direction overrides or line breaks.")
        return text


def _valid_unicode(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValidationError("Must be valid Unicode text.") from error
    return text


class Flag(fields.Boolean):
    """JSON true or false only; "yes", 1 or "true" are refused."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(truthy={True}, falsy={False}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


# RFC 5322 dot-atom, the local parts every relay takes (no quoted strings, no comments)
DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
DOMAIN_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
# names that never reach a real mailbox on the internet: special-use top-level domains (RFC 2606,
# 6761, 6762, 7686, 9476; .internal, ICANN 2024) and the example domains (RFC 2606)
RESERVED_TOP_LEVEL = frozenset(
    {"test", "example", "invalid", "localhost", "local", "onion", "alt", "internal", "arpa"}
)
RESERVED_DOMAINS = frozenset({"example.com", "example.net", "example.org"})


class UndeliverableAddress(ValueError):
    pass


def deliverable_address(address: str, reserved_allowed: Iterable[str] = ()) -> str:
    """``address`` with its domain lower-cased, if it is an address a public relay delivers to
    (raises UndeliverableAddress otherwise): a dot-atom local part; a domain of two labels or
    more, not an IP literal, not single-label, not reserved (unless it is, or is under, one of
    ``reserved_allowed``); an internationalised domain such as 한국.kr is kept in Unicode."""
    local, at, domain = address.rpartition("@")
    if not at or len(address) > 254 or len(local) > 64 or not DOT_ATOM.fullmatch(local):
        raise UndeliverableAddress("The part before @ must use Latin letters, digits and . _ + -")
    domain = domain.lower()
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise UndeliverableAddress("Not a valid e-mail domain.") from error
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(DOMAIN_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        raise UndeliverableAddress("The part after @ must be a domain name such as example.kr.")
    allowed = any(ascii_domain == name or ascii_domain.endswith("." + name) for name in reserved_allowed)
    reserved = labels[-1] in RESERVED_TOP_LEVEL or ".".join(labels[-2:]) in RESERVED_DOMAINS
    if reserved and not allowed:
        raise UndeliverableAddress("That domain is reserved and receives no e-mail.")
    return f"{local}@{domain}"


class Email(fields.Email):
    """An e-mail address that a public mail relay delivers (see ``deliverable_address``); the
    deployment may allow reserved domains (``EMAIL_RESERVED_DOMAINS_ALLOWED``: a local run and
    the tests send to example.org, delivered to their own mail sink)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=validate.Length(max=254), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, str):
            value = _valid_unicode(value).strip()
            if unsafe_characters(value):
                raise ValidationError("Must not contain control characters or line breaks.")
        address = super()._deserialize(value, attr, data, **kwargs)
        # the general shape first, so that "not an address" gets the usual message
        validate.Email(error=self.error_messages["invalid"])(address)
        try:
            return deliverable_address(address, Settings.from_env().email_reserved_domains_allowed)
        except UndeliverableAddress as error:
            raise ValidationError(str(error)) from error


class TagId(fields.String):
    """A tag in any language or synonym, normalised to its taxonomy id."""

    def __init__(self, categories: tuple[str, ...] = taxonomy.MATCHING_CATEGORIES, **kwargs: Any):
        super().__init__(validate=validate.Length(max=60), **kwargs)
        self.categories = categories

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        tag_id = taxonomy.normalise(text, self.categories)
        if tag_id is None:
            raise ValidationError(f"Unknown tag {text[:60]!r}; see GET /api/v1/tags.")
        return tag_id


class TagList(fields.List):
    """A non-empty list of distinct tags (duplicates after normalisation are merged)."""

    def __init__(
        self,
        categories: tuple[str, ...] = taxonomy.MATCHING_CATEGORIES,
        max_items: int = 30,
        min_items: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(TagId(categories), validate=validate.Length(min=min_items, max=max_items), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        # the length is checked before each element is normalised, so a 10,000-element list
        # is refused at once
        if isinstance(value, list) and len(value) > 100:
            raise ValidationError("Too many items.")
        return list(dict.fromkeys(super()._deserialize(value, attr, data, **kwargs)))


class Choice(fields.String):
    def __init__(self, choices: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(validate=validate.OneOf(choices), **kwargs)


class Amount(fields.Integer):
    """A whole number of Korean won, 0 to 10 trillion."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, validate=validate.Range(min=0, max=10**13), **kwargs)


class SeoulTime(fields.String):
    """A moment, in ISO 8601: with its offset (``2026-06-21T14:00:00+09:00``, ``...Z``), or
    without one as Seoul's local time (``2026-06-21 14:00``, as organisers type it). Loaded as a
    stored time (UTC, ``shared.clock``), answered as stored."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        try:
            if len(text) > 40:
                raise ValueError(text[:40])
            moment = datetime.fromisoformat(text)
        except ValueError as error:
            raise ValidationError("Enter a date and time such as 2026-06-21 14:00.") from error
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=clock.SEOUL)
        # a typing slip (2206 for 2026) is refused rather than kept as a date nobody meant
        if not 2000 <= moment.year <= 2100:
            raise ValidationError("Enter a date between the years 2000 and 2100.")
        return clock.to_iso(moment)
