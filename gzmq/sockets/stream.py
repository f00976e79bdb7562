"""STREAM: raw TCP/IPC peers that speak no ZMTP (libzmq's stream_t; HTTP servers and clients).

Every message in and out is [routing id, data]: received data arrives as it came off the
wire, prefixed with the peer's routing id (libzmq's auto 5-byte id, or CONNECT_ROUTING_ID for
an outgoing connection); sending [id, data] writes data to that peer, and an empty data frame
closes its connection. An unknown id is EHOSTUNREACH (a STREAM socket is always "mandatory").
With STREAM_NOTIFY (the default) a peer's connection and disconnection arrive as [id, b""].
The bytes are moved by gzmq.engine.raw_session; this module only routes.
"""
from ..constants import Errno, SocketType, SocketOption
from ..error import ZMQError
from ..routing.fair_queue import FairQueue
from ..routing.identity import RoutingIds
from .base import SocketBase

O = SocketOption


class Stream(SocketBase):
    _type = SocketType.STREAM
    _peer_types = frozenset()  # raw peers: no socket type is announced or checked

    def _init_routing(self):
        self._fq = FairQueue()
        self._ids = RoutingIds()

    def _xattach(self, pipe):
        if pipe.connect_side and pipe.routing_id is None:
            rid = self._options[O.CONNECT_ROUTING_ID]
            if rid:
                self._options[O.CONNECT_ROUTING_ID] = b""   # names the next connection only
                if self._ids.get(rid) is not None:
                    raise ZMQError(Errno.EINVAL, f"CONNECT_ROUTING_ID {rid!r} is already in use")
            else:
                rid = self._ids.auto_id()
            pipe.routing_id = rid
            self._ids.add(rid, pipe)
        self._fq.attach(pipe)

    def _xready(self, pipe):
        if pipe.routing_id is None:
            rid = self._ids.auto_id()
            pipe.routing_id = rid
            self._ids.add(rid, pipe)
        return True

    def _xdetach(self, pipe):
        self._fq.detach(pipe)
        self._ids.remove(pipe)

    def _xreadable(self, pipe):
        self._fq.activate(pipe)

    def _xrecv(self):
        fq = self._fq
        msg = fq.recv()
        if msg is None:
            return None
        return [fq.last.routing_id, b"".join(bytes(f) for f in msg) if len(msg) > 1 else msg[0]]

    def _last_pipe(self):
        return self._fq.last

    def _xsend(self, msg):
        if len(msg) < 2:
            return True           # only a routing id: nothing to deliver
        rid = msg[0] if type(msg[0]) is bytes else bytes(msg[0])
        pipe = self._ids.by_id.get(rid)
        if pipe is None or not pipe.alive:
            raise ZMQError(Errno.EHOSTUNREACH, f"STREAM: no peer with routing id {rid!r}")
        data = msg[1:]
        if not any(len(frame) for frame in data):
            # An empty frame closes the connection, once what was sent before it is written;
            # the id is gone at once.
            pipe.write_control([b""])
            self._ids.remove(pipe)
            return True
        return pipe.write(data)

    def _xhas_in(self):
        return self._fq.has_in()

    def _xhas_out(self):
        return True
