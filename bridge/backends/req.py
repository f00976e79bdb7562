"""``req:`` routes: the JSON envelope over a DEALER connected to REP or ROUTER backends.

One DEALER per route connects to every endpoint; ZeroMQ round-robins successive requests over
the connected ones. IMMEDIATE=1 keeps requests off endpoints that are not connected, so a
DONTWAIT send raises Again when no backend is up: the caller answers 503 at once instead of
queueing for the whole timeout. Each request travels as ``[id, "", json]``: REP backends
return the envelope untouched, which lets many requests be in flight on one socket and lets a
reply find its connection (bridge.adapters.envelope documents the frames).

A request whose client left, or whose timeout passed, is forgotten; a late reply to it is
dropped. Owned by bridge.server.Bridge.
"""
import itertools
import logging
import os

import gevent
from gevent.lock import Semaphore

from bridge.backends.peers import PeerCount
from bridge.zmqlib import DONTWAIT, zmq

log = logging.getLogger("bridge.req")


class ReqBackend:
    def __init__(self, context, target, metrics):
        self.target = target
        self.metrics = metrics
        self.pending = {}                       # request id (bytes) -> ReplyReceiver
        self._prefix = os.urandom(4).hex()
        self._ids = itertools.count(1)
        self._lock = Semaphore()
        self.dealer = context.socket(zmq.DEALER)
        self.dealer.setsockopt(zmq.LINGER, 0)
        self.dealer.setsockopt(zmq.IMMEDIATE, 1)
        try:
            for endpoint in target.endpoints:
                self.dealer.connect(endpoint)
        except zmq.ZMQError:
            self.dealer.close()
            raise
        self.peers = PeerCount(self.dealer)
        self._greenlet = None

    def start(self):
        self.peers.start()
        self._greenlet = gevent.spawn(self._recv_loop)

    def close(self):
        if self._greenlet is not None:
            self._greenlet.kill()
        self.peers.close()
        self.dealer.close()

    def unavailable_why(self):
        return f"no backend connected at {', '.join(self.target.endpoints)}"

    def health(self):
        """Connected backends now (from the DEALER's monitor), for /_bridge/health."""
        if self.peers.count:
            return {"state": "connected", "backends": self.peers.count}
        return {"state": "unavailable", "backends": 0, "why": self.unavailable_why()}

    def new_id(self):
        return f"{self._prefix}-{next(self._ids)}"

    def submit(self, request_id, payload, conn):
        """Send one envelope; False when no backend is connected (or all are at their HWM)."""
        rid = request_id.encode()
        try:
            with self._lock:
                self.dealer.send_multipart([rid, b"", payload], DONTWAIT)
        except zmq.Again:
            return False
        self.pending[rid] = conn
        return True

    def forget(self, request_id):
        self.pending.pop(request_id.encode(), None)

    def _recv_loop(self):
        while True:
            try:
                frames = self.dealer.recv_multipart()
            except zmq.ZMQError as e:
                log.warning("req DEALER %s: %s", ",".join(self.target.endpoints), e)
                return
            if len(frames) != 3 or frames[1] != b"":
                log.warning("dropped a reply with %d frames (expected [id, '', json])", len(frames))
                continue
            conn = self.pending.pop(frames[0], None)
            if conn is not None:
                conn.deliver_reply(frames[0].decode(), frames[2])
