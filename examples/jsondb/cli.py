"""jsondb command-line client.

    python examples/jsondb/cli.py set user:1 '{"name": "Ada"}'
    python examples/jsondb/cli.py set greeting hello --string
    python examples/jsondb/cli.py get user:1
    python examples/jsondb/cli.py scan user: --limit 10
    python examples/jsondb/cli.py delete user:1
    python examples/jsondb/cli.py watch user: --count 3
    python examples/jsondb/cli.py info
    (--connect tcp://127.0.0.1:5590 by default, --timeout 5)

Results are printed as JSON, one line each (scan: one line per item; watch: one per event).
An error reply from the server is printed to stderr and the exit status is 1.
"""
import argparse
import json
import sys

import gevent

try:
    from .client import DEFAULT, JsonDBClient, JsonDBError
except ImportError:          # run as a script: python examples/jsondb/cli.py
    from client import DEFAULT, JsonDBClient, JsonDBError


def out(obj):
    print(json.dumps(obj, ensure_ascii=False), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connect", default=DEFAULT, help="the server's request endpoint")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for a reply")
    sub = parser.add_subparsers(dest="command", required=True)
    get = sub.add_parser("get", help="print the value at KEY")
    get.add_argument("key")
    put = sub.add_parser("set", help="store VALUE (JSON) at KEY; prints the new version")
    put.add_argument("key")
    put.add_argument("value")
    put.add_argument("--string", action="store_true", help="store VALUE as a string, not JSON")
    put.add_argument("--if-version", type=int, default=None, help="only if KEY is at this version")
    delete = sub.add_parser("delete", help="remove KEY")
    delete.add_argument("key")
    scan = sub.add_parser("scan", help="print the keys starting with PREFIX, in order")
    scan.add_argument("prefix", nargs="?", default="")
    scan.add_argument("--limit", type=int, default=None)
    watch = sub.add_parser("watch", help="print changes to keys starting with PREFIX")
    watch.add_argument("prefix", nargs="?", default="")
    watch.add_argument("--count", type=int, default=None, help="stop after this many")
    sub.add_parser("info", help="print the server's info")
    args = parser.parse_args(argv)

    if args.command == "set" and not args.string:
        try:
            value = json.loads(args.value)
        except ValueError as exc:
            parser.error(f"VALUE is not JSON ({exc}); use --string to store it as text")
    elif args.command == "set":
        value = args.value
    db = JsonDBClient(args.connect, timeout=args.timeout)
    try:
        if args.command == "get":
            value, version = db.get_versioned(args.key)
            out({"key": args.key, "value": value, "version": version})
        elif args.command == "set":
            out({"key": args.key, "version": db.set(args.key, value, args.if_version)})
        elif args.command == "delete":
            out({"key": args.key, "deleted": db.delete(args.key)})
        elif args.command == "scan":
            for key, value in db.scan(args.prefix, args.limit):
                out({"key": key, "value": value})
        elif args.command == "watch":
            with db.watch(args.prefix) as changes:
                print(f"watching {args.prefix!r}", file=sys.stderr, flush=True)
                for n, event in enumerate(changes, 1):
                    out(event)
                    if n == args.count:
                        break
        else:
            out({k: v for k, v in db.info().items() if k not in ("ok", "id")})
    except KeyError as exc:
        print(f"not found: {exc.args[0]}", file=sys.stderr)
        return 1
    except (JsonDBError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        db.close()
    return 0


if __name__ == "__main__":
    gevent.get_hub().NOT_ERROR += (KeyboardInterrupt,)  # Ctrl-C: no traceback from the hub
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        pass
