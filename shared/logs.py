"""Logging, in one of two formats: JSON lines (``json``, the default) or text for a terminal.

Every line of every process passes through one of the two formatters below, so they are the one
point where personal data is stopped. None is passed to a logger on purpose; what could still
carry some is stopped here:

- an exception's message, which a driver fills with data (pymongo's ``DuplicateKeyError`` holds
  the whole document it refused): only the type and the frames of each exception in the chain are
  written, except for the exceptions listed in ``MESSAGES_WITHOUT_DATA``;
- ``extra`` keys that name personal data;
- anything shaped like an e-mail address, anywhere in the line (a relay's refusal quotes the
  recipient, and such text reaches ``extra`` as an error).

Each service's ``config.yaml`` and the gateway's app configure these formatters; Python's own
``logging`` has no hook that every handler's output passes through, so the redaction is in them.
"""

import json
import logging
import logging.config
import re
import traceback
from datetime import UTC, datetime
from types import TracebackType

from pymongo.errors import ConnectionFailure

from shared.errors import ServiceError

REDACTED = "[redacted]"
REDACTED_KEYS = frozenset(
    {
        "accessibility_needs",
        "address",
        "attendee_type",
        "authorization",
        "body",
        "carer_name",
        "contact",
        "contact_name",
        "email",
        "manage_token",
        "name",
        "organisation",
        "password",
        "phone",
        "to",
        "token",
    }
)
# messages written by this platform (service errors), about connections only, or written by the
# interpreter about the code (not ValueError or KeyError, which quote values)
MESSAGES_WITHOUT_DATA: tuple[type[BaseException], ...] = (
    ServiceError,
    OSError,
    ConnectionFailure,
    TypeError,
    AttributeError,
    NameError,
    ImportError,
)
MESSAGE_WITHHELD = "[message withheld: it may hold personal data]"
EMAIL_ADDRESS = re.compile(r"[^\s\"'<>(),;:@\[\]\\]+@[^\s\"'<>(),;:@\[\]\\]+\.[^\s\"'<>(),;:@\[\]\\]+")
# how Python's own tracebacks link the exceptions of a chain
DIRECT_CAUSE = "The above exception was the direct cause of the following exception:"
DURING_HANDLING = "During handling of the above exception, another exception occurred:"
# a one-time sign-in link's path, or a token in a query string (unsubscribe links)
TOKEN_IN_ADDRESS = re.compile(r"(/sign-in/|[?&]token=)[\w.~%-]+")
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def scrubbed(text: str) -> str:
    """``text`` with every e-mail address, and every token in an address, replaced."""
    return TOKEN_IN_ADDRESS.sub(r"\1[token]", EMAIL_ADDRESS.sub("[e-mail]", text))


def exception_text(error: BaseException) -> str:
    """A traceback of ``error`` and the exceptions it was raised from or during, as Python
    writes it, with the messages that may hold data withheld."""
    if error.__cause__ is not None:
        lines = [exception_text(error.__cause__), "", DIRECT_CAUSE, ""]
    elif error.__context__ is not None and not error.__suppress_context__:
        lines = [exception_text(error.__context__), "", DURING_HANDLING, ""]
    else:
        lines = []
    lines.append("Traceback (most recent call last):")
    lines += [frame.rstrip("\n") for frame in traceback.format_tb(error.__traceback__)]
    kind = type(error)
    message = str(error) if isinstance(error, MESSAGES_WITHOUT_DATA) else MESSAGE_WITHHELD
    lines.append(f"{kind.__module__}.{kind.__qualname__}: {message}")
    return "\n".join(lines)


def error_summary(error: BaseException, limit: int = 2000) -> str:
    """One line saying what went wrong, fit to be stored beside a record (a retry's last error,
    a dead letter's reason): the exception's kind, and its message only where it cannot hold
    personal data, with e-mail addresses and tokens scrubbed even then (a relay's refusal quotes
    the address)."""
    message = str(error) if isinstance(error, MESSAGES_WITHOUT_DATA) else MESSAGE_WITHHELD
    return scrubbed(f"{type(error).__name__}: {message}")[:limit]


class _Redacting(logging.Formatter):
    def formatException(
        self, exc_info: tuple[type[BaseException], BaseException, TracebackType | None]
    ) -> str:
        return exception_text(exc_info[1])

    def format(self, record: logging.LogRecord) -> str:
        return scrubbed(super().format(record))


class TextFormatter(_Redacting):
    def __init__(self, service: str = "") -> None:
        super().__init__(f"%(asctime)s {service} %(levelname)s %(name)s %(message)s")


class JsonFormatter(_Redacting):
    def __init__(self, service: str = "") -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key in _STANDARD_ATTRS or key in entry or key.startswith("_"):
                continue
            entry[key] = REDACTED if key in REDACTED_KEYS else value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return scrubbed(json.dumps(entry, ensure_ascii=False, default=str))


def configure(service: str, level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(service) if fmt == "json" else TextFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # pymongo and kombu are chatty at INFO about every connection and heartbeat
    for noisy in ("pymongo", "kombu", "amqp"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
