"""Parked messages, for organisers: list, inspect and replay them.

Each consuming service mixes ``DeadLetterRpc`` in; the gateway offers the same under
``/api/v1/organiser/dead-letters``, and this module is also a command line tool::

    python -m shared.deadletters list
    python -m shared.deadletters show matching <id>
    python -m shared.deadletters replay matching <id>
"""

import argparse
import json
import sys

from shared.errors import EXPECTED, Conflict, NotFound
from shared.inbox import Inbox
from shared.messaging import SUBSCRIPTIONS, EventPublisher
from shared.rpc import RpcClient, rpc
from shared.settings import Settings

SERVICES = tuple(SUBSCRIPTIONS)


class DeadLetterRpc:
    """RPC entrypoints of a consuming service for its dead letters (needs ``self.inbox``)."""

    name: str
    inbox: Inbox

    @rpc
    def dead_letters(self, limit: int = 50) -> list[dict]:
        return self.inbox.parked(max(1, min(int(limit), 500)))

    @rpc(expected_exceptions=EXPECTED)
    def dead_letter(self, letter_id: str) -> dict:
        letter = self.inbox.dead_letter(letter_id)
        if letter is None:
            raise NotFound(f"No dead letter {letter_id}.")
        return letter

    @rpc(expected_exceptions=EXPECTED)
    def replay_dead_letter(self, letter_id: str) -> dict:
        publisher = EventPublisher(Settings.from_env().amqp_uri)
        replayed = self.inbox.replay(letter_id, lambda body: publisher.publish_to_queue(body, self.name))
        if replayed is None:
            if self.inbox.dead_letter(letter_id) is None:
                raise NotFound(f"No dead letter {letter_id}.")
            raise Conflict("Only a parked message can be replayed; this one was replayed already.")
        return replayed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.deadletters", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="parked messages of every consuming service")
    listing.add_argument("--service", choices=SERVICES)
    for name in ("show", "replay"):
        command = commands.add_parser(name)
        command.add_argument("service", choices=SERVICES)
        command.add_argument("letter_id")
    arguments = parser.parse_args(argv)
    client = RpcClient(Settings.from_env().amqp_uri, timeout=10)
    try:
        if arguments.command == "list":
            for service in [arguments.service] if arguments.service else SERVICES:
                for letter in client.call(service, "dead_letters"):
                    print(json.dumps({"service": service, **letter}, ensure_ascii=False))
        elif arguments.command == "show":
            print(
                json.dumps(
                    client.call(arguments.service, "dead_letter", arguments.letter_id),
                    ensure_ascii=False,
                    indent=2,
                )
            )
        else:
            print(
                json.dumps(
                    client.call(arguments.service, "replay_dead_letter", arguments.letter_id),
                    ensure_ascii=False,
                )
            )
    except (NotFound, Conflict) as error:
        print(error.message, file=sys.stderr)
        return 1
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
