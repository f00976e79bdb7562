"""recv_ident: which handler replies a Mongrel2 route accepts, by their sender UUID.

Mongrel2 subscribes its SUB socket to the handler's recv_ident. Its example configs use
recv_ident='' (any sender), and some handlers rely on that: examples/mp3stream answers under its
own sender id, not the one in the request. The bridge subscribes to its own UUID by default (so
bridges can share a handler's PUB); ``recv_ident=`` (empty) on the route takes any sender.
"""
import time

from httpkit import BridgeProcess, PyzmqHandlerThread, fetch

FOREIGN = "9703b4dd-227a-45c4-b7a1-ef62d97962b2"


class ForeignHandler(PyzmqHandlerThread):
    """pyzmq handler: /own replies under the request's UUID, anything else under FOREIGN."""

    def handle(self, raw):
        sender, conn_id, path, _ = raw.split(b" ", 3)
        if path == b"@*":
            return
        who = sender if path.endswith(b"/own") else FOREIGN.encode()
        self.reply(who, conn_id, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(who), who))


def _until_answered(port, path, deadline=15.0):
    """GET ``path`` until a 200 comes back (the handler's PUB may not be subscribed at first)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            r = fetch(port, "GET", path, timeout=1.0)
        except OSError:
            continue
        if r.status == 200:
            return r
    raise AssertionError(f"{path}: no 200 within {deadline}s")


def test_recv_ident_selects_accepted_senders(pyzmq, zctx, processes):
    bridge = processes.start(BridgeProcess(
        "--route", "/any/=mongrel2:tcp://127.0.0.1:*,tcp://127.0.0.1:*,recv_ident=",
        "--route", "/own/=mongrel2:tcp://127.0.0.1:*,tcp://127.0.0.1:*,timeout=1"))
    handlers = [ForeignHandler(pyzmq, zctx, bridge.route(p)["send"], bridge.route(p)["recv"])
                for p in ("/any/", "/own/")]
    try:
        # recv_ident='' as in Mongrel2's examples: a reply under another UUID reaches the client.
        assert _until_answered(bridge.port, "/any/x").body == FOREIGN.encode()
        # Default: only replies under the bridge's UUID; once the handler's own reply gets
        # through (its PUB is subscribed), a foreign-UUID reply is dropped: 504 after timeout=1.
        own = _until_answered(bridge.port, "/own/own").body.decode()
        assert own == bridge.route("/own/")["uuid"]
        assert fetch(bridge.port, "GET", "/own/x", timeout=5.0).status == 504
    finally:
        for h in handlers:
            h.close()


def test_recv_ident_option_parses():
    from bridge.config import parse_target

    assert parse_target("mongrel2:tcp://a:1,tcp://a:2").recv_ident is None
    assert parse_target("mongrel2:tcp://a:1,tcp://a:2,recv_ident=").recv_ident == ""
    assert parse_target("mongrel2:tcp://a:1,tcp://a:2,recv_ident=abc-").recv_ident == "abc-"
