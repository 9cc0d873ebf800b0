import random

import pytest

from matching.domain import Profile, matches_for, rematch, score, tag_weights
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
    assert all(reason["text"]["ko"] and reason["text"]["en"] for reason in match.reasons)


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


def test_rematch_keeps_each_companys_best():
    rng = random.Random(7)
    investors = [_random_party("investor", n, rng) for n in range(200)]
    companies = [_random_party("company", n, rng) for n in range(50)]
    weights = tag_weights(investors + companies)
    kept = rematch(companies, investors, weights, limit=5)
    assert set(kept) == {c.id for c in companies}
    for company_ in companies:
        assert kept[company_.id] == matches_for(company_, investors, weights, limit=5)
        assert len(kept[company_.id]) <= 5
