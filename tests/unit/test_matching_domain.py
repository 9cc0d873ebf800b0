import random

import pytest

from matching.domain import GrownLists, Profile, explained, matches_for, rematch, score, select, tag_weights
from shared import taxonomy


def investor(tags, stages=("seed",), id_="i1"):
    return Profile(id_, "investor", tuple(tags), tuple(stages))


def company(tags, stage="seed", id_="c1"):
    return Profile(id_, "company", tuple(tags), (stage,))


def test_no_shared_tag_no_match():
    parties = [investor(["elderly"]), company(["dementia"])]
    assert score(parties[0], parties[1], tag_weights(parties)) is None


def test_score_is_in_range_and_explained():
    parties = [
        investor(["hearing_impairment", "ai"]),
        company(["hearing_impairment", "speech_to_text", "ai"]),
    ]
    match = score(parties[0], parties[1], tag_weights(parties))
    assert 0 < match.score <= 100
    kinds = [reason["kind"] for reason in match.reasons]
    assert kinds.count("shared_tag") == 2 and kinds[-1] == "stage"
    assert match.reasons[-1]["fit"] == "exact"
    assert all("text" not in reason for reason in match.reasons)
    texts = [explained(reason)["text"] for reason in match.reasons]
    assert all(text["ko"] and text["en"] for text in texts)
    assert texts[-1]["en"].startswith("Stage fit:")


def test_identical_tags_and_stage_fit_score_100():
    parties = [investor(["elderly"]), company(["elderly"])]
    assert score(parties[0], parties[1], tag_weights(parties)).score == 100.0


def test_a_rare_shared_tag_counts_more_than_a_common_one():
    crowd = [company(["ai"], id_=f"x{n}") for n in range(20)]
    inv = investor(["ai", "dementia"])
    shares_rare = company(["dementia", "robotics"], id_="rare")
    shares_common = company(["ai", "robotics"], id_="common")
    weights = tag_weights([inv, shares_rare, shares_common, *crowd])
    assert weights["dementia"] > weights["ai"]
    assert score(inv, shares_rare, weights).score > score(inv, shares_common, weights).score


def test_target_group_weighs_more_than_digital_right_at_equal_rarity():
    parties = [investor(["elderly", "mobility"]), company(["elderly", "mobility"])]
    weights = tag_weights(parties)
    assert weights["elderly"] > weights["mobility"]


@pytest.mark.parametrize(("stage", "fit"), [("seed", "exact"), ("pre_a", "adjacent"), ("growth", "none")])
def test_stage_fit(stage, fit):
    parties = [investor(["elderly"], stages=("seed",)), company(["elderly"], stage=stage)]
    match = score(parties[0], parties[1], tag_weights(parties))
    assert match.reasons[-1]["fit"] == fit


def test_stage_fit_raises_the_score():
    inv = investor(["elderly"], stages=("seed",))
    fitting, far = company(["elderly"], "seed", "a"), company(["elderly"], "growth", "b")
    weights = tag_weights([inv, fitting, far])
    assert score(inv, fitting, weights).score > score(inv, far, weights).score


def test_matches_are_ranked_best_first_from_either_side():
    inv = investor(["elderly", "ai"])
    companies = [
        company(["ai"], id_="one"),
        company(["elderly", "ai"], id_="both"),
        company(["vr_ar"], id_="none"),
    ]
    weights = tag_weights([inv, *companies])
    ranked = matches_for(inv, companies, weights)
    assert [m.company_id for m in ranked] == ["both", "one"]
    from_company = matches_for(companies[1], [inv], weights)
    assert from_company[0].investor_id == "i1" and from_company[0].score == ranked[0].score


def _random_party(kind, number, rng):
    tags = tuple(rng.sample(taxonomy.MATCHING_TAGS, rng.randint(1, 6)))
    stages = tuple(rng.sample(taxonomy.STAGES, 1 if kind == "company" else rng.randint(0, 3)))
    return Profile(f"{kind}-{number}", kind, tags, stages)


@pytest.mark.parametrize("seed", range(5))
def test_ranking_all_at_once_equals_scoring_each_pair(seed):
    rng = random.Random(seed)
    investors = [_random_party("investor", n, rng) for n in range(300)]
    companies = [_random_party("company", n, rng) for n in range(300)]
    weights = tag_weights(investors + companies)
    for party, counterparts in ((companies[0], investors), (investors[0], companies)):
        one_by_one = [
            match
            for other in counterparts
            if (match := score(*((party, other) if party.kind == "investor" else (other, party)), weights))
        ]
        one_by_one.sort(key=lambda match: (-match.score, match.id))
        assert matches_for(party, counterparts, weights) == one_by_one
        for limit in (0, 1, 10, 50):
            assert matches_for(party, counterparts, weights, limit=limit) == one_by_one[:limit]


def _one_by_one(party, counterparts, weights):
    found = [
        match
        for other in counterparts
        if (match := score(*((party, other) if party.kind == "investor" else (other, party)), weights))
    ]
    return sorted(found, key=lambda match: (-match.score, match.id))


