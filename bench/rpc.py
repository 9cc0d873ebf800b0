"""Gateway-to-service call latency, with the client the gateway uses."""

import time

from bench.load import percentiles_ms
from shared.rpc import RpcClient


def rpc_latency(amqp_uri: str, calls: int) -> dict:
    """``registration.identify`` with an empty token answers without touching the store, so it
    measures the RPC path alone; ``registration.health`` adds one read from the store."""
    client = RpcClient(amqp_uri, timeout=10)
    try:
        results = {}
        for label, method, args in (
            ("identify (no store access)", "identify", ("",)),
            ("health (one store read)", "health", ()),
        ):
            for _ in range(min(200, calls)):  # warm up: connection, reply queue, service workers
                client.call("registration", method, *args)
            durations = []
            for _ in range(calls):
                started = time.perf_counter()
                client.call("registration", method, *args)
                durations.append(time.perf_counter() - started)
            results[label] = {"calls": calls, "latency_ms": percentiles_ms(sorted(durations))}
        return results
    finally:
        client.close()
