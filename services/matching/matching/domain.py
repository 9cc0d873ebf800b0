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

import functools
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

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
    """The weight of every tag, given the active ``profiles``."""
    document_frequency: Counter = Counter()
    population = 0
    for profile in profiles:
        population += 1
        document_frequency.update(set(profile.tags))
    return weights_from_counts(document_frequency, population)


def weights_from_counts(document_frequency: Mapping[str, int], population: int) -> dict[str, float]:
    """The weight of every tag, given how many of ``population`` active parties carry each."""
    return {
        tag: CATEGORY_WEIGHTS[taxonomy.category_of(tag)]
        * (1 + math.log((1 + population) / (1 + document_frequency.get(tag, 0))))
        for tag in taxonomy.MATCHING_TAGS
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


def matches_for(
    party: Profile, counterparts: Sequence[Profile], weights: Mapping[str, float], limit: int | None = None
) -> list[Match]:
    """The matches of ``party`` among ``counterparts``, best first; the ``limit`` best if given."""
    return Ranking(counterparts, weights).best(party, limit)


def rematch(
    companies: Sequence[Profile], investors: Sequence[Profile], weights: Mapping[str, float], limit: int
) -> dict[str, list[Match]]:
    """Every company's ``limit`` best investors: the scoring of a full rematch."""
    ranking = Ranking(investors, weights)
    return {company.id: ranking.best(company, limit) for company in companies}


class Ranking:
    """Counterparts of one party kind, held as bit masks so that a party is compared with all of
    them at once. The masks find the counterparts sharing a tag; with a ``limit``, the arrays also
    give each pair's score before rounding, to set aside those that cannot be among the best.
    The matches returned are made by ``score`` itself, so their values, order and reasons are
    exactly those of scoring each pair alone."""

    def __init__(self, counterparts: Sequence[Profile], weights: Mapping[str, float]) -> None:
        self.counterparts = list(counterparts)
        self.weights = weights
        self._tags = np.array([_tag_mask(p.tags) for p in self.counterparts], dtype=np.uint64)

    def best(self, party: Profile, limit: int | None = None) -> list[Match]:
        tags = np.uint64(_tag_mask(party.tags))
        shared = self._tags & tags
        candidates = np.flatnonzero(shared)
        if limit is not None and len(candidates) > limit:
            candidates = self._could_be_best(party, tags, shared, candidates, limit)
        found = []
        for index in candidates.tolist():
            other = self.counterparts[index]
            investor, company = (party, other) if party.kind == "investor" else (other, party)
            found.append(score(investor, company, self.weights))
        found.sort(key=lambda match: (-match.score, match.id))
        return found if limit is None else found[:limit]

    def _could_be_best(
        self, party: Profile, tags: np.uint64, shared: np.ndarray, candidates: np.ndarray, limit: int
    ) -> np.ndarray:
        """The candidates whose score could be among the ``limit`` best once rounded."""
        total = self._tag_weight[candidates] + self._weight_of(np.array([tags], dtype=np.uint64))[0]
        tag_fit = np.divide(
            2 * self._weight_of(shared[candidates]), total, out=np.zeros(len(total)), where=total > 0
        )
        unrounded = 100 * (TAG_SHARE * tag_fit + STAGE_SHARE * self._stage_fit(party)[candidates])
        threshold = np.partition(unrounded, -limit)[-limit]
        # rounding to one decimal moves a score by at most 0.05: keep all that could tie
        return candidates[unrounded >= threshold - 0.1]

    @functools.cached_property
    def _tag_sums(self) -> list[np.ndarray]:
        return _byte_tables([self.weights.get(tag, 0.0) for tag in _TAG_BITS])

    @functools.cached_property
    def _tag_weight(self) -> np.ndarray:
        return self._weight_of(self._tags)

    @functools.cached_property
    def _stages(self) -> np.ndarray:
        return np.array([_stage_mask(p.stages) for p in self.counterparts], dtype=np.uint64)

    def _weight_of(self, masks: np.ndarray) -> np.ndarray:
        total = np.zeros(len(masks))
        for position, table in enumerate(self._tag_sums):
            total += table[(masks >> np.uint64(8 * position)) & np.uint64(0xFF)]
        return total

    def _stage_fit(self, party: Profile) -> np.ndarray:
        """1 for a stage the investor invests in, 0.5 for one next to those, else 0."""
        stages = np.uint64(_stage_mask(party.stages))
        if party.kind == "investor":
            wanted, company = np.full(len(self._stages), stages), self._stages
        else:
            wanted, company = self._stages, np.full(len(self._stages), stages)
        one = np.uint64(1)
        near = ((company << one) | (company >> one)) & wanted
        return np.where((company & wanted) != 0, 1.0, np.where(near != 0, 0.5, 0.0))


_TAG_BITS = {tag: bit for bit, tag in enumerate(taxonomy.MATCHING_TAGS)}
_STAGE_BITS = {stage: bit for bit, stage in enumerate(taxonomy.STAGES)}


# parties share a few tag and stage combinations: each combination's mask is worked out once
@functools.lru_cache(maxsize=65536)
def _tag_mask(tags: tuple[str, ...]) -> int:
    return sum(1 << _TAG_BITS[tag] for tag in set(tags) if tag in _TAG_BITS)


@functools.lru_cache(maxsize=1024)
def _stage_mask(stages: tuple[str, ...]) -> int:
    return sum(1 << _STAGE_BITS[stage] for stage in set(stages) if stage in _STAGE_BITS)


def _byte_tables(bit_weights: list[float]) -> list[np.ndarray]:
    """For each byte of a mask, the summed weight of every value that byte can take."""
    tables = []
    for start in range(0, len(bit_weights), 8):
        chunk = bit_weights[start : start + 8]
        tables.append(
            np.array([sum(w for bit, w in enumerate(chunk) if value >> bit & 1) for value in range(256)])
        )
    return tables


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
