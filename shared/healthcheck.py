"""Probe for containers: ``python -m shared.healthcheck <service>`` exits 0 when the service
answers its ``health`` RPC (which also checks its store) within three seconds."""

import sys

from shared.rpc import RpcClient
from shared.settings import Settings


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m shared.healthcheck <service>", file=sys.stderr)
        return 2
    client = RpcClient(Settings.from_env().amqp_uri, timeout=3.0)
    try:
        client.call(argv[0], "health")
    except Exception as error:
        print(f"{argv[0]}: not healthy: {error}", file=sys.stderr)
        return 1
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
