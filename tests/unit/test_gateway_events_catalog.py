"""The Korean catalogs of the events pages and of the organisers' pages: every message of their
templates and code is translated, plurals keep their number, and no other part of the site
translates the same message differently (the catalogs of all parts are merged into one)."""

from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from tests.unit.test_gateway_attendee_catalogs import TRANSLATIONS, catalog, messages_of

GATEWAY = Path(__file__).resolve().parents[2] / "services" / "gateway" / "gateway"
PARTS = {
    "events": (GATEWAY / "templates" / "events", GATEWAY / "web" / "events.py"),
    "organiser": (GATEWAY / "templates" / "organiser", GATEWAY / "web" / "organiser.py"),
}


@pytest.mark.parametrize("part", PARTS)
def test_every_message_is_translated(part):
    known = {**catalog("base"), **catalog(part)}
    missing = sorted(message for message in messages_of(*PARTS[part]) if not known.get(message))
    assert missing == [], f"run make catalogs and translate for {part}: {missing}"


@pytest.mark.parametrize("part", PARTS)
def test_plurals_keep_the_number(part):
    with (TRANSLATIONS / part / "ko" / "LC_MESSAGES" / "messages.po").open("rb") as file:
        plurals = [message for message in read_po(file) if isinstance(message.id, tuple)]
    for message in plurals:
        assert all("%(num)" in text for text in message.string), message.id


@pytest.mark.parametrize("part", PARTS)
def test_no_other_part_translates_our_messages_differently(part):
    ours = catalog(part)
    for other in sorted(p.name for p in TRANSLATIONS.iterdir() if (p / "ko").is_dir()):
        if other == part:
            continue
        theirs = catalog(other)
        different = {
            message: (ours[message], theirs[message])
            for message in ours
            if ours[message] and theirs.get(message) and theirs[message] != ours[message]
        }
        assert different == {}, f"{part} and {other} translate these differently: {different}"
