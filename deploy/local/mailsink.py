"""A local SMTP server that keeps every message it receives as an ``.eml`` file.

``python -m deploy.local.mailsink --port 1025 --dir var/mail``. Messages are written atomically
(temporary name, then rename), one file each, named after their Message-ID, so a reader never
sees half a message and the same message delivered twice is two files.

While a file named ``.refuse`` exists in the directory, every message is refused with a
temporary failure (451), as a mail relay that is down would answer; the fault tests use it.
"""

import argparse
import os
import re
import signal
import threading
import time
import uuid
from email.parser import BytesHeaderParser
from pathlib import Path

from aiosmtpd.controller import Controller


class MaildirHandler:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802 - aiosmtpd's hook name
        if (self.directory / ".refuse").exists():
            return "451 4.3.0 Mail relay temporarily unavailable"
        content = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        message_id = BytesHeaderParser().parsebytes(content).get("Message-ID", "") or uuid.uuid4().hex
        stem = re.sub(r"[^A-Za-z0-9@._-]", "", message_id)[:120]
        name = f"{time.time_ns()}-{stem}-{uuid.uuid4().hex[:6]}.eml"
        temporary = self.directory / f".{name}.tmp"
        temporary.write_bytes(content)
        os.replace(temporary, self.directory / name)
        return "250 Message accepted for delivery"


def start(host: str, port: int, directory: Path) -> Controller:
    controller = Controller(MaildirHandler(directory), hostname=host, port=port)
    controller.start()
    return controller


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", type=Path, default=Path("var/mail"))
    arguments = parser.parse_args()
    controller = start(arguments.host, arguments.port, arguments.dir)
    stopped = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stopped.set())
    print(f"mail sink on {arguments.host}:{arguments.port}, keeping messages in {arguments.dir}", flush=True)
    stopped.wait()
    controller.stop()


if __name__ == "__main__":
    main()
