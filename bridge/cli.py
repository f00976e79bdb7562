"""The command line of ``gzmq-bridge`` / ``python -m bridge`` (see bridge.__main__, which
monkey-patches before importing this module, and with it bottle and the sockets)."""
import json
import logging
import os
import signal
import sys
from typing import Any

import gevent

from bridge import workers
from bridge.config import ConfigError, build_parser, from_args
from bridge.server import Bridge
from bridge.zmqlib import zmq


def main(argv: "list[str] | None" = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        config = from_args(args)
    except ConfigError as e:
        print(f"gzmq-bridge: {e}", file=sys.stderr)
        return 2

    if config.workers > 1 and args.worker_index is None:
        try:
            supervisor = workers.Supervisor(args, sys.argv[1:] if argv is None else argv, config,
                                            config.workers, args.worker_socket)
        except ConfigError as e:
            print(f"gzmq-bridge: {e}", file=sys.stderr)
            return 2
        return supervisor.run()

    index, count = args.worker_index, args.worker_count or 1

    def configure():
        return workers.for_worker(from_args(args), index, count) if index is not None else from_args(args)

    try:
        kwargs: "dict[str, Any]" = {}
        if index is not None:
            config = configure()
            kwargs["worker"] = (index, count, args.worker_dir)
            kwargs["listener"] = workers.worker_listener(config.listen, args.listen_fd)
            if isinstance(config.admin, tuple):
                kwargs["admin_listener"] = workers.worker_listener(config.admin, args.admin_fd)
        bridge = Bridge(config, **kwargs)
    except ConfigError as e:
        print(f"gzmq-bridge: {e}", file=sys.stderr)
        return 2
    except (OSError, ValueError, zmq.ZMQError) as e:   # a bind that fails: an endpoint in use
        print(f"gzmq-bridge: {e}", file=sys.stderr)
        return 2
    bridge.start()
    ready = bridge.describe()
    if index is not None:
        ready.update(worker=index, pid=os.getpid())
        workers.watch_supervisor(bridge.server.close)
    print("bridge ready " + json.dumps(ready), flush=True)
    log = logging.getLogger("bridge")

    def reload() -> None:
        try:
            bridge.reload(configure())
        except (ConfigError, OSError, ValueError) as e:
            log.error("reload refused, the running config stays: %s", e)

    # Keep the watchers referenced: a collected gevent signal watcher stops watching.
    watchers = [gevent.signal_handler(signum, bridge.server.close)
                for signum in (signal.SIGINT, signal.SIGTERM)]
    watchers.append(gevent.signal_handler(signal.SIGHUP, lambda: gevent.spawn(reload)))
    try:
        bridge.serve_forever()
    finally:
        bridge.close_sessions()
        bridge.close_backends()
        for watcher in watchers:
            watcher.cancel()
    return 0

