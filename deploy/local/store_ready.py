"""Wait until the local document store answers a MongoDB ``ping`` (used by infra.sh start).

Exit 0 once ``ping`` succeeds; exit 1 on timeout or when the store's process (``--pid``) dies.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from pymongo import MongoClient
from pymongo.errors import ConfigurationError

from deploy.local.readiness import alive


def wait_ready(url: str, timeout: float, pid: int | None) -> bool:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        if not alive(pid):
            print(f"store_ready: store process {pid} exited", file=sys.stderr)
            return False
        client: MongoClient = MongoClient(url, serverSelectionTimeoutMS=1000, connectTimeoutMS=1000)
        try:
            client.admin.command("ping")
            return True
        except ConfigurationError as exc:
            # The server answers but the driver refuses it (e.g. too old a wire version): final.
            print(f"store_ready: {url}: {exc}", file=sys.stderr)
            return False
        except Exception as exc:  # noqa: BLE001 - not ready yet: any failure means retry
            last = exc
        finally:
            client.close()
        if time.monotonic() >= deadline:
            print(f"store_ready: {url} not ready after {timeout:.0f} s: {last!r}", file=sys.stderr)
            return False
        time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--url", default=os.environ.get("GONGKAI_MONGO_URL"), required="GONGKAI_MONGO_URL" not in os.environ
    )
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--pid", type=int, default=None)
    args = parser.parse_args()
    return 0 if wait_ready(args.url, args.timeout, args.pid) else 1


if __name__ == "__main__":
    sys.exit(main())
