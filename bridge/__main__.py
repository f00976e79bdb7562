"""``gzmq-bridge`` / ``python -m bridge``: run the bridge from flags and/or a JSON config file.

gevent.monkey.patch_all() runs first, before bottle (whose request objects are thread-locals)
or anything socket-related is imported. Once listening, one line goes to stdout:

    bridge ready {"listen": "127.0.0.1:8080", "uuid": "...", "routes": [...]}

with the bound addresses (useful with ``--listen 127.0.0.1:0`` and ``tcp://127.0.0.1:*``
endpoints). SIGINT and SIGTERM stop it. SIGHUP reads the flags' config file again and swaps in
its routes and limits (bridge.server.Bridge.reload); open connections carry on, and a config
that does not load is logged and changes nothing. Exit status 2 for a bad configuration.

With ``--workers N`` (N > 1) this process is the supervisor of N workers, each this same
command with the same flags plus the hidden ``--worker-*`` ones (bridge.workers).
"""
from typing import Any


def main(argv: "list[str] | None" = None) -> int:
    from gevent import monkey

    monkey.patch_all()

    import json
    import logging
    import os
    import signal
    import sys

    import gevent

    from bridge.config import ConfigError, build_parser, from_args

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        config = from_args(args)
    except ConfigError as e:
        print(f"gzmq-bridge: {e}", file=sys.stderr)
        return 2

    from bridge import workers
    from bridge.server import Bridge
    from bridge.zmqlib import zmq

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


if __name__ == "__main__":
    raise SystemExit(main())
