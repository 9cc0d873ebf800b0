"""Encryption at rest for accessibility needs and a visitor type that reveals a disability or a
need for care, which are sensitive information (PIPA Art. 23).

They are sealed with a key that only the registration service holds, so a copy of the database
or a backup alone does not reveal them. ``SENSITIVE_DATA_KEY`` holds one Fernet key or several,
comma-separated, newest first: new data is sealed with the first, and data sealed with any of
them opens (cryptography's MultiFernet). Rotating is adding a new key in front, restarting
registration, resealing what is stored (``python -m registration.rotate_keys``), and then
removing the old key.
"""

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class MissingKey(RuntimeError):
    pass


class Sealer:
    def __init__(self, keys: str) -> None:
        fernets = [Fernet(key.strip().encode()) for key in keys.split(",") if key.strip()]
        if not fernets:
            raise MissingKey(
                "SENSITIVE_DATA_KEY is not set; generate one with "
                "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
            )
        self._newest = fernets[0]
        self._fernet = MultiFernet(fernets)

    def seal(self, value: Any) -> str:
        return self._fernet.encrypt(json.dumps(value).encode()).decode()

    def open(self, sealed: str) -> Any:
        try:
            return json.loads(self._fernet.decrypt(sealed.encode()))
        except InvalidToken as error:
            raise RuntimeError("sensitive data sealed with a key not in SENSITIVE_DATA_KEY") from error

    def sealed_with_newest(self, sealed: str) -> bool:
        try:
            self._newest.decrypt(sealed.encode())
        except InvalidToken:
            return False
        return True

    def reseal(self, sealed: str) -> str:
        """The same data sealed with the newest key."""
        return self._fernet.rotate(sealed.encode()).decode()
