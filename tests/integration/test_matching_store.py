"""Matching's store against a real store server: finding counterparts through ``party_tags``."""

import uuid

import pytest
from pymongo import MongoClient, monitoring

from matching.store import MatchingStore


@pytest.fixture
def store(mongo):
    database = mongo[f"matching-{uuid.uuid4().hex[:8]}"]
    matching_store = MatchingStore(database)
    matching_store.prepare()
    yield matching_store
    mongo.drop_database(database.name)


def party(party_id, kind, tags, revision=1, status="active", stages=("seed",)):
    return {
        "id": party_id,
        "kind": kind,
        "revision": revision,
        "status": status,
        "tags": list(tags),
        "stages": list(stages),
    }


def put(store, fields):
    stored = store.put_party(store.party(fields["id"]), fields)
    store.index_tags(stored)
    return stored


def found(store, kind, tags):
    return {profile.id: profile.tags for profile in store.counterparts_sharing(kind, tags)}


def test_counterparts_are_the_active_parties_of_the_other_kind_sharing_a_tag(store):
    put(store, party("i1", "investor", ["elderly", "ai"]))
    put(store, party("i2", "investor", ["dementia"]))
    put(store, party("i3", "investor", ["elderly"], status="inactive"))
    put(store, party("c1", "company", ["elderly"]))
    assert found(store, "company", ["elderly", "ai"]) == {"i1": ("elderly", "ai")}
    assert found(store, "company", ["dementia", "elderly"]) == {"i1": ("elderly", "ai"), "i2": ("dementia",)}
    assert found(store, "investor", ["elderly"]) == {"c1": ("elderly",)}


def test_a_change_of_tags_or_status_moves_the_party_in_the_index(store):
    put(store, party("i1", "investor", ["elderly"]))
    put(store, party("i1", "investor", ["dementia"], revision=2))
    assert found(store, "company", ["elderly"]) == {}
    assert found(store, "company", ["dementia"]) == {"i1": ("dementia",)}
    put(store, party("i1", "investor", ["dementia"], revision=3, status="inactive"))
    assert found(store, "company", ["dementia"]) == {}
    put(store, party("i1", "investor", ["dementia"], revision=4))
    store.forget_party("investor", "i1")
    assert found(store, "company", ["dementia"]) == {}


def test_an_older_change_indexed_last_leaves_the_newest_entries(store):
    older = put(store, party("i1", "investor", ["elderly"]))
    put(store, party("i1", "investor", ["dementia"], revision=2))
    store.index_tags(older)  # the handler of revision 1 finishing after that of revision 2
    assert found(store, "company", ["elderly"]) == {}
    assert found(store, "company", ["dementia"]) == {"i1": ("dementia",)}


def test_parties_stored_before_the_index_existed_are_entered_once(store):
    put(store, party("c1", "company", ["elderly"]))
    store.put_party(None, party("c2", "company", ["elderly"]))
    store.party_tags.delete_many({})  # as left by a version without party_tags
    restarted = MatchingStore(store.parties.collection.database)
    restarted.prepare()
    assert found(restarted, "investor", ["elderly"]) == {"c1": ("elderly",), "c2": ("elderly",)}
    restarted.party_tags.delete_many({"party_id": "c2"})
    restarted.prepare()  # the index is marked as built: parties are not read again
    assert found(restarted, "investor", ["elderly"]) == {"c1": ("elderly",)}


class CommandNames(monitoring.CommandListener):
    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def test_many_counterparts_and_pairs_are_each_read_in_one_round_trip(store_server, store):
    investors = [f"i{number}" for number in range(250)]
    for investor in investors:
        put(store, party(investor, "investor", ["elderly"]))
    store.suggestions.collection.insert_many(
        [
            {"_id": f"{investor}>c1", "investor_id": investor, "company_id": "c1", "score": 1.0}
            for investor in investors
        ]
    )
    commands = CommandNames()
    client = MongoClient(store_server["uri"], event_listeners=[commands])
    try:
        counted = MatchingStore(client[store.party_tags.database.name])
        assert len(counted.counterparts_sharing("company", ["elderly"])) == 250
        assert len(counted.suggestions_of("company", "c1")) == 250
        # more than a server's first batch (101 documents) each, in one command each
        assert commands.names == ["find", "find"]
    finally:
        client.close()
