"""Matching at scale, in a process of its own so that its memory can be read: one new company
scored against 10,000 investors, and the scoring of a full rematch of 20,000 companies against
5,000 investors. Prints one JSON object.

    python -m bench.matching_scale --investors 10000 --companies 20000 --rematch-investors 5000
"""

import argparse
import json
import random
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services" / "matching"))

from matching import domain  # noqa: E402
from shared import taxonomy  # noqa: E402

# as MATCHING_TOP_N by default
SUGGESTIONS_KEPT = 100


def population(kind: str, count: int, rng: random.Random) -> list[domain.Profile]:
    """Parties with 2 to 5 tags drawn from the whole taxonomy: about half of all pairs share one."""
    profiles = []
    for i in range(count):
        tags = tuple(rng.sample(taxonomy.MATCHING_TAGS, rng.randint(2, 5)))
        stages = tuple(rng.sample(taxonomy.STAGES, 1 if kind == "company" else rng.randint(1, 3)))
        profiles.append(domain.Profile(f"{kind}-{i}", kind, tags, stages))
    return profiles


def one_against(investors: list[domain.Profile], rng: random.Random, repeats: int) -> dict:
    weights = domain.tag_weights(investors)
    durations, found = [], 0
    for company in population("company", repeats, rng):
        started = time.perf_counter()
        found = len(domain.matches_for(company, investors, weights, limit=SUGGESTIONS_KEPT))
        durations.append(time.perf_counter() - started)
    return {
        "investors": len(investors),
        "repeats": repeats,
        "kept": found,
        "median_ms": round(statistics.median(durations) * 1000, 2),
        "max_ms": round(max(durations) * 1000, 2),
    }


def full_rematch(companies: list[domain.Profile], investors: list[domain.Profile]) -> dict:
    started = time.perf_counter()
    weights = domain.tag_weights(companies + investors)
    kept = domain.rematch(companies, investors, weights, SUGGESTIONS_KEPT)
    seconds = time.perf_counter() - started
    return {
        "companies": len(companies),
        "investors": len(investors),
        "pairs_scored": len(companies) * len(investors),
        "suggestions_kept": sum(len(matches) for matches in kept.pairs.values()),
        "seconds": round(seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--investors", type=int, default=10_000)
    parser.add_argument("--companies", type=int, default=20_000)
    parser.add_argument("--rematch-investors", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=20)
    arguments = parser.parse_args()
    rng = random.Random(2026)
    result = {
        "one_company": one_against(population("investor", arguments.investors, rng), rng, arguments.repeats),
        "full_rematch": full_rematch(
            population("company", arguments.companies, rng),
            population("investor", arguments.rematch_investors, rng),
        ),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
