"""Places offered on promotion in the real registration service and store, with a hold of 3 s
(PROMOTION_HOLD_MINUTES): confirmed in time they are the person's; not confirmed, they pass on
to the next in line and the registration is cancelled."""

import pytest

from shared import errors
from tests.conftest import service_env, vouched, wait_for
from tests.integration.service_helpers import start_service
from tests.integration.test_capacity import seats_by_registration
from tests.integration.test_registration_events import attendee, organiser, town_hall
from tests.integration.test_registration_service import SENSITIVE_DATA_KEY


@pytest.fixture(scope="module")
def holding(amqp_uri, store_server, tmp_path_factory):
    env = service_env(
        amqp_uri, store_server["uri"], SENSITIVE_DATA_KEY=SENSITIVE_DATA_KEY, PROMOTION_HOLD_MINUTES="0.05"
    )
    process, client = start_service("registration", env, tmp_path_factory.mktemp("logs"))
    yield client
    client.close()
    process.stop()


def test_places_offered_are_confirmed_in_time_or_pass_on(holding, mongo):
    event = holding.call("registration", "create_event", town_hall(status="open", capacity=2), organiser())[
        "id"
    ]
    first, second, third, fourth, fifth = (
        holding.call("registration", "create", "attendee", attendee(event_id=event)) for _ in range(5)
    )
    assert [r["admission"] for r in (first, second, third, fourth, fifth)] == ["admitted"] * 2 + [
        "waiting"
    ] * 3

    def read(registration: dict) -> dict:
        return holding.call("registration", "get", "attendee", registration["id"], organiser())

    holding.call("registration", "cancel", "attendee", first["id"], organiser())
    offered = read(third)
    assert offered["admission"] == "offered" and offered["offer_expires_at"]
    assert seats_by_registration(mongo, event)[third["id"]] == 1
    mine = vouched({"token": third["manage_token"]})
    assert holding.call("registration", "confirm", "attendee", third["id"], mine)["admission"] == "admitted"
    with pytest.raises(errors.Conflict, match="no offered place"):
        holding.call(
            "registration", "confirm", "attendee", fourth["id"], vouched({"token": fourth["manage_token"]})
        )

    # the next offer is not confirmed: it lapses after 3 s and the one behind gets the place
    holding.call("registration", "cancel", "attendee", second["id"], organiser())
    assert read(fourth)["admission"] == "offered"
    wait_for(lambda: read(fourth)["status"] == "cancelled", 15, interval=0.5, message="the offer to lapse")
    wait_for(lambda: read(fifth)["admission"] == "offered", 5, interval=0.2, message="the next offer")
    with pytest.raises(errors.Conflict):
        holding.call(
            "registration", "confirm", "attendee", fourth["id"], vouched({"token": fourth["manage_token"]})
        )
    assert seats_by_registration(mongo, event) == {third["id"]: 1, fifth["id"]: 1}
