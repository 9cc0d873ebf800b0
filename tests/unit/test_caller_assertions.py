"""Who a caller assertion vouches for, and who may then read what registration answers about a
registration's counterparts (``acts_for_someone``)."""

import time
from unittest import mock

import pytest
from itsdangerous import TimestampSigner

from shared.caller_assertions import (
    MAX_AGE_SECONDS,
    NotVouched,
    acts_for_someone,
    require_vouched,
    vouch,
    vouched_caller,
)
from shared.errors import Forbidden

KEY = "the gateway's key"


@pytest.mark.parametrize(
    "caller",
    [
        {"organiser": True},
        {"organiser": True, "organiser_email": "organiser@expo.example.org"},
        {"registration_id": "inv-1"},
    ],
)
def test_an_organiser_or_someone_acting_for_a_registration_acts_for_someone(caller):
    assert acts_for_someone(caller)


@pytest.mark.parametrize(
    "caller",
    [
        {},
        {"organiser": False},
        {"organiser": "true"},
        {"organiser": 1},
        {"token": "tcx_someone"},
        {"email": "someone@example.kr"},
        {"registration_id": ""},
        {"registration_id": None},
        {"registration_id": ["inv-1"]},
        {"registration_id": {"$ne": None}},
    ],
)
def test_an_anonymous_caller_or_one_known_only_by_a_token_or_an_address_acts_for_nobody(caller):
    assert not acts_for_someone(caller)


def test_an_assertion_vouches_only_signed_with_the_key_and_for_a_minute():
    caller = {"registration_id": "inv-1"}
    assert vouched_caller(vouch(caller, KEY), KEY) == caller
    made = int(time.time()) - MAX_AGE_SECONDS - 1
    with mock.patch.object(TimestampSigner, "get_timestamp", lambda self: made):
        old = vouch(caller, KEY)
    for assertion in (old, vouch(caller, "another key"), caller, None, "", "x" * 3000):
        with pytest.raises(NotVouched):
            vouched_caller(assertion, KEY)
    with pytest.raises(NotVouched):
        vouched_caller(vouch(caller, KEY), "")


def test_require_vouched_takes_an_organiser_or_the_party_itself_and_forbids_the_rest():
    assert require_vouched(vouch({"organiser": True}, KEY), KEY, "inv-1")["organiser"] is True
    assert require_vouched(vouch({"registration_id": "inv-1"}, KEY), KEY, "inv-1")
    for assertion in (
        vouch({"registration_id": "com-1"}, KEY),
        vouch({}, KEY),
        vouch({"organiser": True}, "another key"),
        {"organiser": True},
    ):
        with pytest.raises(Forbidden):
            require_vouched(assertion, KEY, "inv-1")
