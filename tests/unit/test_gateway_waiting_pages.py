"""The pages tell a waiting registrant their place in line: the done page after registering,
and /my with each registration's page, in Korean and English."""

import re

import pytest

from tests.unit.test_gateway_attendee_pages import (
    FakeServices,
    _token,
    client,
    register,
    registered,
    services,
    text_of,
)

__all__ = ["client", "services"]


class WaitingServices(FakeServices):
    """Registration answering that the event is full: the newcomer waits, third in line."""

    def create(self, kind, data, idempotency_key=None):
        answer = super().create(kind, data, idempotency_key)
        place = {"admission": "waiting", "waiting_position": 3}
        self.registrations[answer["id"]].update(place)
        return {**answer, **place}


@pytest.fixture
def waiting(monkeypatch, services):
    fake = WaitingServices()
    monkeypatch.setattr("gateway.upstream.call", fake)
    return fake


def test_the_done_page_gives_the_place_on_the_waiting_list(client, waiting):
    register(client, _token(client))
    korean = text_of(client.get("/register/attendee/done"))
    assert "대기자 명단 3번으로 등록되었습니다" in korean
    english = text_of(client.get("/register/attendee/done?lang=en"))
    assert "you are on the waiting list, number 3." in english and "get places together" in english


def test_my_pages_give_the_place_on_the_waiting_list(client, waiting):
    registration = registered(client, _token(client), waiting)
    assert "On the waiting list, number 3" in text_of(client.get("/my?lang=en"))
    assert "대기자 명단 3번" in text_of(client.get(f"/my/{registration['id']}?lang=ko"))


def test_an_admitted_registration_says_nothing_of_a_waiting_list(client, services):
    register(client, _token(client))
    assert "waiting list" not in text_of(client.get("/register/attendee/done?lang=en"))


class OfferingServices(FakeServices):
    """Registration answering that a place is offered to the newcomer until a deadline."""

    def create(self, kind, data, idempotency_key=None):
        answer = super().create(kind, data, idempotency_key)
        self.registrations[answer["id"]].update(
            admission="offered", offer_expires_at="2026-08-01T09:30:00.000000Z"
        )
        return answer

    def confirm(self, kind, registration_id, caller):
        stored = self.registrations[registration_id]
        stored.pop("offer_expires_at")
        stored["admission"] = "admitted"
        return stored


@pytest.fixture
def offering(monkeypatch, services):
    fake = OfferingServices()
    monkeypatch.setattr("gateway.upstream.call", fake)
    return fake


def test_a_place_offered_is_confirmed_with_one_button(client, offering):
    registration = registered(client, _token(client), offering)
    assert "confirm it by" in text_of(client.get("/my?lang=en"))
    page = text_of(client.get(f"/my/{registration['id']}?lang=en"))
    assert "Confirm my place" in page and f"/my/{registration['id']}/confirm" in page
    assert "18:30" in page, "the deadline is shown in Seoul time"
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    confirmed = client.post(f"/my/{registration['id']}/confirm", data={"csrf_token": csrf})
    assert confirmed.status_code == 303
    assert [method for _, method, _ in offering.calls if method == "confirm"] == ["confirm"]
    after = text_of(client.get(f"/my/{registration['id']}?lang=en"))
    assert "Your place is confirmed" in after and "Confirm my place" not in after
