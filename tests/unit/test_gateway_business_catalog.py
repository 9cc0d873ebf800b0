"""The Korean catalog of the company and investor pages: every message of their templates and code
is translated, plurals included, and no other part of the site translates the same message
differently (the catalogs of all parts are merged into one, so the last one read would win on
every page)."""

from pathlib import Path

from babel.messages.pofile import read_po

from tests.unit.test_gateway_attendee_catalogs import TRANSLATIONS, catalog, messages_of

GATEWAY = Path(__file__).resolve().parents[2] / "services" / "gateway" / "gateway"
TEMPLATES, MODULE = GATEWAY / "templates" / "business", GATEWAY / "web" / "business.py"


def test_every_message_is_translated():
    known = catalog("business")
    missing = sorted(message for message in messages_of(TEMPLATES, MODULE) if not known.get(message))
    assert missing == [], f"run pybabel extract (-k lazy_gettext) and update for business: {missing}"


def test_plurals_are_translated_keeping_the_number():
    with (TRANSLATIONS / "business" / "ko" / "LC_MESSAGES" / "messages.po").open("rb") as file:
        plurals = [message for message in read_po(file) if isinstance(message.id, tuple)]
    assert len(plurals) >= 3
    for message in plurals:
        assert all("%(num)d" in text for text in message.string), message.id


def test_no_other_part_translates_our_messages_differently():
    ours = catalog("business")
    for other in sorted(p.name for p in TRANSLATIONS.iterdir() if (p / "ko").is_dir()):
        if other == "business":
            continue
        theirs = catalog(other)
        different = {
            message: (ours[message], theirs[message])
            for message in ours
            if ours[message] and theirs.get(message) and theirs[message] != ours[message]
        }
        assert different == {}, f"business and {other} translate these differently: {different}"
