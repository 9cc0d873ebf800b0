"""How a company and an investor are scored, ranked and explained. Pure: no I/O.

A pair is suggested when the company's tags and the investor's interests share at least one tag.
Each shared tag weighs its category's weight times its rarity, so that sharing a rare tag (say
``dementia``) says more than sharing a common one (say ``ai``):

    weight(tag)  = CATEGORY_WEIGHTS[category] * (1 + ln((1 + N) / (1 + df(tag))))
    tag_fit      = 2 * sum(weight of shared tags) / (sum(weight of company tags)
                                                     + sum(weight of investor interests))
    stage_fit    = 1 if the company's stage is one the investor invests in, 0.5 if next to one,
                   else 0
    score        = 100 * (TAG_SHARE * tag_fit + STAGE_SHARE * stage_fit), in (0, 100]

where N is the number of active companies and investors and df(tag) how many of them carry it.
"""

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from shared import taxonomy

CATEGORY_WEIGHTS = {"target_group": 1.0, "technology": 0.8, "digital_right": 0.6}
TAG_SHARE = 0.8
STAGE_SHARE = 0.2
CATEGORY_LABELS = {
    "target_group": ("대상", "target group"),
    "technology": ("기술", "technology"),
    "digital_right": ("디지털 기본권", "digital right"),
}


@dataclass(frozen=True)
class Profile:
    id: str
    kind: str  # "company" or "investor"
    tags: tuple[str, ...]
    stages: tuple[str, ...]  # a company has one stage, an investor the stages it invests in


@dataclass(frozen=True)
class Match:
    investor_id: str
    company_id: str
    score: float
    reasons: list[dict]

    @property
    def id(self) -> str:
        return pair_id(self.investor_id, self.company_id)

    def counterpart_of(self, party_id: str) -> str:
        return self.company_id if party_id == self.investor_id else self.investor_id


def pair_id(investor_id: str, company_id: str) -> str:
    return f"{investor_id}:{company_id}"


def tag_weights(profiles: Iterable[Profile]) -> dict[str, float]:
    """The weight of every tag present among the active ``profiles``."""
    document_frequency: Counter = Counter()
    population = 0
    for profile in profiles:
        population += 1
        document_frequency.update(set(profile.tags))
    return {
        tag: CATEGORY_WEIGHTS[taxonomy.category_of(tag)] * (1 + math.log((1 + population) / (1 + count)))
        for tag, count in document_frequency.items()
    }


def score(investor: Profile, company: Profile, weights: Mapping[str, float]) -> Match | None:
    """The pair's match, or None when they share no tag."""
    shared = set(investor.tags) & set(company.tags)
    if not shared:
        return None
    weight = weights.get
    shared_weight = sum(weight(tag, 0.0) for tag in shared)
    total_weight = sum(weight(tag, 0.0) for tag in investor.tags) + sum(
        weight(tag, 0.0) for tag in company.tags
    )
    tag_fit = 2 * shared_weight / total_weight if total_weight else 0.0
    stage = company.stages[0] if company.stages else None
    fit, stage_fit = _stage_fit(stage, investor.stages)
    value = round(100 * (TAG_SHARE * tag_fit + STAGE_SHARE * stage_fit), 1)
    reasons = [_tag_reason(tag, weight(tag, 0.0)) for tag in sorted(shared, key=lambda t: -weight(t, 0.0))]
    if stage:
        reasons.append(_stage_reason(stage, fit))
    return Match(investor.id, company.id, max(value, 0.1), reasons)


def matches_for(party: Profile, counterparts: Iterable[Profile], weights: Mapping[str, float]) -> list[Match]:
    """Every match of ``party`` among ``counterparts``, best first."""
    found = []
    for other in counterparts:
        investor, company = (party, other) if party.kind == "investor" else (other, party)
        match = score(investor, company, weights)
        if match is not None:
            found.append(match)
    return sorted(found, key=lambda match: (-match.score, match.id))


def _stage_fit(stage: str | None, wanted: tuple[str, ...]) -> tuple[str, float]:
    if stage is None or not wanted:
        return "none", 0.0
    if stage in wanted:
        return "exact", 1.0
    position = taxonomy.STAGES.index(stage)
    if any(abs(taxonomy.STAGES.index(other) - position) == 1 for other in wanted):
        return "adjacent", 0.5
    return "none", 0.0


def _tag_reason(tag: str, weight: float) -> dict:
    category = taxonomy.category_of(tag)
    category_ko, category_en = CATEGORY_LABELS[category]
    return {
        "kind": "shared_tag",
        "tag": tag,
        "category": category,
        "weight": round(weight, 3),
        "text": {
            "ko": f"공통 {category_ko}: {taxonomy.label(tag, 'ko')}",
            "en": f"Shared {category_en}: {taxonomy.label(tag, 'en')}",
        },
    }


def _stage_reason(stage: str, fit: str) -> dict:
    ko, en = taxonomy.label(stage, "ko"), taxonomy.label(stage, "en")
    texts = {
        "exact": (f"투자 단계 일치: {ko}", f"Stage fit: {en} is a stage the investor invests in"),
        "adjacent": (f"인접 투자 단계: {ko}", f"Near stage fit: {en} is next to the investor's stages"),
        "none": (f"투자 단계 불일치: {ko}", f"No stage fit: the investor does not invest at {en}"),
    }
    text_ko, text_en = texts[fit]
    return {"kind": "stage", "stage": stage, "fit": fit, "text": {"ko": text_ko, "en": text_en}}
