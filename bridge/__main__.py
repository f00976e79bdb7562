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
from gevent import monkey

monkey.patch_all()      # first: before bottle (its requests are thread-locals) and any socket

from bridge.cli import main  # noqa: E402  (after the patch, on purpose)

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
