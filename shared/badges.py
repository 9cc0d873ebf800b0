"""Badges: the check-in code an admitted person shows at the door, as text and as a QR code.

The registration service makes the codes and checks them in; the gateway shows them on the
person's page and reads them at the door; the notification service puts them in e-mails. A code
is random (nothing about the person can be read from it or guessed), and a new one replaces it
when it is revoked.
"""

import io
import re
import secrets

import segno

# no 0/O, 1/I/L or U: a code read aloud or typed from a printed badge is not mistaken
ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 12
GROUP = 4
# how a code typed in may be written: any case, with spaces or dashes between groups
_SEPARATORS = re.compile(r"[\s\-‐-―]")
_CODE = re.compile(f"[{ALPHABET}]{{{LENGTH}}}")


def new_code() -> str:
    """30^12 codes, about 59 bits: unguessable at the rate a door can be asked."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(typed: str) -> str | None:
    """The code as stored, from a code read or typed in; None if it cannot be one."""
    code = _SEPARATORS.sub("", typed).upper()
    return code if _CODE.fullmatch(code) else None


def display(code: str) -> str:
    """ABCD-EFGH-JKMN: the form printed under the QR code and read aloud."""
    return "-".join(code[start : start + GROUP] for start in range(0, len(code), GROUP))


def _qr(code: str) -> segno.QRCode:
    # a full QR code: phone cameras and scanning libraries do not read segno's default Micro QR
    return segno.make(display(code), error="m", micro=False)


def qr_svg(code: str, title: str) -> str:
    """The QR code as inline SVG markup for a web page, named by ``title`` for screen readers."""
    buffer = io.BytesIO()
    # a viewBox and no fixed size: the page's style sheet sizes it
    _qr(code).save(
        buffer,
        kind="svg",
        border=4,
        omitsize=True,
        xmldecl=False,
        svgns=True,
        title=title,
        svgclass="badge-qr",
    )
    return buffer.getvalue().decode()


def qr_png(code: str) -> bytes:
    """The QR code as a PNG image for an e-mail (mail programs seldom show SVG)."""
    buffer = io.BytesIO()
    _qr(code).save(buffer, kind="png", scale=8, border=4)
    return buffer.getvalue()
