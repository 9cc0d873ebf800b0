"""Reseal the stored sensitive data with the newest key of ``SENSITIVE_DATA_KEY``.

    python -m registration.rotate_keys        (``make rotate-keys``)

To rotate the key: put a new key in front of ``SENSITIVE_DATA_KEY`` (comma-separated, newest
first), restart every registration instance, run this (registrations may go on meanwhile), then
remove the old key and restart again. Prints how many registrations were resealed; exits with an
error if some are still sealed with an older key, in which case the old key must stay.
"""

import json
import sys

from registration.sensitive import Sealer
from registration.store import RegistrationStore
from shared.mongo import connect
from shared.settings import Settings


def main() -> None:
    settings = Settings.from_env()
    client = connect(settings.mongo_uri)
    try:
        sealer = Sealer(settings.sensitive_data_key)
        store = RegistrationStore(client["registration"], sealer, default_event={})
        result = store.reseal_with_newest_key()
    finally:
        client.close()
    print(json.dumps(result))
    if result["left"]:
        sys.exit(f"{result['left']} still sealed with an older key: keep that key, and run this again.")


if __name__ == "__main__":
    main()
