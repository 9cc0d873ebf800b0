"""Sends e-mail over SMTP, telling transient failures (try again later) from permanent ones."""

import re
import smtplib
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email import encoders
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, parseaddr

from shared.contracts.fields import deliverable_address, unsafe_characters
from shared.settings import Settings

SMTP_TIMEOUT_SECONDS = 10
# relays drop idle clients (RFC 5321 asks them to wait at least five minutes; many wait less)
IDLE_REUSE_SECONDS = 30.0
# open connections kept between messages: about as many as a busy service sends at once (its
# handlers wait on the store in between), so a rush costs few new connections
MAX_IDLE_CONNECTIONS = 16
# extra headers a caller may add: a plain field name (RFC 5322 ftext, kept to letters, digits and
# hyphens), never one this module writes itself
HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,76}")
# what an attachment may be called and be: plain names this service makes, never text from input
ATTACHMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
ATTACHMENT_TYPES = frozenset({"image/png", "text/calendar"})
PARAMETER_VALUE = re.compile(r"[A-Za-z0-9-]{1,40}")
OWN_HEADERS = frozenset(
    name.lower()
    for name in (
        "From",
        "To",
        "Subject",
        "Message-ID",
        "Date",
        "Content-Language",
        "Content-Type",
        "Content-Transfer-Encoding",
        "MIME-Version",
        "Cc",
        "Bcc",
        "Sender",
        "Reply-To",
    )
)


@dataclass(frozen=True)
class Attachment:
    """A part of an e-mail besides its text: shown in the message (``inline``, an image) or
    offered to save (a calendar entry). ``parameters`` add to its content type (method=PUBLISH)."""

    filename: str
    content_type: str
    content: bytes
    inline: bool = False
    parameters: tuple[tuple[str, str], ...] = ()


class PermanentFailure(Exception):
    """The relay refused the message for good (a 5xx answer); trying again will not help."""


class TransientFailure(Exception):
    """The relay is down, unreachable or asked us to try later (a 4xx answer)."""