def test_rematch_keeps_the_best_of_either_side_and_every_floor():
    rng = random.Random(7)
    investors = [_random_party("investor", n, rng) for n in range(200)]
    companies = [_random_party("company", n, rng) for n in range(50)]
    weights = tag_weights(investors + companies)
    rematched = rematch(companies, investors, weights, top_n=5)
    expected: dict[str, set[str]] = {c.id: set() for c in companies}
    for party, counterparts in [(c, investors) for c in companies] + [(i, companies) for i in investors]:
        best = _one_by_one(party, counterparts, weights)[:5]
        for match in best:
            expected[match.company_id].add(match.id)
        assert rematched.floors[party.id] == (best[4].score if len(best) == 5 else None)
    assert {cid: {m.id for m in ms} for cid, ms in rematched.pairs.items()} == expected
    # some pairs are kept only for the investor's sake: the company holds more than its 5 best
    assert any(len(kept) > 5 for kept in rematched.pairs.values())


@pytest.mark.parametrize("seed", range(5))
def test_select_keeps_own_best_pairs_above_the_counterparts_floor_and_stored_ties(seed):
    rng = random.Random(seed)
    company_ = _random_party("company", 0, rng)
    investors = [_random_party("investor", n, rng) for n in range(300)]
    weights = tag_weights([*investors, company_])
    # floors at, above and below this company's own pairs, many tied with one of them
    every = _one_by_one(company_, investors, weights)
    scores = [match.score for match in every]
    investors = [
        Profile(p.id, p.kind, p.tags, p.stages, floor=rng.choice([None, rng.choice(scores), 101.0]))
        for p in investors
    ]
    floors = {i.id: i.floor for i in investors}
    stored = {match.id for match in every if rng.random() < 0.5}

    def within(match):
        floor = floors[match.investor_id]
        return floor is None or match.score > floor or (match.score == floor and match.id in stored)

    selection = select(company_, investors, weights, top_n=10, stored=stored)
    own = {match.id for match in every[:10]}
    expected = [m for m in every if m.id in own or within(m)]
    assert [item.match for item in selection.kept] == expected
    assert len(expected) < len(every)  # some pairs are below both cut-offs
    for item in selection.kept:
        assert item.for_party == (item.match.id in own)
        assert item.for_counterpart == within(item.match)
    assert selection.floor == every[9].score


def test_a_newcomer_tied_with_a_full_list_does_not_enter_it():
    """Of equal scores the earlier suggestion keeps its place: a newcomer scoring just an
    investor's floor is not stored for it, one scoring above is."""
    investors = [investor(["elderly", "ai"], id_=f"i{n}") for n in range(3)]
    tied = company(["elderly", "ai"], stage="growth", id_="c-tied")
    better = company(["elderly", "ai"], stage="seed", id_="c-better")  # the investors invest at seed
    weights = tag_weights([*investors, tied, better])
    floor = score(investors[0], tied, weights).score
    full = [Profile(i.id, i.kind, i.tags, i.stages, floor=floor) for i in investors]
    (own, *others) = select(tied, full, weights, top_n=1).kept
    assert own.for_party and not own.for_counterpart and others == []
    # the same pair, already stored, stays within the investor's floor
    assert select(tied, full, weights, top_n=1, stored={own.match.id}).kept[0].for_counterpart
    assert score(investors[0], better, weights).score > floor
    kept = select(better, full, weights, top_n=1).kept
    assert len(kept) == 3 and all(item.for_counterpart for item in kept)


def test_a_list_is_due_to_have_its_floor_worked_out_once_it_may_be_full():
    grown = GrownLists(top_n=3)
    grown.note("investor", ["i1", "i2"])
    grown.note("investor", ["i1", "i2"])
    # never worked out in this process: due once grown by N
    assert grown.take_due(limit=10) == []
    grown.note("investor", ["i1", "i2"])
    assert sorted(grown.take_due(limit=10)) == [("investor", "i1"), ("investor", "i2")]
    assert grown.take_due(limit=10) == []
    grown.worked_out("i1", listed=1)  # lacks 2 of 3
    grown.worked_out("i2", listed=3)  # full: any growth may raise its floor
    grown.note("investor", ["i1", "i2"])
    assert grown.take_due(limit=10) == [("investor", "i2")]
    grown.note("investor", ["i1"])
    assert grown.take_due(limit=10) == [("investor", "i1")]
    grown.forget("i1")
    grown.note("investor", ["i1"])
    assert grown.take_due(limit=10) == []


def test_at_most_so_many_floors_are_worked_out_at_once_those_grown_most_first():
    grown = GrownLists(top_n=1)
    for party, times in [("i1", 1), ("i2", 3), ("i3", 2)]:
        for _ in range(times):
            grown.note("investor", [party])
    assert grown.take_due(limit=2) == [("investor", "i2"), ("investor", "i3")]
    assert grown.take_due(limit=2) == [("investor", "i1")]


def test_select_with_fewer_counterparts_than_n_keeps_all_and_has_no_floor():
    parties = [investor(["elderly"], id_="i1"), investor(["elderly", "ai"], id_="i2")]
    party = company(["elderly", "ai"])
    selection = select(party, parties, tag_weights([*parties, party]), top_n=100)
    assert [item.match.investor_id for item in selection.kept] == ["i2", "i1"]
    assert all(item.for_party and item.for_counterpart for item in selection.kept)
    assert selection.floor is None
    assert sorted(selection.kept[0].match.shared_tags) == ["ai", "elderly"]
