"""A party's suggestions kept a few seconds per gateway process, never older than the person's
own last change."""

import time

import pytest
from flask import Flask

from gateway.web.recent_suggestions import RecentSuggestions, mark_changed


@pytest.fixture
def request_context():
    app = Flask(__name__)
    app.secret_key = "test"
    with app.test_request_context():
        yield


class Reader:
    def __init__(self) -> None:
        self.readings = 0

    def __call__(self) -> int:
        self.readings += 1
        return self.readings


def test_a_list_read_once_answers_the_views_that_follow(request_context):
    recent, read = RecentSuggestions(seconds=60, parties=10), Reader()
    assert [recent.get("party-1", read) for _ in range(3)] == [1, 1, 1]
    assert recent.get("party-2", read) == 2, "each party has its own list"


def test_a_list_is_read_again_after_its_seconds(request_context):
    recent, read = RecentSuggestions(seconds=0.05, parties=10), Reader()
    assert recent.get("party-1", read) == 1
    time.sleep(0.1)
    assert recent.get("party-1", read) == 2


def test_the_persons_own_change_makes_their_next_view_read_again(request_context):
    recent, read = RecentSuggestions(seconds=60, parties=10), Reader()
    assert recent.get("party-1", read) == 1
    mark_changed()
    assert recent.get("party-1", read) == 2
    assert recent.get("party-1", read) == 2, "a reading after the change is kept again"


def test_only_so_many_parties_are_kept(request_context):
    recent, read = RecentSuggestions(seconds=60, parties=2), Reader()
    for party in ("a", "b", "c"):
        recent.get(party, read)
    assert recent.get("a", read) == 4, "the oldest list made room"
