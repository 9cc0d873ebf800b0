"""Every log line, in both formats, goes out without personal data: exception messages that may
hold data are withheld along the whole chain, personal ``extra`` keys are replaced, and e-mail
addresses and tokens in addresses are replaced wherever they appear."""

import io
import json
import logging

import pytest
from pymongo.errors import DuplicateKeyError

from shared.errors import NotFound
from shared.logs import MESSAGE_WITHHELD, JsonFormatter, TextFormatter, error_summary

NAME, EMAIL = "김비밀", "secret.person@example.org"


@pytest.fixture(params=["json", "text"])
def logged(request):
    """A logger writing through one of the formatters, and what it wrote."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test") if request.param == "json" else TextFormatter("test"))
    logger = logging.getLogger(f"test-logs-{request.param}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    yield logger, stream.getvalue


def a_duplicate_key_from_the_store() -> DuplicateKeyError:
    document = {"name": NAME, "email": EMAIL, "attendee_type": "person_with_disability"}
    return DuplicateKeyError(f"E11000 duplicate key error, full document: {document}", 11000, document)


def test_the_document_in_a_chained_duplicate_key_error_is_not_written(logged):
    logger, written = logged
    try:
        try:
            raise a_duplicate_key_from_the_store()
        except DuplicateKeyError as error:
            raise RuntimeError(f"could not save {NAME}") from error
    except RuntimeError:
        logger.exception("registration failed")
    text = written()
    assert NAME not in text and EMAIL not in text and "person_with_disability" not in text
    # what is kept is enough to find the fault: both types, the chain, and the frames
    assert "DuplicateKeyError" in text and "RuntimeError" in text
    assert "direct cause" in text and "test_logs.py" in text


def test_an_exception_raised_while_handling_another_keeps_both_without_their_messages(logged):
    logger, written = logged
    try:
        try:
            raise ValueError(EMAIL)
        except ValueError:
            raise KeyError(NAME)  # noqa: B904 - the implicit chain is what is tested
    except KeyError:
        logger.exception("failed")
    text = written()
    assert NAME not in text and EMAIL not in text
    assert "During handling of the above exception" in text and "ValueError" in text


def test_messages_the_platform_wrote_and_connection_errors_are_kept(logged):
    logger, written = logged
    for error in (NotFound("No registration with that id."), ConnectionRefusedError("Connection refused")):
        try:
            raise error
        except Exception:
            logger.exception("call failed")
    assert "No registration with that id." in written() and "Connection refused" in written()


def test_e_mail_addresses_and_tokens_in_addresses_are_replaced_anywhere_in_the_line(logged):
    logger, written = logged
    logger.warning(
        "relay refused %s; GET /sign-in/AbC-123_xyz and /unsubscribe?token=s3cr3t.v4lue&lang=en",
        EMAIL,
        extra={"error": f"550 5.1.1 <{EMAIL}>: Recipient address rejected"},
    )
    text = written()
    assert EMAIL not in text and "AbC-123_xyz" not in text and "s3cr3t.v4lue" not in text
    assert "/sign-in/[token]" in text and "token=[token]&lang=en" in text


def test_personal_extra_keys_are_replaced_in_json(logged):
    logger, written = logged
    logger.info("registered", extra={"carer_name": NAME, "attendee_type": "senior", "registration_id": "r-1"})
    text = written()
    assert NAME not in text and "senior" not in text
    if text.startswith("{"):
        entry = json.loads(text)
        assert entry["carer_name"] == "[redacted]" and entry["registration_id"] == "r-1"


def test_an_error_stored_beside_a_record_keeps_its_kind_and_only_messages_without_data():
    assert error_summary(a_duplicate_key_from_the_store()) == f"DuplicateKeyError: {MESSAGE_WITHHELD}"
    assert error_summary(ValueError(f"bad name {NAME}")) == f"ValueError: {MESSAGE_WITHHELD}"
    refused = ConnectionRefusedError(f"550 no mailbox <{EMAIL}>")
    assert error_summary(refused) == "ConnectionRefusedError: 550 no mailbox <[e-mail]>"
    assert (
        error_summary(NotFound("No registration with that id.")) == "NotFound: No registration with that id."
    )
