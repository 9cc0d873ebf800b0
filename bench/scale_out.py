"""Scale-out: how long one, then two, matching instances take to drain a backlog of profile
changes. Each run has a fresh store and a fresh RabbitMQ virtual host; the backlog is published
before any instance starts, and the clock runs from the first event taken to the last handled.

The backlog is what a rush puts on matching's queue: new companies and investors (disjoint tag
families, as in the rush, so that the figure is event throughput, not suggestion fan-out).
"""

import random
import time
from pathlib import Path

from kombu import Connection, Producer
from pymongo import MongoClient

from bench.cpu import cpu_by_role, pgrep
from shared.contracts.events import new_event
from shared.messaging import EVENTS_EXCHANGE, topology
from tests.conftest import ServiceProcess, embedded_store, service_env, virtual_host
from tests.platform import COMPANY_TAGS, INVESTOR_TAGS, queue_depths_of


def backlog(count: int) -> list[dict]:
    events = []
    for number in range(count):
        kind = "company" if number % 2 else "investor"
        tags = random.sample(COMPANY_TAGS if kind == "company" else INVESTOR_TAGS, 2)
        payload = {
            "registration_id": f"{kind}-{number}",
            "kind": kind,
            "revision": 1,
            "active": True,
            "tags": tags,
            "stages": ["seed"],
        }
        events.append(new_event("registration.profile_changed", payload))
    return events


def publish(amqp_uri: str, events: list[dict]) -> None:
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as connection:
        channel = connection.channel()
        for entity in topology():
            entity.bind(channel).declare()
        producer = Producer(channel, exchange=EVENTS_EXCHANGE, serializer="json")
        for event in events:
            producer.publish(event, routing_key=event["type"], message_id=event["event_id"], delivery_mode=2)


def drain(instances: int, events: list[dict], work: Path) -> dict:
    """Seconds to handle the backlog, and the cores the store, the matching instances and the
    broker kept busy meanwhile (processor seconds per second)."""
    work.mkdir(parents=True, exist_ok=True)
    with virtual_host() as amqp_uri, embedded_store(work) as (mongo_uri, _, store_process):
        publish(amqp_uri, events)
        env = service_env(amqp_uri, mongo_uri)
        processes = [
            ServiceProcess("matching", env, work / f"matching-{n}.log").start() for n in range(instances)
        ]
        roles = {
            "store": [store_process.pid],
            "matching": [process.process.pid for process in processes],
            "broker": pgrep(["pgrep", "-x", "beam.smp"]),
        }
        store = MongoClient(mongo_uri)
        try:
            started = None
            while True:
                waiting = queue_depths_of(amqp_uri)["matching"]
                if started is None and waiting < len(events):
                    started = time.monotonic()
                    cpu_at_start = cpu_by_role(roles)
                if waiting == 0 and store["matching"]["inbox"].count_documents({"status": "done"}) >= len(
                    events
                ):
                    seconds = time.monotonic() - started
                    cores = {
                        role: round((used - cpu_at_start[role]) / seconds, 2)
                        for role, used in cpu_by_role(roles).items()
                    }
                    return {"seconds": round(seconds, 1), "cores_busy": cores}
                for process in processes:
                    if process.process.poll() is not None:
                        raise RuntimeError(f"a matching instance stopped:\n{process.log()[-3000:]}")
                time.sleep(0.2)
        finally:
            store.close()
            for process in processes:
                process.stop()


def scale_out(events: int, work: Path) -> dict:
    backlog_events = backlog(events)
    one = drain(1, backlog_events, work / "one")
    print(f"  one instance: {events} events in {one['seconds']} s, cores {one['cores_busy']}", flush=True)
    two = drain(2, backlog_events, work / "two")
    print(f"  two instances: {events} events in {two['seconds']} s, cores {two['cores_busy']}", flush=True)
    return {
        "events": events,
        "one_instance_seconds": one["seconds"],
        "two_instances_seconds": two["seconds"],
        "one_instance_rate": round(events / one["seconds"], 1),
        "two_instances_rate": round(events / two["seconds"], 1),
        "speed_up": round(one["seconds"] / two["seconds"], 2),
        "one_instance_cores_busy": one["cores_busy"],
        "two_instances_cores_busy": two["cores_busy"],
    }
