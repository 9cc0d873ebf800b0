"""Errors a service answers an RPC with, each mapped to an HTTP status by the gateway.

Registered with nameko so the caller receives the same exception type, not a RemoteError.
"""

from nameko.exceptions import deserialize_to_instance


class ServiceError(Exception):
    http_status = 500
    code = "error"

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.code


@deserialize_to_instance
class NotFound(ServiceError):
    http_status = 404
    code = "not_found"


@deserialize_to_instance
class Forbidden(ServiceError):
    http_status = 403
    code = "forbidden"


@deserialize_to_instance
class Conflict(ServiceError):
    http_status = 409
    code = "conflict"


@deserialize_to_instance
class Invalid(ServiceError):
    """Field errors: ``args[0]`` is a message, ``args[1]`` a {field: [messages]} mapping."""

    http_status = 422
    code = "invalid"

    @property
    def fields(self) -> dict:
        return self.args[1] if len(self.args) > 1 else {}


@deserialize_to_instance
class TooManyRequests(ServiceError):
    """``args[0]`` is a message, ``args[1]`` the seconds to wait before trying again."""

    http_status = 429
    code = "too_many_requests"

    @property
    def retry_after(self) -> int:
        return int(self.args[1]) if len(self.args) > 1 else 60


EXPECTED = (NotFound, Forbidden, Conflict, Invalid, TooManyRequests)
