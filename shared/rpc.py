"""RPC over RabbitMQ: a small, fast client speaking nameko's RPC protocol over kombu, and the
``rpc`` entrypoint the services use.

nameko's standalone client costs about 10 ms a call; a plain kombu request-reply to the same
service about 2 ms. This client keeps one connection, one channel and one exclusive reply queue
and publishes each request with confirms and ``mandatory`` (an unknown service or method is
refused at once instead of timing out) and with an expiry equal to the caller's timeout, so a
request nobody took in time is dropped by the broker instead of being carried out later.

It is not thread-safe: use one per thread (see ``thread_client``), created after fork, never in
a gunicorn master. Any connection error, and any timeout, drops the connection; the next call
opens a new one, so the client recovers by itself after a broker restart.
"""

import logging
import threading
import time
import uuid
from typing import Any

from amqp.exceptions import AMQPError
from kombu import Connection, Consumer, Exchange, Producer, Queue
from kombu.exceptions import KombuError
from nameko import config
from nameko.amqp.publish import Publisher
from nameko.constants import (
    AMQP_SSL_CONFIG_KEY,
    DEFAULT_TRANSPORT_OPTIONS,
    LOGIN_METHOD_CONFIG_KEY,
    NON_PERSISTENT,
)
from nameko.exceptions import deserialize
from nameko.rpc import Responder, Rpc, RpcConsumer, get_rpc_exchange

RPC_EXCHANGE = Exchange("nameko-rpc", type="topic", durable=True)
CONNECTION_ERRORS = (AMQPError, KombuError, OSError, ConnectionError)

log = logging.getLogger(__name__)


class _ReplyPublisher(Publisher):
    # A reply goes to the caller's own transient queue. A publisher confirm would make the
    # service wait a round trip to the broker for each reply, and guarantee nothing the caller
    # needs: a reply lost on the way is a timeout for the caller either way.
    use_confirms = False
    delivery_mode = NON_PERSISTENT
    # a dict of its own: nameko's Publisher writes ``confirm_publish`` into the dict its class
    # holds on every publish, and that dict is shared by every Publisher (the outbox's too), so a
    # connection the outbox opened meanwhile would be opened without confirms
    transport_options = {**DEFAULT_TRANSPORT_OPTIONS, "confirm_publish": False}


class _Responder(Responder):
    publisher_cls = _ReplyPublisher


class _RpcConsumer(RpcConsumer):
    """nameko's, replying through ``_ReplyPublisher``."""

    def handle_result(self, message: Any, result: Any, exc_info: Any) -> tuple:
        responder = _Responder(
            self.amqp_uri,
            get_rpc_exchange(),
            message,
            ssl=config.get(AMQP_SSL_CONFIG_KEY),
            login_method=config.get(LOGIN_METHOD_CONFIG_KEY),
        )
        result, exc_info = responder.send_response(result, exc_info)
        self.consumer.ack_message(message)
        return result, exc_info


class BrokerTolerantRpc(Rpc):
    """nameko's RPC entrypoint, except that a reply which cannot be sent because the broker is
    away no longer kills the whole service (nameko's default). The request, not acknowledged,
    is delivered again once the broker is back, and every RPC method is safe to repeat (a repeated
    registration is refused as a duplicate, the rest are reads or idempotent). Replies are sent
    without publisher confirms (see ``_ReplyPublisher``)."""

    rpc_consumer = _RpcConsumer()

    def handle_result(self, message: Any, worker_ctx: Any, result: Any, exc_info: Any) -> tuple:
        try:
            return super().handle_result(message, worker_ctx, result, exc_info)
        except CONNECTION_ERRORS:
            log.warning("reply not sent: the broker connection is lost", exc_info=True)
            return result, exc_info


rpc = BrokerTolerantRpc.decorator


class ServiceUnavailable(Exception):
    """The broker or the service cannot be reached now; the caller may try again later."""


class RpcTimeout(ServiceUnavailable):
    """The service did not answer in time."""


