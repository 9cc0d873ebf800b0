"""Gateway-to-service call latency, with the client the gateway uses."""

import time
from collections.abc import Callable

from bench.load import percentiles_ms
from shared.rpc import RpcClient
from tests.conftest import vouched


def rpc_latency(amqp_uri: str, calls: int) -> dict:
    """``registration.identify`` with an empty token answers without touching the store, so it
    measures the RPC path alone (with the check of the caller assertion the gateway sends, made
    afresh for each call before it is timed, as an assertion lasts a minute);
    ``registration.health`` adds one read from the store."""
    client = RpcClient(amqp_uri, timeout=10)
    arguments: dict[str, Callable[[], tuple]] = {
        "identify": lambda: ("", vouched({"token": ""})),
        "health": lambda: (),
    }
    try:
        results = {}
        for label, method in (
            ("identify (no store access)", "identify"),
            ("health (one store read)", "health"),
        ):
            for _ in range(min(200, calls)):  # warm up: connection, reply queue, service workers
                client.call("registration", method, *arguments[method]())
            durations = []
            for _ in range(calls):
                args = arguments[method]()
                started = time.perf_counter()
                client.call("registration", method, *args)
                durations.append(time.perf_counter() - started)
            results[label] = {"calls": calls, "latency_ms": percentiles_ms(sorted(durations))}
        return results
    finally:
        client.close()
