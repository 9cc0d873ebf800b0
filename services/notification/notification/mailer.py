"""Sends e-mail over SMTP, telling transient failures (try again later) from permanent ones."""

import smtplib
from email.message import EmailMessage
from email.utils import formataddr, formatdate

from shared.settings import Settings


class PermanentFailure(Exception):
    """The relay refused the message for good (a 5xx answer); trying again will not help."""


class TransientFailure(Exception):
    """The relay is down, unreachable or asked us to try later (a 4xx answer)."""


class SmtpMailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(
        self, *, to_name: str, to_address: str, subject: str, body: str, message_id: str, language: str
    ) -> None:
        try:
            message = _message(
                self.settings.mail_from, to_name, to_address, subject, body, message_id, language
            )
        except (ValueError, UnicodeError) as error:
            raise PermanentFailure(f"cannot write this message: {error}") from error
        try:
            with smtplib.SMTP(self.settings.smtp_host, self.settings.smtp_port, timeout=10) as smtp:
                if self.settings.smtp_starttls:
                    smtp.starttls()
                if self.settings.smtp_username:
                    smtp.login(self.settings.smtp_username, self.settings.smtp_password)
                smtp.send_message(message)
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


def _message(
    sender: str, to_name: str, to_address: str, subject: str, body: str, message_id: str, language: str
) -> EmailMessage:
    local, _, domain = to_address.rpartition("@")
    message = EmailMessage()
    message["From"] = sender
    # an internationalised domain travels in its ASCII (IDNA) form, which every relay accepts
    message["To"] = formataddr((to_name, f"{local}@{domain.encode('idna').decode('ascii')}"))
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message["Date"] = formatdate(localtime=False)
    message["Content-Language"] = language
    message.set_content(body)
    return message
