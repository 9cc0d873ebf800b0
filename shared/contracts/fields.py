"""Strict marshmallow fields for input from outside.

Only the exact JSON type is accepted: no string where a number belongs, no number where a flag
belongs, no object (such as ``{"$ne": null}``) where a string belongs.
"""

from typing import Any

from marshmallow import ValidationError, fields, validate

from shared import taxonomy

MAX_TEXT = 2000


class Text(fields.String):
    """A trimmed string without control characters, NUL or unpaired surrogates; one line
    unless ``multiline`` (names end up in e-mail headers)."""

    def __init__(
        self, *, max_length: int = 200, min_length: int = 1, multiline: bool = False, **kwargs: Any
    ) -> None:
        validators = [validate.Length(min=min_length, max=max_length)]
        super().__init__(validate=validators, **kwargs)
        self.allowed_controls = "\n\t" if multiline else ""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = _valid_unicode(super()._deserialize(value, attr, data, **kwargs)).strip()
        if any((ord(ch) < 32 or ord(ch) == 127) and ch not in self.allowed_controls for ch in text):
            raise ValidationError("Must not contain control characters or line breaks.")
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


class Email(fields.Email):
    """An e-mail address that any mail relay accepts: trimmed, an ASCII local part, and the
    domain lower-cased (an internationalised domain such as 한국.kr is kept in Unicode)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=validate.Length(max=254), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, str):
            value = _valid_unicode(value).strip()
        address = super()._deserialize(value, attr, data, **kwargs)
        local, _, domain = address.rpartition("@")
        if not local.isascii():
            raise ValidationError("The part before @ must use Latin letters, digits and . _ + -")
        try:
            domain.encode("idna")
        except UnicodeError as error:
            raise ValidationError("Not a valid e-mail domain.") from error
        return f"{local}@{domain.lower()}"


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