class RpcClient:
    def __init__(self, amqp_uri: str, timeout: float = 10.0) -> None:
        self.amqp_uri = amqp_uri
        self.timeout = timeout
        self._connection: Connection | None = None
        self._replies: dict[str, dict] = {}
        self._awaited: set[str] = set()

    def call(self, service: str, method: str, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        """Call ``service.method(*args, **kwargs)`` and return its result or raise its error."""
        timeout = self.timeout if timeout is None else timeout
        correlation_id = str(uuid.uuid4())
        self._awaited.add(correlation_id)
        try:
            self._send(service, method, args, kwargs, correlation_id, timeout)
            reply = self._wait(correlation_id, timeout)
        finally:
            self._awaited.discard(correlation_id)
        if reply.get("error"):
            raise deserialize(reply["error"])
        return reply.get("result")

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.release()
            except Exception:  # noqa: S110 - closing a broken connection may fail; it is gone anyway
                pass

    def _send(
        self, service: str, method: str, args: tuple, kwargs: dict, correlation_id: str, timeout: float
    ) -> None:
        self._ensure_usable()
        try:
            self._producer.publish(
                {"args": list(args), "kwargs": kwargs},
                routing_key=f"{service}.{method}",
                reply_to=self._reply_key,
                correlation_id=correlation_id,
                mandatory=True,
                serializer="json",
                delivery_mode=1,
                expiration=timeout,
                retry=False,
            )
        except CONNECTION_ERRORS as error:
            # not sent again: the request may have reached the broker before the connection broke
            self.close()
            if "NO_ROUTE" in str(error):
                raise ServiceUnavailable(f"service {service!r} is not running") from error
            raise ServiceUnavailable(f"message broker error: {error}") from error

    def _wait(self, correlation_id: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        try:
            while correlation_id not in self._replies:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    # the link may be silently dead; a fresh connection costs little
                    self.close()
                    raise RpcTimeout(f"no answer within {timeout:.1f} s")
                try:
                    self._connection.drain_events(timeout=remaining)
                except TimeoutError:
                    continue
        except CONNECTION_ERRORS as error:
            self.close()
            raise ServiceUnavailable(f"lost the broker while waiting: {error}") from error
        return self._replies.pop(correlation_id)

    def _ensure_usable(self) -> None:
        """A live connection: an idle one is checked first, and replaced if the broker closed it
        meanwhile (nothing was sent on it yet, so nothing is sent twice)."""
        if self._connection is not None:
            try:
                self._connection.drain_events(timeout=0)
            except TimeoutError:
                return
            except CONNECTION_ERRORS:
                self.close()
            else:
                return
        try:
            self._connect()
        except CONNECTION_ERRORS as error:
            self.close()
            raise ServiceUnavailable(f"message broker unreachable: {error}") from error

    def _connect(self) -> None:
        connection = Connection(self.amqp_uri, transport_options={"confirm_publish": True}, connect_timeout=3)
        self._connection = connection
        connection.ensure_connection(max_retries=1)
        channel = connection.channel()
        self._reply_key = str(uuid.uuid4())
        reply_queue = Queue(
            f"rpc.reply-gateway-{self._reply_key}",
            exchange=RPC_EXCHANGE,
            routing_key=self._reply_key,
            exclusive=True,
            auto_delete=True,
        )
        consumer = Consumer(channel, [reply_queue], callbacks=[self._on_reply], accept=["json"], no_ack=True)
        consumer.consume()
        self._producer = Producer(channel, exchange=RPC_EXCHANGE)
        self._replies.clear()

    def _on_reply(self, body: dict, message: Any) -> None:
        correlation_id = message.properties.get("correlation_id")
        # a reply to a call that already timed out is dropped, not kept for ever
        if correlation_id in self._awaited:
            self._replies[correlation_id] = body


_local = threading.local()


def thread_client(amqp_uri: str, timeout: float) -> RpcClient:
    """This thread's client, made on first use."""
    client = getattr(_local, "client", None)
    if client is None:
        client = _local.client = RpcClient(amqp_uri, timeout)
    return client
