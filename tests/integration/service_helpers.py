"""Starting one service process for a test module, and talking to it."""

import uuid
from pathlib import Path

from shared.rpc import RpcClient
from tests.conftest import ServiceProcess, wait_for


def start_service(name: str, env: dict, log_dir: Path) -> tuple[ServiceProcess, RpcClient]:
    process = ServiceProcess(name, env, log_dir / f"{name}.log").start()
    client = RpcClient(env["AMQP_URI"], timeout=5)

    def healthy():
        try:
            return client.call(name, "health", timeout=1)
        except Exception:
            return False

    wait_for(healthy, 30, interval=0.2, message=f"the {name} service")
    return process, client


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
