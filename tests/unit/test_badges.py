"""Check-in codes: made at random, read back however they are typed, printed as QR codes."""

from registration import domain
from shared import badges


def test_codes_are_random_and_use_only_unmistakable_characters() -> None:
    codes = {badges.new_code() for _ in range(1000)}
    assert len(codes) == 1000
    assert all(len(code) == badges.LENGTH and set(code) <= set(badges.ALPHABET) for code in codes)
    assert not set("01ILOU") & set(badges.ALPHABET)


def test_a_code_is_read_back_however_it_is_typed() -> None:
    code = badges.new_code()
    printed = badges.display(code)
    assert printed.count("-") == 2
    for typed in (
        code,
        printed,
        printed.lower(),
        " " + printed.replace("-", " ") + " ",
        printed.replace("-", "–"),
    ):
        assert badges.normalise(typed) == code


def test_what_cannot_be_a_code_is_refused() -> None:
    for typed in ("", "ABCD-EFGH", "ABCD-EFGH-JKM0", "ABCD-EFGH-JKMNP", "TCX-ABCD-EFGH", "<script>"):
        assert badges.normalise(typed) is None


def test_the_qr_code_is_a_full_qr_code_with_a_title() -> None:
    svg = badges.qr_svg("ABCDEFGHJKMN", title="Check-in code ABCD-EFGH-JKMN")
    assert svg.startswith("<svg") and "<title>Check-in code ABCD-EFGH-JKMN</title>" in svg
    assert badges.qr_png("ABCDEFGHJKMN").startswith(b"\x89PNG")
    assert badges._qr("ABCDEFGHJKMN").is_micro is False


def _registration(**fields: object) -> dict:
    document, _ = domain.register(
        "attendee",
        {"name": "김민지", "email": "minji@example.org", "language": "ko", "consents": {"privacy": True}},
        "expo",
        "hash",
        "2026-12-01T00:00:00.000000Z",
    )
    return {**document, **fields}


def test_the_badge_travels_only_while_the_places_are_held() -> None:
    document = _registration()
    assert domain.badge_code(document) == document["checkin_code"]
    assert domain.badge_code(domain.admit(document)) == document["checkin_code"]
    assert domain.badge_code(domain.wait(document, "2026-12-01T00:00:00.000000Z")) is None
    assert domain.badge_code({**document, "admission": "offered"}) is None
    cancelled, events = domain.cancel(document, "2026-12-01T00:00:01.000000Z")
    assert "checkin_code" not in cancelled and "checkin_code" not in events[0]["payload"]


def test_the_contact_event_carries_the_badge_of_an_admitted_registration() -> None:
    admitted = domain.admit(_registration())
    updated, events = domain.change(admitted, {"name": "김민지 (보호자)"}, "2026-12-01T00:00:02.000000Z")
    assert events[0]["payload"]["checkin_code"] == admitted["checkin_code"]
