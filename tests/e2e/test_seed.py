"""``make seed`` on a running platform: the programme, the registrations, a waiting list at the
expo and people checked in at its door; a second run adds nothing."""

from datetime import UTC, datetime

import pytest

from shared import clock
from shared.clock import SEOUL
from tests.conftest import wait_for
from tests.platform import ORGANISER_TOKEN, running_platform

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """A platform of its own: the seed gives the default expo a demo-sized capacity, which would
    put other tests' registrations for it on a waiting list."""
    with running_platform(tmp_path_factory.mktemp("var")) as running:
        yield running


def test_demo_data_loads_with_a_programme_a_waiting_list_and_check_ins(platform, monkeypatch):
    from deploy.local import seed

    monkeypatch.setattr(seed, "GATEWAY", platform.url)
    monkeypatch.setenv("VAR_DIR", str(platform.var))
    monkeypatch.setenv("ORGANISER_TOKEN", ORGANISER_TOKEN)
    assert seed.main() == 0
    tokens = (platform.var / "seed-tokens.json").read_text()
    assert "Memory Garden VR" in tokens and "Hangang Impact Partners" not in tokens  # tokens keyed by name
    events = platform.call("GET", "/api/v1/organiser/events", ORGANISER_TOKEN).json()["items"]
    (expo,) = [event for event in events if event["kind"] == "expo"]
    checked_in = expo["registrations"]["checked_in"]
    assert seed.main() == 0  # a second run skips what is there

    events = platform.call("GET", "/api/v1/organiser/events", ORGANISER_TOKEN).json()["items"]
    by_name = {event["name_en"]: event for event in events}
    (*past, upcoming) = [by_name[event["name_en"]] for event, _ in seed.programme(datetime.now(SEOUL).date())]
    assert [event["status"] for event in past] == ["closed", "closed"] and all(
        event["past"] for event in past
    )
    assert upcoming["status"] == "open" and not upcoming["past"]
    assert upcoming["registrations"]["attendee"] == len(seed.TOWN_HALL_VISITORS)

    (expo,) = [event for event in events if event["kind"] == "expo"]
    assert expo["venue"]["step_free_entrance"] is True and expo["registration_state"] == "open"
    assert clock.parse_iso(expo["starts_at"]) <= datetime.now(UTC) and not expo["past"], "under way"
    assert expo["seats_taken"] <= expo["capacity"] == seed.EXPO["capacity"]
    assert expo["waiting"] > 0, "the last of the crowd wait for a place"
    assert 0 < expo["registrations"]["checked_in"] == checked_in < expo["registrations"]["total"]
    assert expo["registrations"]["checked_in_people"] >= checked_in

    summary = wait_for(
        lambda: (
            (s := platform.call("GET", "/api/v1/organiser/summary", ORGANISER_TOKEN).json())["matching"][
                "suggestions"
            ]
            >= 10
            and s
        ),
        20,
        message="suggestions for the demo data",
    )
    assert summary["registrations"]["company"]["active"] >= len(seed.COMPANIES)
    assert summary["accessibility_needs"]["sign_language_interpreter"] >= 1
