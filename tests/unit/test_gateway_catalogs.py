"""The Korean catalogs of every part of the site: every message of a part's templates and code is
translated, plurals keep their number, and no other part translates the same message
differently (the catalogs of all parts are merged into one, so the last one read would win on
every page)."""

from pathlib import Path

import pytest
from babel.messages.extract import extract, extract_from_dir
from babel.messages.pofile import read_po

GATEWAY = Path(__file__).resolve().parents[2] / "services" / "gateway" / "gateway"
TRANSLATIONS = GATEWAY / "translations"
# each part: its templates and its module
PARTS = {
    part: (GATEWAY / "templates" / part, GATEWAY / "web" / f"{part}.py")
    for part in ("attendee", "account", "business", "events", "organiser", "checkin")
}
# parts whose pages also show another part's messages
SHOWS_TOO = {"account": ("attendee",)}
METHODS = [("**.py", "python"), ("**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "N_": None}


def catalog(part: str) -> dict[str, str]:
    path = TRANSLATIONS / part / "ko" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as file:
        return {
            (m.id if isinstance(m.id, str) else m.id[0]): (
                m.string if isinstance(m.string, str) else m.string[0]
            )
            for m in read_po(file)
            if m.id
        }


def messages_of(templates: Path, module: Path) -> set[str]:
    found = set()
    for _, _, message, _, _ in extract_from_dir(
        str(templates), METHODS, keywords=KEYWORDS, options_map={"**.html": {"extensions": "jinja2.ext.do"}}
    ):
        found.add(message if isinstance(message, str) else message[0])
    with module.open("rb") as file:
        for _, message, _, _ in extract("python", file, keywords=KEYWORDS):
            found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.mark.parametrize("part", PARTS)
def test_every_message_is_translated(part):
    known = {**catalog("base")}
    for shown in (*SHOWS_TOO.get(part, ()), part):
        known.update(catalog(shown))
    missing = sorted(message for message in messages_of(*PARTS[part]) if not known.get(message))
    assert missing == [], f"run make catalogs and translate for {part}: {missing}"


@pytest.mark.parametrize("part", PARTS)
def test_plurals_keep_the_number(part):
    with (TRANSLATIONS / part / "ko" / "LC_MESSAGES" / "messages.po").open("rb") as file:
        plurals = [message for message in read_po(file) if isinstance(message.id, tuple)]
    for message in plurals:
        assert all("%(num)" in text for text in message.string), message.id


@pytest.mark.parametrize("part", [*PARTS, "base"])
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
