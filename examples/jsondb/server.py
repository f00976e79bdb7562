"""jsondb server: an in-memory key-value database served over ROUTER with a JSON protocol.

A worked example of "a new database as a ZeroMQ server": any ZeroMQ client in any language
(REQ, or DEALER with an empty first frame) sends one JSON object per request and gets one JSON
object back; changes are published on a second socket for watchers. See README.md in this
directory for the protocol; in short:

    {"op": "set", "key": "user:1", "value": {"name": "Ada"}}   -> {"ok": true, "version": 1}
    {"op": "get", "key": "user:1"}        -> {"ok": true, "value": {...}, "version": 1}
    {"op": "delete", "key": "user:1"}     -> {"ok": true, "deleted": true}
    {"op": "scan", "prefix": "user:"}     -> {"ok": true, "items": [...], "more": false}
    {"op": "info"}                        -> {"ok": true, "keys": 0, "watch": "tcp://..."}
    anything wrong                        -> {"ok": false, "error": {"code": ..., "message": ...}}

Run it:

    python examples/jsondb/server.py [--bind tcp://127.0.0.1:5590] [--watch tcp://127.0.0.1:5591]

It demonstrates a ROUTER server that answers every request, however malformed, with a JSON
reply and never dies of bad input; replies routed by envelope (REQ and DEALER clients alike);
a PUB-style change feed on XPUB that tells each new watcher when its subscription is live;
and one greenlet serving any number of clients, draining what is queued before it waits.
"""
import argparse
import bisect
import json
import logging

import gevent
import gzmq as zmq

log = logging.getLogger("jsondb")

REQUESTS = "tcp://127.0.0.1:5590"
WATCH = "tcp://127.0.0.1:5591"
MAX_REQUEST = 1 << 20         # bytes: bigger frames close the sender's connection (MAXMSGSIZE)
MAX_KEY = 1024                # characters
MAX_SCAN = 1000               # items per scan reply


