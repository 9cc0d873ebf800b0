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
from collections.abc import Collection, Iterable, Mapping, Sequence
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
    # the score of this party's N-th best suggestion, when last worked out: a new pair enters
    # its suggestions from the other side by scoring above it. None while it has fewer than N
    floor: float | None = None


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

    @property
    def shared_tags(self) -> list[str]:
        return [reason["tag"] for reason in self.reasons if reason["kind"] == "shared_tag"]


@dataclass(frozen=True)
class Kept:
    """A pair to store, and for which side it is among the suggestions worth telling."""

    match: Match
    for_party: bool  # among the party's own best N
    for_counterpart: bool  # within the counterpart's floor


@dataclass(frozen=True)
class Selection:
    kept: list[Kept]  # best first
    floor: float | None  # the party's own floor after this change


@dataclass(frozen=True)
class Rematched:
    pairs: dict[str, list[Match]]  # company id -> every kept pair of that company, best first
    floors: dict[str, float | None]  # party id -> its floor


class GrownLists:
    """The parties whose suggestion lists grew from the other side since their floor was last
    worked out, and which of them are due to have it worked out again.

    A party is due once its list has grown by as many pairs as it lacked of N when last worked
    out (by N, if never worked out in this process): until then its floor would still be None.
    Held in each process's memory: a floor only spares storing pairs that cannot be among the
    best, so one not raised after a restart costs storage until the party's next change or the
    rematch, never a suggestion."""

    def __init__(self, top_n: int) -> None:
        self.top_n = top_n
        self._grown: dict[tuple[str, str], int] = {}  # (kind, party id) -> pairs added since
        self._lacking: dict[str, int] = {}  # party id -> pairs it lacked of N when worked out

    def note(self, kind: str, party_ids: Iterable[str]) -> None:
        for party_id in party_ids:
            key = (kind, party_id)
            self._grown[key] = self._grown.get(key, 0) + 1

    def take_due(self, limit: int) -> list[tuple[str, str]]:
        """The (kind, party id) of at most ``limit`` parties due, those grown most first; they
        are no longer counted as grown."""
        due = [key for key, grown in self._grown.items() if grown >= self._lacking.get(key[1], self.top_n)]
        due = sorted(due, key=self._grown.__getitem__, reverse=True)[:limit]
        for key in due:
            del self._grown[key]
        return due

    def worked_out(self, party_id: str, listed: int) -> None:
        """The party's floor was worked out from its ``listed`` best pairs (at most N)."""
        self._lacking[party_id] = max(1, self.top_n - listed)

    def forget(self, party_id: str) -> None:
        self._lacking.pop(party_id, None)


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


def select(
    party: Profile,
    counterparts: Sequence[Profile],
    weights: Mapping[str, float],
    top_n: int,
    stored: Collection[str] = (),
) -> Selection:
    """The pairs of ``party`` worth storing: its own ``top_n`` best, and every other pair within
    the counterpart's floor (``stored``: the ids of the party's pairs stored now). A pair below
    both sides' cut-off is not kept."""
    return Ranking(counterparts, weights).select(party, top_n, stored)


def rematch(
    companies: Sequence[Profile], investors: Sequence[Profile], weights: Mapping[str, float], top_n: int
) -> Rematched:
    """Every pair among the ``top_n`` best of either side, and every party's floor: the scoring
    of a full rematch."""
    by_company = Ranking(investors, weights)
    by_investor = Ranking(companies, weights)
    pairs: dict[str, dict[str, Match]] = {company.id: {} for company in companies}
    floors: dict[str, float | None] = {}
    for party, ranking in [(c, by_company) for c in companies] + [(i, by_investor) for i in investors]:
        best = ranking.best(party, top_n)
        floors[party.id] = floor_of([match.score for match in best], top_n)
        for match in best:
            pairs[match.company_id][match.id] = match
    return Rematched({company_id: _best_first(kept.values()) for company_id, kept in pairs.items()}, floors)


def floor_of(best: Sequence[float], top_n: int) -> float | None:
    """The floor of a party whose ``top_n`` best scores (best first) are ``best``."""
    return best[top_n - 1] if len(best) >= top_n else None


def within_floor(match: Match, party: Profile, stored: Collection[str]) -> bool:
    """Whether ``match`` belongs among the best N of ``party`` as of its floor.

    A pair scoring above the floor does. One scoring just the floor keeps its place if it is
    ``stored`` already, but a newcomer does not displace it: of equal scores the earlier
    suggestion stays. Otherwise, with many parties tied on the same popular tags, every newcomer
    whose pair id happened to sort first would enter, to be pushed out again by the next."""
    if party.floor is None or match.score > party.floor:
        return True
    return match.score == party.floor and match.id in stored


