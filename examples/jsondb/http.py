"""jsondb over HTTP: a `req:` route backend that turns REST-style requests into jsondb ops.

    python examples/jsondb/server.py &                                   # the database
    python examples/jsondb/http.py tcp://127.0.0.1:5592 tcp://127.0.0.1:5590 &
    python -m bridge --route '/jsondb/=req:tcp://127.0.0.1:5592'
    curl -X PUT -d '{"name": "Ada"}' http://127.0.0.1:8080/jsondb/user:1
    curl http://127.0.0.1:8080/jsondb/user:1
    curl 'http://127.0.0.1:8080/jsondb/?prefix=user:'                   # scan
    curl -X DELETE http://127.0.0.1:8080/jsondb/user:1

It shows a component composed of two ZeroMQ services: the bridge speaks the JSON envelope to
this adapter (REP), which speaks jsondb's own protocol to the database (REQ, through the
client library). Errors from the database map to HTTP statuses (404, 409, 400).
"""
import json
import sys
from urllib.parse import parse_qs, unquote

import gevent
from bridge.handler import serve_envelope

from examples.jsondb.client import JsonDBClient, JsonDBError

PREFIX = "/jsondb/"
STATUS = {"not_found": 404, "conflict": 409, "bad_request": 400, "bad_json": 400, "unknown_op": 400}


def make_app(db, prefix=PREFIX):
    def app(req):
        path = req["path"]
        key = unquote(path[len(prefix):]) if path.startswith(prefix) else ""
        method = req["method"]
        query = {k: v[-1] for k, v in parse_qs(req.get("query") or "").items()}
        try:
            if method == "GET" and not key:
                items = db.request("scan", prefix=query.get("prefix", ""),
                                   limit=int(query.get("limit", "100")))
                return {"status": 200, "body": {"items": items["items"], "more": items["more"]}}
            if method == "GET":
                try:
                    value, version = db.get_versioned(key)
                except KeyError:
                    return {"status": 404, "body": {"error": "not_found", "key": key}}
                return {"status": 200, "headers": {"ETag": f'"{version}"'}, "body": value}
            if method in ("PUT", "POST") and key:
                try:
                    value = json.loads(req["body"] or b"null")
                except ValueError as exc:
                    return {"status": 400, "body": f"body is not JSON: {exc}\n"}
                version = db.set(key, value)
                return {"status": 200, "body": {"key": key, "version": version}}
            if method == "DELETE" and key:
                return {"status": 200, "body": {"key": key, "deleted": db.delete(key)}}
            return {"status": 405, "body": "use GET, PUT or DELETE on /jsondb/KEY, GET /jsondb/?prefix=\n"}
        except JsonDBError as exc:
            return {"status": STATUS.get(exc.code, 502), "body": {"error": exc.code, "message": str(exc)}}

    return app


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    listen = argv[0] if argv else "tcp://127.0.0.1:5592"
    database = argv[1] if len(argv) > 1 else "tcp://127.0.0.1:5590"
    with JsonDBClient(database) as db:
        print(f"jsondb http adapter on {listen} -> {database}", flush=True)
        serve_envelope(listen, make_app(db))


if __name__ == "__main__":
    gevent.get_hub().NOT_ERROR += (KeyboardInterrupt,)  # Ctrl-C: no traceback from the hub
    try:
        main()
    except KeyboardInterrupt:
        pass