class SmtpMailer:
    """Keeps a few connections to the relay open between messages: a new connection costs a
    TCP handshake, a greeting and EHLO (and TLS and login, where set) for every e-mail."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._idle: deque[tuple[float, smtplib.SMTP]] = deque()

    def send(
        self,
        *,
        to_name: str,
        to_address: str,
        subject: str,
        body: str,
        message_id: str,
        language: str,
        headers: Mapping[str, str] | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> None:
        """Send one message; ``headers`` are extra header fields (List-Unsubscribe, say), each a
        plain name and a one-line printable ASCII value, refused (PermanentFailure) otherwise:
        no value can add a header or split one. ``attachments`` make it a multipart message,
        the text first; their names and types are as plainly checked."""
        try:
            deliverable_address(to_address, self.settings.email_reserved_domains_allowed)
            if unsafe_characters(to_name) or unsafe_characters(subject):
                raise ValueError("a control or direction-override character in the name or the subject")
            message = _message(
                self.settings.mail_from, to_name, to_address, subject, body, message_id, language, attachments
            )
            for name, value in (headers or {}).items():
                _check_header(name, value)
                message[name] = value
        except (ValueError, UnicodeError) as error:
            # UndeliverableAddress is a ValueError: checked again here, as the last step before
            # a relay, whatever the event that asked for this message
            raise PermanentFailure(f"cannot write this message: {error}") from error
        try:
            self._send(message)
        except smtplib.SMTPResponseException as error:
            if 500 <= error.smtp_code < 600:
                raise PermanentFailure(f"{error.smtp_code} {error.smtp_error!r}") from error
            raise TransientFailure(f"{error.smtp_code} {error.smtp_error!r}") from error
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            if all(500 <= code < 600 for code in codes):
                raise PermanentFailure(f"recipient refused: {codes}") from error
            raise TransientFailure(f"recipient refused: {codes}") from error
        except (OSError, smtplib.SMTPException) as error:
            raise TransientFailure(f"{type(error).__name__}: {error}") from error

    def close(self) -> None:
        """Close the connections kept open (at shutdown), without waiting on the relay for a
        goodbye: a relay that does not answer would hold up the shutdown."""
        while self._idle:
            self._idle.popleft()[1].close()

    def _send(self, message: Message) -> None:
        kept = self._reusable()
        if kept is not None:
            try:
                self._send_on(kept, message)
                return
            except (smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException) as error:
                if not _dropped(error):
                    raise
                # the relay closed the connection while it was idle, or is closing it (421):
                # send once more on a new one, as a relay that dropped it mid-message did not
                # accept it
        self._send_on(self._connect(), message)

    def _send_on(self, smtp: smtplib.SMTP, message: Message) -> None:
        """Send on ``smtp``, then keep it open for the next message; close it if sending failed,
        as its state after a failure is unknown."""
        try:
            smtp.send_message(message)
        except BaseException:
            smtp.close()
            raise
        if len(self._idle) < MAX_IDLE_CONNECTIONS:
            self._idle.append((time.monotonic(), smtp))
        else:
            smtp.close()

    def _reusable(self) -> smtplib.SMTP | None:
        while self._idle:
            idle_since, smtp = self._idle.pop()
            if time.monotonic() - idle_since < IDLE_REUSE_SECONDS:
                return smtp
            smtp.close()
        return None

    def _connect(self) -> smtplib.SMTP:
        smtp = smtplib.SMTP(self.settings.smtp_host, self.settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS)
        try:
            if self.settings.smtp_starttls:
                smtp.starttls()
            if self.settings.smtp_username:
                smtp.login(self.settings.smtp_username, self.settings.smtp_password)
        except BaseException:
            smtp.close()
            raise
        return smtp


def _dropped(error: Exception) -> bool:
    """The relay closed the connection, or answered that it is closing it (421)."""
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return True
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code == 421


def _check_header(name: str, value: str) -> None:
    if not HEADER_NAME.fullmatch(name) or name.lower() in OWN_HEADERS:
        raise ValueError(f"not a header this mailer adds: {name!r}")
    # printable ASCII only: no CR or LF (a new header, or the body), no other control character
    if not (isinstance(value, str) and value.isascii() and value.isprintable()) or len(value) > 900:
        raise ValueError(f"the value of {name} is not one printable ASCII line")


def _attachment_part(attachment: Attachment) -> Message:
    if not ATTACHMENT_NAME.fullmatch(attachment.filename) or attachment.content_type not in ATTACHMENT_TYPES:
        raise ValueError("not an attachment this mailer sends")
    if not all(
        HEADER_NAME.fullmatch(name) and PARAMETER_VALUE.fullmatch(value)
        for name, value in attachment.parameters
    ):
        raise ValueError("not a content type parameter this mailer sends")
    maintype, subtype = attachment.content_type.split("/")
    part = MIMEBase(maintype, subtype, **dict(attachment.parameters))
    part.set_payload(attachment.content)
    encoders.encode_base64(part)
    disposition = "inline" if attachment.inline else "attachment"
    part.add_header("Content-Disposition", disposition, filename=attachment.filename)
    return part


def _message(
    sender: str,
    to_name: str,
    to_address: str,
    subject: str,
    body: str,
    message_id: str,
    language: str,
    attachments: Sequence[Attachment] = (),
) -> Message:
    """The e-mail, built with the classic ``email`` API: a fifth of the processor time of
    ``EmailMessage``, whose header objects cost about a millisecond a message."""
    local, _, domain = to_address.rpartition("@")
    text = MIMEText(body, "plain", "utf-8")
    if attachments:
        message = MIMEMultipart("mixed")
        message.attach(text)
        for attachment in attachments:
            message.attach(_attachment_part(attachment))
    else:
        message = text
    # a sender's name in Korean is encoded on its own, leaving the address readable
    message["From"] = formataddr(parseaddr(sender), charset="utf-8")
    # an internationalised domain travels in its ASCII (IDNA) form, which every relay accepts
    ascii_address = f"{local}@{domain.encode('idna').decode('ascii')}"
    message["To"] = formataddr((to_name, ascii_address), charset="utf-8")
    message["Subject"] = Header(subject, "utf-8")
    message["Message-ID"] = message_id
    message["Date"] = formatdate(localtime=False)
    message["Content-Language"] = language
    return message
