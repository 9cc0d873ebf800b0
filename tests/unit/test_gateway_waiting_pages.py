"""The pages tell a waiting registrant their place in line: the done page after registering,
and /my with each registration's page, in Korean and English."""

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
