"""Wait until the local Kafka broker answers admin requests (used by infra.sh start).

Exit 0 once a metadata request (list topics) as the ``admin`` principal succeeds (SASL/SCRAM, its
local password: deploy/local/credentials.py); exit 1 on timeout or when the broker's process
(``--pid``) dies first, so infra.sh can stop waiting at once and show the log.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time

from aiokafka.admin import AIOKafkaAdminClient

from deploy.local.credentials import kafka_client_kwargs
from deploy.local.readiness import alive


async def _list_topics(bootstrap: str, timeout: float) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000),
                                **kafka_client_kwargs())
    try:
        await asyncio.wait_for(admin.start(), timeout)
        return await asyncio.wait_for(admin.list_topics(), timeout)
    finally:
        await admin.close()


async def wait_ready(bootstrap: str, timeout: float, pid: int | None) -> bool:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        if not alive(pid):
            print(f"kafka_ready: broker process {pid} exited", file=sys.stderr)
            return False
        try:
            await _list_topics(bootstrap, max(1.0, min(5.0, deadline - time.monotonic())))
            return True
        except Exception as exc:  # noqa: BLE001 - not ready yet: any failure means retry
            last = exc
        if time.monotonic() >= deadline:
            print(f"kafka_ready: {bootstrap} not ready after {timeout:.0f} s: {last!r}", file=sys.stderr)
            return False
        await asyncio.sleep(0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--bootstrap",
        default=os.environ.get("GONGKAI_KAFKA_BOOTSTRAP"),
        required="GONGKAI_KAFKA_BOOTSTRAP" not in os.environ,
    )
    parser.add_argument("--timeout", type=float, default=90.0)
    parser.add_argument("--pid", type=int, default=None)
    args = parser.parse_args()
    # aiokafka logs every refused connection at ERROR while the broker starts: not news here.
    logging.basicConfig(level=logging.CRITICAL)
    return 0 if asyncio.run(wait_ready(args.bootstrap, args.timeout, args.pid)) else 1


if __name__ == "__main__":
    sys.exit(main())
