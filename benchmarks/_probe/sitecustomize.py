"""Benchmark probe, loaded into each service process by benchmarks/pipeline.py (only there).

benchmarks/pipeline.py puts this directory first on the services' PYTHONPATH, so Python imports
this module at start-up (``sitecustomize``). It registers a global PyMongo command listener that
counts every store command the process sends, by command name and collection, with the time the
driver waited for it, in two Prometheus counters of the default registry. The services already
expose that registry at /metrics, so the benchmark reads the counters there before and after the
load. Nothing else changes in the service; a failure here never stops the service.

    gongkai_bench_store_commands_total{command, collection, outcome}
    gongkai_bench_store_command_seconds_total{command, collection}

With ``GONGKAI_BENCH_STORE_SITES=<path prefix>`` (``pipeline.py --store-sites``) it also counts each
command by the line of the service's own code that sent it (the innermost frame under services/
or servicekit/ outside the store adapters), and writes the counts to ``<prefix>.<pid>.json`` when
the process exits: where the store round trips come from.
"""

from __future__ import annotations

try:
    from prometheus_client import Counter
    from pymongo import monitoring

    _COMMANDS = Counter("gongkai_bench_store_commands", "Store commands sent (benchmark probe)",
                        ["command", "collection", "outcome"])
    _SECONDS = Counter("gongkai_bench_store_command_seconds", "Time waited for store commands (benchmark probe)",
                       ["command", "collection"])
    _IGNORED = {"hello", "ismaster", "isMaster", "ping", "endSessions", "buildInfo", "saslStart",
                "saslContinue"}

    import atexit
    import collections
    import json
    import os
    import sys

    _SITES_PREFIX = os.environ.get("GONGKAI_BENCH_STORE_SITES", "")
    _SITES: collections.Counter[str] = collections.Counter()

    def _site() -> str:
        frame = sys._getframe(1)
        chain: list[str] = []
        while frame is not None and len(chain) < 3:
            name = frame.f_code.co_filename
            if ("/services/" in name or "/servicekit/" in name) and "/servicekit/mongo.py" not in name:
                chain.append(f"{name.split('/work/main/')[-1]}:{frame.f_lineno} {frame.f_code.co_name}")
            frame = frame.f_back
        return " < ".join(chain) or "?"

    def _dump() -> None:
        with open(f"{_SITES_PREFIX}.{os.getpid()}.json", "w") as f:
            json.dump(dict(_SITES.most_common()), f, indent=1)

    if _SITES_PREFIX:
        atexit.register(_dump)

    class _StoreCommands(monitoring.CommandListener):
        def __init__(self) -> None:
            self._coll: dict[tuple[int, int], str] = {}

        def started(self, event: monitoring.CommandStartedEvent) -> None:
            if event.command_name in _IGNORED:
                return
            coll = event.command.get(event.command_name)
            if event.command_name == "getMore":
                coll = event.command.get("collection")
            self._coll[(event.request_id, event.operation_id or 0)] = (
                f"{event.database_name}.{coll}" if isinstance(coll, str) else event.database_name)
            if _SITES_PREFIX:
                _SITES[f"{event.command_name} {coll} @ {_site()}"] += 1
                if sum(_SITES.values()) % 200 == 0:
                    _dump()

        def _done(self, event, outcome: str) -> None:  # noqa: ANN001
            coll = self._coll.pop((event.request_id, event.operation_id or 0), None)
            if coll is None:
                return
            _COMMANDS.labels(event.command_name, coll, outcome).inc()
            _SECONDS.labels(event.command_name, coll).inc(event.duration_micros / 1e6)

        def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
            self._done(event, "ok")

        def failed(self, event: monitoring.CommandFailedEvent) -> None:
            self._done(event, "error")

    monitoring.register(_StoreCommands())
except Exception:  # noqa: BLE001, S110 - a probe never breaks the service
    pass
