"""Mongrel2 handler protocol, server side: PUSH requests out, SUB replies in, as Mongrel2 does.

The bridge BINDS a PUSH socket on the route's SEND_SPEC and a SUB socket on its RECV_SPEC,
subscribed to ``UUID + " "`` (Mongrel2 with recv_ident = send_ident), so handlers connect PULL
and PUB exactly as they do to Mongrel2 and several handlers share requests round-robin. With the
route option ``recv_ident=PREFIX`` the SUB subscribes to PREFIX instead, as Mongrel2 does; an
empty one (Mongrel2's usual ``recv_ident=''``) takes replies whatever UUID they carry, which
handlers that reply under their own sender id (examples/mp3stream) rely on.

Replies are parsed by m2wire's strict grammar. Each named connection gets the raw body bytes in
its mailbox (an empty body closes it). Unknown connection ids get a ``@*`` disconnect message
back, as Mongrel2 does, except for cancel replies (as Mongrel2) and close replies (Mongrel2
1.12.2 answers those too; the bridge often closed the connection itself first). Extended ``X`` replies: ``ctl
cancel`` closes the connections without a disconnect message, ``ctl keep-alive`` is accepted
(the bridge has no idle killer for connections waiting on a handler); others are logged and
dropped. Malformed replies are counted and dropped; they never reach a client.

Owned by bridge.server.Bridge; sends are DONTWAIT, so "no handler connected" is known at once
(the caller answers 503).
"""
import logging

import gevent
from gevent.lock import Semaphore

from bridge import m2wire
from bridge.backends.peers import PeerCount
from bridge.zmqlib import DONTWAIT, zmq

log = logging.getLogger("bridge.mongrel2")


class Mongrel2Backend:
    def __init__(self, context, target, uuid, connections, metrics):
        if not m2wire.valid_sender(uuid):
            raise ValueError(f"mongrel2 sender uuid {uuid!r} must match [A-Za-z0-9-]+")
        self.uuid = uuid
        self._sender = uuid.encode()
        self.recv_ident = target.recv_ident
        self.protocol = target.protocol
        self.connections = connections          # the bridge's id -> HandlerOutput registry
        self.users = set()                      # ids of connections that sent requests here
        self.metrics = metrics
        self._lock = Semaphore()
        self._greenlet = self.peers = None      # close() may run before they exist
        self.push = context.socket(zmq.PUSH)
        self.sub = context.socket(zmq.SUB)
        for sock in (self.push, self.sub):
            sock.setsockopt(zmq.LINGER, 0)
        if target.recv_ident is None:
            self.sub.setsockopt(zmq.SUBSCRIBE, self._sender + b" ")
        else:
            self.sub.setsockopt(zmq.SUBSCRIBE, target.recv_ident.encode())
        try:
            self.push.bind(target.send)
            self.sub.bind(target.recv)
        except zmq.ZMQError:
            self.close()
            raise
        self.send_endpoint = _last_endpoint(self.push)
        self.recv_endpoint = _last_endpoint(self.sub)
        self.peers = PeerCount(self.push)

    def start(self):
        self.peers.start()
        self._greenlet = gevent.spawn(self._recv_loop)

    def close(self):
        if self._greenlet is not None:
            self._greenlet.kill()
        if self.peers is not None:
            self.peers.close()
        self.push.close()
        self.sub.close()

    def send(self, message):
        """PUSH one request; False when no handler is connected (or all are at their HWM)."""
        try:
            with self._lock:
                self.push.send(message, DONTWAIT)
            return True
        except zmq.Again:
            return False

    def notify_disconnect(self, conn_id):
        """Tell handlers that connection ``conn_id`` is gone (path ``@*``, METHOD JSON)."""
        self.users.discard(conn_id)
        self.send(m2wire.encode_disconnect(self.uuid, conn_id, self.protocol))

    def _recv_loop(self):
        while True:
            try:
                message = self.sub.recv()
            except zmq.ZMQError as e:
                log.warning("mongrel2 SUB %s: %s", self.recv_endpoint, e)
                return
            self.dispatch(message)

    def dispatch(self, message):
        """Deliver one handler reply to the connections it names. Never blocks."""
        try:
            sender, ids, body, extended = m2wire.split_reply(message)
            reply = m2wire.parse_reply(message) if extended else None
        except m2wire.M2WireError as e:
            self.metrics.handler_messages["invalid"] += 1
            log.warning("skipped invalid message from handler: %s", e)
            return
        if sender != self._sender and self.recv_ident is None:
            return                               # another bridge's reply on a shared PUB
        if len(ids) > m2wire.MAX_TARGETS:
            self.metrics.handler_messages["invalid"] += 1
            log.warning("skipped reply naming %d targets (limit %d)", len(ids), m2wire.MAX_TARGETS)
            return
        if extended:
            self._extended(reply)
            return
        self.metrics.handler_messages["delivered"] += 1
        for conn_id in ids:
            conn = self.connections.get(conn_id)
            if conn is not None:
                conn.deliver(body)
            elif body:
                self.metrics.handler_messages["dead_target"] += 1
                self.notify_disconnect(conn_id)

    def _extended(self, reply):
        args = reply.args if isinstance(reply.args, dict) else {}
        if reply.key == "ctl" and args.get("cancel"):
            for conn_id in reply.ids:
                conn = self.connections.get(conn_id)
                if conn is not None:
                    conn.deliver_cancel()
            self.metrics.handler_messages["cancel"] += 1
        elif reply.key == "ctl" and "keep-alive" in args:
            self.metrics.handler_messages["keep_alive"] += 1
        else:
            self.metrics.handler_messages["unsupported"] += 1
            log.warning("unsupported extended reply %r dropped", reply.key)


def _last_endpoint(sock):
    value = sock.getsockopt(zmq.LAST_ENDPOINT)
    return value.decode() if isinstance(value, bytes) else value
