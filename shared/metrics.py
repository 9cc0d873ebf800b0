"""How much work a service process has done: store commands sent, events published (each with
its publisher confirm) and events handled. The benchmarks read these to show what one event
costs; they are plain counters, cheap enough to keep on in production.

pymongo reports every command it sends (one per round trip; a bulk write of many documents is
one command per batch) to a ``CommandListener``; server heartbeats are not commands and are not
counted.
"""

from collections import Counter

from pymongo import monitoring

from shared.rpc import rpc

# one per process; the services' workers are green threads of one OS thread
io_counts: Counter = Counter()


class StoreCommandCounter(monitoring.CommandListener):
    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        io_counts["store_commands"] += 1

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        io_counts["store_commands"] += 1


class IoCountsRpc:
    """The RPC entrypoint a service mixes in to report its counters."""

    @rpc
    def io_counts(self) -> dict:
        return {key: io_counts[key] for key in ("store_commands", "events_published", "events_handled")}
