"""jsondb client library: the database's operations as Python calls, over one DEALER socket.

    from examples.jsondb.client import JsonDBClient
    with JsonDBClient("tcp://127.0.0.1:5590") as db:
        db.set("user:1", {"name": "Ada"})
        db.get("user:1")                   # {'name': 'Ada'}
        db.scan("user:")                   # [('user:1', {'name': 'Ada'})]
        with db.watch("user:") as changes:
            for event in changes:          # {'op': 'set', 'key': ..., 'value': ..., ...}
                ...

Each request carries an id and the client keeps the reply with that id, so a reply that
arrives after its request timed out is discarded instead of answering the next request (a
REQ socket would be stuck after a timeout). Error replies raise JsonDBError with the
server's code ("not_found", "conflict", "bad_request", ...); no reply in time raises
TimeoutError. A client object is used by one greenlet at a time; make one per greenlet.
"""
import itertools
import json
import time

import gzmq as zmq

DEFAULT = "tcp://127.0.0.1:5590"
_MISSING = object()


class JsonDBError(Exception):
    """The server refused a request: .code is its error code, .message its explanation."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class JsonDBClient:
    def __init__(self, endpoint=DEFAULT, context=None, timeout=5.0):
        self.endpoint = endpoint
        self.timeout = timeout
        self._ctx = context or zmq.Context.instance()
        self._sock = self._ctx.socket(zmq.DEALER)
        self._sock.linger = 0
        self._sock.connect(endpoint)
        self._ids = itertools.count(1)

    def close(self):
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def request(self, op, **fields):
        """Send one request; returns the reply object, or raises JsonDBError / TimeoutError."""
        request_id = next(self._ids)
        fields.update(op=op, id=request_id)
        self._sock.send_multipart([b"", json.dumps(fields).encode("utf-8")])
        deadline = time.monotonic() + self.timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._sock.poll(remaining * 1000):
                raise TimeoutError(f"jsondb at {self.endpoint}: no reply to {op!r} within {self.timeout}s")
            frames = self._sock.recv_multipart()
            reply = json.loads(frames[-1])
            if reply.get("id") != request_id:
                continue    # the late reply to an earlier, timed-out request
            if not reply.get("ok"):
                error = reply.get("error") or {}
                raise JsonDBError(error.get("code", "unknown"), error.get("message", ""))
            return reply

    def get(self, key, default=_MISSING):
        """The value at key; KeyError if there is none (or `default`, if given)."""
        try:
            return self.request("get", key=key)["value"]
        except JsonDBError as exc:
            if exc.code != "not_found":
                raise
            if default is _MISSING:
                raise KeyError(key) from None
            return default

    def get_versioned(self, key):
        """(value, version) at key; KeyError if there is none."""
        try:
            reply = self.request("get", key=key)
        except JsonDBError as exc:
            if exc.code == "not_found":
                raise KeyError(key) from None
            raise
        return reply["value"], reply["version"]

    def set(self, key, value, if_version=None):
        """Store value at key; returns its new version. if_version: only if the key is still
        at that version (0: only if absent), else JsonDBError("conflict")."""
        fields = {"key": key, "value": value}
        if if_version is not None:
            fields["if_version"] = if_version
        return self.request("set", **fields)["version"]

    def delete(self, key):
        """Remove key; True if it existed."""
        return self.request("delete", key=key)["deleted"]

    def scan(self, prefix="", limit=None, page=100):
        """[(key, value)] for the keys starting with prefix, in key order (all, or `limit`),
        fetched `page` at a time."""
        items = []
        start_after = None
        while limit is None or len(items) < limit:
            want = page if limit is None else min(page, limit - len(items))
            fields = {"prefix": prefix, "limit": want}
            if start_after is not None:
                fields["start_after"] = start_after
            reply = self.request("scan", **fields)
            items.extend((item["key"], item["value"]) for item in reply["items"])
            if not reply["more"] or not reply["items"]:
                break
            start_after = reply["items"][-1]["key"]
        return items

    def info(self):
        return self.request("info")

    def watch(self, prefix=""):
        """A Watch over the changes to keys starting with prefix, live when this returns."""
        return Watch(self.info()["watch"], prefix, self._ctx, self.timeout)


class Watch:
    """Change events for a key prefix: iterate, or next_event(timeout).

    Events are dicts: {"op": "set", "key", "value", "version", "seq"} or {"op": "delete",
    "key", "seq"}; seq numbers grow by one per change in the whole database, so a gap means
    an event was missed (a watcher too slow for the server's send buffer).
    """

    def __init__(self, endpoint, prefix, context, timeout=5.0):
        self.prefix = prefix
        self._sock = context.socket(zmq.SUB)
        self._sock.linger = 0
        self._sock.subscribe(prefix)
        self._sock.connect(endpoint)
        # The server answers each new subscription with a "subscribed" event on its prefix:
        # from then on no change can be missed.
        deadline = time.monotonic() + timeout
        while True:
            event = self._next(deadline - time.monotonic())
            if event is None:
                self.close()
                raise TimeoutError(f"watch {prefix!r}: the server did not confirm the subscription")
            if event.get("op") == "subscribed" and event.get("prefix") == prefix:
                break

    def _next(self, timeout):
        if timeout is not None and (timeout <= 0 or not self._sock.poll(timeout * 1000)):
            return None
        _key, body = self._sock.recv_multipart()
        return json.loads(body)

    def next_event(self, timeout=None):
        """The next change (None if `timeout` seconds pass first)."""
        while True:
            event = self._next(timeout)
            if event is None or event.get("op") != "subscribed":
                return event     # (other watchers' subscription notices are skipped)

    def __iter__(self):
        while True:
            yield self.next_event()

    def close(self):
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