class RequestError(Exception):
    """A request the database refuses; becomes {"ok": false, "error": {code, message}}."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class Store:
    """The database itself: keys (str) to JSON values with a version each. No I/O.

    A sorted list of keys next to the dict makes a prefix scan a bisect plus a slice.
    Every change gets the next sequence number, so watchers can tell if they missed one.
    """

    def __init__(self):
        self._data = {}       # key -> (value, version)
        self._keys = []       # sorted
        self.seq = 0

    def __len__(self):
        return len(self._data)

    def get(self, key):
        try:
            return self._data[key]
        except KeyError:
            raise RequestError("not_found", f"no key {key!r}") from None

    def set(self, key, value, if_version=None):
        """Store value; returns (version, seq). if_version: only if the key is at that version
        (0: only if absent), else a "conflict" error (optimistic concurrency)."""
        old = self._data.get(key)
        current = old[1] if old else 0
        if if_version is not None and if_version != current:
            raise RequestError("conflict", f"{key!r} is at version {current}, not {if_version}")
        if old is None:
            bisect.insort(self._keys, key)
        self._data[key] = (value, current + 1)
        self.seq += 1
        return current + 1, self.seq

    def delete(self, key):
        """Remove key; returns the change's seq, or None if there was no such key."""
        if self._data.pop(key, None) is None:
            return None
        del self._keys[bisect.bisect_left(self._keys, key)]
        self.seq += 1
        return self.seq

    def scan(self, prefix="", limit=100, start_after=None):
        """Up to `limit` (key, value, version) in key order, then whether more follow."""
        keys = self._keys
        i = bisect.bisect_left(keys, prefix)
        if start_after is not None:
            i = max(i, bisect.bisect_right(keys, start_after))
        items = []
        while i < len(keys) and keys[i].startswith(prefix):
            if len(items) == limit:
                return items, True
            value, version = self._data[keys[i]]
            items.append((keys[i], value, version))
            i += 1
        return items, False


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def decode_request(frame):
    """The request object in one frame; RequestError("bad_json"/"bad_request") if it is not."""
    try:
        request = json.loads(bytes(frame).decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:   # UnicodeDecodeError, JSONDecodeError, NaN
        raise RequestError("bad_json", f"request is not UTF-8 JSON: {exc}") from None
    if not isinstance(request, dict):
        raise RequestError("bad_request", "a request is a JSON object")
    return request


def encode(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


REQUIRED = object()


def _field(request, name, kind, default=REQUIRED, check=None):
    """request[name], checked: of type `kind` (never a bool for int), accepted by `check`."""
    if name not in request or (request[name] is None and default is None):
        if default is REQUIRED:
            raise RequestError("bad_request", f"{request.get('op')!r} needs {name!r}")
        return default
    value = request[name]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise RequestError("bad_request", f"{name!r} must be {kind.__name__}, not {value!r:.40}")
    if check is not None and not check(value):
        raise RequestError("bad_request", f"{name!r} is out of range: {value!r:.40}")
    return value


def _key(request):
    return _field(request, "key", str, check=lambda k: 0 < len(k) <= MAX_KEY)


class JsonDBServer:
    """Serves a Store: requests on a ROUTER, change events on an XPUB.

    Each change is published as two frames, [key, event JSON], so a watcher subscribes to a
    key prefix. When a new subscription arrives the server publishes [prefix, {"op":
    "subscribed", "prefix": ...}] right away: the watcher knows from then on it misses nothing.
    """

    def __init__(self, requests=REQUESTS, watch=WATCH, context=None, store=None):
        ctx = context or zmq.Context.instance()
        self.store = store or Store()
        self.router = ctx.socket(zmq.ROUTER)
        self.router.maxmsgsize = MAX_REQUEST
        self.router.bind(requests)
        self.pub = ctx.socket(zmq.XPUB)
        self.pub.setsockopt(zmq.XPUB_VERBOSE, 1)     # every subscriber gets its "subscribed"
        self.pub.bind(watch)
        self.endpoint = self.router.last_endpoint.decode()
        self.watch_endpoint = self.pub.last_endpoint.decode()
        self.served = 0

    def close(self):
        self.router.close(linger=0)
        self.pub.close(linger=0)

    def serve_forever(self):
        """Answer requests until the greenlet running this is killed (then close())."""
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        poller.register(self.pub, zmq.POLLIN)
        try:
            while True:
                poller.poll()
                self._drain()
        except zmq.ContextTerminated:
            pass
        except zmq.ZMQError as exc:
            if exc.errno != zmq.ENOTSOCK:
                raise

    def _drain(self):
        """Handle everything already queued on both sockets, then return to waiting."""
        while True:
            busy = False
            try:
                frames = self.router.recv_multipart(zmq.DONTWAIT)
            except zmq.Again:
                pass
            else:
                busy = True
                self.router.send_multipart(self.handle(frames))
            try:
                notice = self.pub.recv(zmq.DONTWAIT)
            except zmq.Again:
                pass
            else:
                busy = True
                if notice[:1] == b"\x01":
                    prefix = notice[1:]
                    self.pub.send_multipart([prefix, encode({
                        "op": "subscribed", "prefix": prefix.decode("utf-8", "replace"),
                        "seq": self.store.seq})])
            if not busy:
                return

    def handle(self, frames):
        """One request message (routing envelope + JSON body) -> the reply message. Never raises."""
        # [routing id, empty delimiter (REQ; optional from DEALER), body]: the reply goes back
        # with the same envelope, so REQ and DEALER clients both get just the JSON.
        cut = 2 if len(frames) > 2 and not len(frames[1]) else 1
        envelope, body = frames[:cut], frames[cut:]
        request_id = None
        try:
            if len(body) != 1:
                raise RequestError("bad_request", f"a request is one JSON frame, not {len(body)}")
            request = decode_request(body[0])
            request_id = request.get("id")
            reply = self.dispatch(request)
        except RequestError as exc:
            reply = {"ok": False, "error": {"code": exc.code, "message": exc.message}}
        except Exception as exc:   # a bug must cost one request, never the server
            log.exception("request failed")
            reply = {"ok": False, "error": {"code": "internal", "message": repr(exc)}}
        if request_id is not None:
            reply["id"] = request_id
        self.served += 1
        return envelope + [encode(reply)]

    def dispatch(self, request):
        op = request.get("op")
        handler = getattr(self, f"op_{op}", None) if isinstance(op, str) else None
        if handler is None:
            raise RequestError("unknown_op", f"unknown op {op!r} (get, set, delete, scan, info)")
        return handler(request)

    # -- operations: request dict -> reply dict ---------------------------------------------
    def op_get(self, request):
        key = _key(request)
        value, version = self.store.get(key)
        return {"ok": True, "key": key, "value": value, "version": version}

    def op_set(self, request):
        key = _key(request)
        if "value" not in request:
            raise RequestError("bad_request", "'set' needs 'value'")
        value = request["value"]
        if_version = _field(request, "if_version", int, None, check=lambda v: v >= 0)
        version, seq = self.store.set(key, value, if_version)
        self._publish(key, {"op": "set", "key": key, "value": value, "version": version, "seq": seq})
        return {"ok": True, "key": key, "version": version}

    def op_delete(self, request):
        key = _key(request)
        seq = self.store.delete(key)
        if seq is not None:
            self._publish(key, {"op": "delete", "key": key, "seq": seq})
        return {"ok": True, "key": key, "deleted": seq is not None}

    def op_scan(self, request):
        prefix = _field(request, "prefix", str, "")
        limit = _field(request, "limit", int, 100, check=lambda n: 0 < n <= MAX_SCAN)
        start_after = _field(request, "start_after", str, None)
        items, more = self.store.scan(prefix, limit, start_after)
        return {"ok": True, "items": [{"key": k, "value": v, "version": n} for k, v, n in items],
                "more": more}

    def op_info(self, request):
        return {"ok": True, "keys": len(self.store), "seq": self.store.seq,
                "watch": self.watch_endpoint, "served": self.served}

    def _publish(self, key, event):
        self.pub.send_multipart([key.encode("utf-8"), encode(event)])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default=REQUESTS, help="requests (ROUTER)")
    parser.add_argument("--watch", default=WATCH, help="change events (XPUB)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    server = JsonDBServer(args.bind, args.watch)
    print(f"jsondb: requests on {server.endpoint}, changes on {server.watch_endpoint}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


if __name__ == "__main__":
    gevent.get_hub().NOT_ERROR += (KeyboardInterrupt,)  # Ctrl-C: no traceback from the hub
    try:
        main()
    except KeyboardInterrupt:
        pass
