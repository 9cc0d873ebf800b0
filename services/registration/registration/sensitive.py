"""Encryption at rest for accessibility needs, which are sensitive information (PIPA Art. 23).

They are sealed with a key that only the registration service holds, so a copy of the database
or a backup alone does not reveal them.
"""

import json

from cryptography.fernet import Fernet, InvalidToken


class MissingKey(RuntimeError):
    pass


class Sealer:
    def __init__(self, key: str) -> None:
        if not key:
            raise MissingKey(
                "SENSITIVE_DATA_KEY is not set; generate one with "
                "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
            )
        self._fernet = Fernet(key.encode())

    def seal(self, value: dict) -> str:
        return self._fernet.encrypt(json.dumps(value).encode()).decode()

    def open(self, sealed: str) -> dict:
        try:
            return json.loads(self._fernet.decrypt(sealed.encode()))
        except InvalidToken as error:
            raise RuntimeError("accessibility needs sealed with another key") from error