def _best_first(matches: Iterable[Match]) -> list[Match]:
    return sorted(matches, key=lambda match: (-match.score, match.id))


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
            unrounded = self._unrounded(party, tags, shared, candidates)
            candidates = candidates[_could_be_among(unrounded, limit)]
        found = _best_first(self._scored(party, candidates))
        return found if limit is None else found[:limit]

    def select(self, party: Profile, top_n: int, stored: Collection[str]) -> Selection:
        tags = np.uint64(_tag_mask(party.tags))
        shared = self._tags & tags
        candidates = np.flatnonzero(shared)
        if len(candidates) == 0:
            return Selection([], None)
        unrounded = self._unrounded(party, tags, shared, candidates)
        own = _could_be_among(unrounded, top_n)
        # rounding moves a score by at most 0.05: keep all that could reach the floor once rounded
        beats_floor = unrounded > self._floors[candidates] - 0.1
        found = _best_first(self._scored(party, candidates[own | beats_floor]))
        # the party's own best are all among those scored: its best are theirs
        best = found[:top_n]
        own_ids = {match.id for match in best}
        kept = []
        for match in found:
            other = self.counterparts[self._position[match.counterpart_of(party.id)]]
            for_party, for_counterpart = match.id in own_ids, within_floor(match, other, stored)
            if for_party or for_counterpart:
                kept.append(Kept(match, for_party, for_counterpart))
        return Selection(kept, floor_of([match.score for match in best], top_n))

    def _scored(self, party: Profile, indexes: np.ndarray) -> list[Match]:
        found = []
        for index in indexes.tolist():
            other = self.counterparts[index]
            investor, company = (party, other) if party.kind == "investor" else (other, party)
            found.append(score(investor, company, self.weights))
        return found

    def _unrounded(
        self, party: Profile, tags: np.uint64, shared: np.ndarray, candidates: np.ndarray
    ) -> np.ndarray:
        """Each candidate's score before rounding."""
        total = self._tag_weight[candidates] + self._weight_of(np.array([tags], dtype=np.uint64))[0]
        tag_fit = np.divide(
            2 * self._weight_of(shared[candidates]), total, out=np.zeros(len(total)), where=total > 0
        )
        return 100 * (TAG_SHARE * tag_fit + STAGE_SHARE * self._stage_fit(party)[candidates])

    @functools.cached_property
    def _floors(self) -> np.ndarray:
        return np.array([-np.inf if p.floor is None else p.floor for p in self.counterparts], dtype=float)

    @functools.cached_property
    def _position(self) -> dict[str, int]:
        return {p.id: index for index, p in enumerate(self.counterparts)}

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


def _could_be_among(unrounded: np.ndarray, limit: int) -> np.ndarray:
    """Which of the ``unrounded`` scores could be among the ``limit`` best once rounded."""
    if len(unrounded) <= limit:
        return np.ones(len(unrounded), dtype=bool)
    threshold = np.partition(unrounded, -limit)[-limit]
    # rounding to one decimal moves a score by at most 0.05: keep all that could tie
    return unrounded >= threshold - 0.1


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


def explained(reason: Mapping) -> dict:
    """A stored reason with its sentence in Korean and English. Stored pairs keep only the
    facts: their text would be stored, and read, once per pair."""
    if reason["kind"] == "shared_tag":
        tag = reason["tag"]
        category_ko, category_en = CATEGORY_LABELS[taxonomy.category_of(tag)]
        text_ko = f"공통 {category_ko}: {taxonomy.label(tag, 'ko')}"
        text_en = f"Shared {category_en}: {taxonomy.label(tag, 'en')}"
    else:
        stage = reason["stage"]
        ko, en = taxonomy.label(stage, "ko"), taxonomy.label(stage, "en")
        text_ko, text_en = {
            "exact": (f"투자 단계 일치: {ko}", f"Stage fit: {en} is a stage the investor invests in"),
            "adjacent": (f"인접 투자 단계: {ko}", f"Near stage fit: {en} is next to the investor's stages"),
            "none": (f"투자 단계 불일치: {ko}", f"No stage fit: the investor does not invest at {en}"),
        }[reason["fit"]]
    return {**reason, "text": {"ko": text_ko, "en": text_en}}


def _tag_reason(tag: str, weight: float) -> dict:
    return {
        "kind": "shared_tag",
        "tag": tag,
        "category": taxonomy.category_of(tag),
        "weight": round(weight, 3),
    }


def _stage_reason(stage: str, fit: str) -> dict:
    return {"kind": "stage", "stage": stage, "fit": fit}
