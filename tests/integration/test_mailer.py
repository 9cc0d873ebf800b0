"""The SMTP mailer against a real SMTP server on loopback: connections are kept open between
messages, and a connection the relay dropped meanwhile costs no message."""

import dataclasses

import pytest
from aiosmtpd.controller import Controller

from deploy.local.mailsink import MaildirHandler
from notification import mailer as mailer_module
from notification.mailer import SmtpMailer
from shared.settings import Settings
from tests.conftest import free_port, received_mail


class CountingHandler(MaildirHandler):
    """Keeps messages like the local mail sink, and counts the sessions that greeted it; told
    to, it answers 421 (closing) to the next message on a session that already sent one."""

    greetings = 0
    closing = False

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802 - aiosmtpd's hook name
        CountingHandler.greetings += 1
        session.host_name = hostname
        session.messages = 0
        return responses

    async def handle_MAIL(self, server, session, envelope, address, options):  # noqa: N802 - aiosmtpd's hook name
        if CountingHandler.closing and session.messages > 0:
            return "421 4.4.2 Idle too long, closing connection"
        session.messages += 1
        envelope.mail_from = address
        return "250 OK"


@pytest.fixture
def relay(tmp_path):
    CountingHandler.greetings, CountingHandler.closing = 0, False
    port = free_port()
    handler = CountingHandler(tmp_path / "mail")

    def start() -> Controller:
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        return controller

    running = {"controller": start()}

    def restart() -> None:
        running["controller"].stop()
        running["controller"] = start()

    yield {"port": port, "dir": tmp_path / "mail", "restart": restart}
    running["controller"].stop()


@pytest.fixture
def mailer(relay):
    settings = dataclasses.replace(Settings.from_env(), smtp_host="127.0.0.1", smtp_port=relay["port"])
    sender = SmtpMailer(settings)
    yield sender
    sender.close()


def send(mailer: SmtpMailer, number: int) -> None:
    mailer.send(
        to_name="Sujin Lee",
        to_address=f"sujin{number}@example.kr",
        subject=f"message {number}",
        body="hello",
        message_id=f"<m{number}@expo.test>",
        language="en",
    )


def test_messages_in_a_row_share_one_connection(mailer, relay):
    for number in range(3):
        send(mailer, number)

    assert len(received_mail(relay["dir"])) == 3
    assert CountingHandler.greetings == 1


def test_a_connection_the_relay_dropped_is_replaced_without_losing_the_message(mailer, relay):
    send(mailer, 1)
    relay["restart"]()  # the kept connection is now closed at the other end

    send(mailer, 2)

    delivered = sorted(message["Message-ID"] for message in received_mail(relay["dir"]))
    assert delivered == ["<m1@expo.test>", "<m2@expo.test>"]
    assert CountingHandler.greetings == 2


def test_a_relay_closing_a_kept_connection_with_421_costs_no_message(mailer, relay):
    send(mailer, 1)
    CountingHandler.closing = True

    send(mailer, 2)

    assert len(received_mail(relay["dir"])) == 2
    assert CountingHandler.greetings == 2


def test_a_connection_idle_too_long_is_not_reused(mailer, relay, monkeypatch):
    monkeypatch.setattr(mailer_module, "IDLE_REUSE_SECONDS", 0.0)
    send(mailer, 1)
    send(mailer, 2)

    assert len(received_mail(relay["dir"])) == 2
    assert CountingHandler.greetings == 2


def test_korean_names_travel_encoded_and_addresses_stay_readable(relay):
    settings = dataclasses.replace(
        Settings.from_env(),
        smtp_host="127.0.0.1",
        smtp_port=relay["port"],
        mail_from="기술동행 박람회 <no-reply@expo.example.org>",
    )
    sender = SmtpMailer(settings)
    try:
        sender.send(
            to_name="이수진",
            to_address="sujin@예시.kr",
            subject="[2026 기술동행 박람회] 등록이 완료되었습니다",
            body="안녕하세요",
            message_id="<k1@expo.test>",
            language="ko",
        )
    finally:
        sender.close()
    (message,) = received_mail(relay["dir"])
    (sender_address,) = message["From"].addresses
    assert sender_address.display_name == "기술동행 박람회"
    assert sender_address.addr_spec == "no-reply@expo.example.org"
    (recipient,) = message["To"].addresses
    assert (recipient.display_name, recipient.addr_spec) == ("이수진", "sujin@xn--vv4b11d.kr")
    assert message["Subject"] == "[2026 기술동행 박람회] 등록이 완료되었습니다"
    assert message["Content-Language"] == "ko" and message.get_content().strip() == "안녕하세요"
