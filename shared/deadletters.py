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

from shared.caller_assertions import require_vouched, vouch
from shared.errors import EXPECTED, Conflict, Forbidden, NotFound
from shared.inbox import Inbox
from shared.messaging import SUBSCRIPTIONS, EventPublisher
from shared.rpc import RpcClient, rpc
from shared.settings import Settings

SERVICES = tuple(SUBSCRIPTIONS)


class DeadLetterRpc:
    """RPC entrypoints of a consuming service for its dead letters (needs ``self.inbox``), for
    organisers only, as the gateway (or this command line tool, with the same key) vouches."""

    name: str
    inbox: Inbox

    @rpc(expected_exceptions=EXPECTED)
    def dead_letters(self, caller: str, limit: int = 50) -> list[dict]:
        _organiser(caller)
        return self.inbox.parked(max(1, min(int(limit), 500)))

    @rpc(expected_exceptions=EXPECTED)
    def dead_letter(self, letter_id: str, caller: str) -> dict:
        _organiser(caller)
        letter = self.inbox.dead_letter(letter_id)
        if letter is None:
            raise NotFound(f"No dead letter {letter_id}.")
        return letter

    @rpc(expected_exceptions=EXPECTED)
    def replay_dead_letter(self, letter_id: str, caller: str) -> dict:
        _organiser(caller)
        publisher = EventPublisher(Settings.from_env().amqp_uri)
        replayed = self.inbox.replay(
            letter_id, lambda body, subjects: publisher.publish_to_queue(body, self.name, subjects)
        )
        if replayed is None:
            if self.inbox.dead_letter(letter_id) is None:
                raise NotFound(f"No dead letter {letter_id}.")
            raise Conflict("Only a parked message can be replayed; this one was replayed already.")
        return replayed


def _organiser(caller: str) -> None:
    require_vouched(caller, Settings.from_env().caller_signing_key)


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
    settings = Settings.from_env()
    if not settings.caller_signing_key:
        print("Set CALLER_SIGNING_KEY to the platform's (make run: var/caller-signing.key).", file=sys.stderr)
        return 2
    client = RpcClient(settings.amqp_uri, timeout=10)
    # an operator holding the platform's CALLER_SIGNING_KEY acts as an organiser
    organiser = vouch({"organiser": True}, settings.caller_signing_key)
    try:
        if arguments.command == "list":
            for service in [arguments.service] if arguments.service else SERVICES:
                for letter in client.call(service, "dead_letters", organiser):
                    print(json.dumps({"service": service, **letter}, ensure_ascii=False))
        elif arguments.command == "show":
            print(
                json.dumps(
                    client.call(arguments.service, "dead_letter", arguments.letter_id, organiser),
                    ensure_ascii=False,
                    indent=2,
                )
            )
        else:
            print(
                json.dumps(
                    client.call(arguments.service, "replay_dead_letter", arguments.letter_id, organiser),
                    ensure_ascii=False,
                )
            )
    except (NotFound, Conflict, Forbidden) as error:
        print(error.message, file=sys.stderr)
        return 1
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
