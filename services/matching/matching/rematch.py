"""Rematch now: bring every stored suggestion's score up to date, announcing nothing.

    python -m matching.rematch        (``make rematch``)

Works on the matching service's own database (``MONGO_URI``), while the services run; the
services also rematch on their own every ``MATCHING_REMATCH_MINUTES``.
"""

import json
import sys

from matching.handlers import Rematch
from matching.store import MatchingStore
from shared.mongo import connect
from shared.settings import Settings


def main() -> None:
    settings = Settings.from_env()
    client = connect(settings.mongo_uri)
    try:
        store = MatchingStore(client["matching"])
        store.prepare()
        result = Rematch(store, settings.matching_top_n, settings.matching_rematch_minutes).run_now()
    finally:
        client.close()
    if result is None:
        sys.exit("A rematch is already running; try again when it has finished.")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
