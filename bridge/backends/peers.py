"""How many peers a backend socket has now, from its monitor (pyzmq's get_monitor_socket).

``PeerCount(sock)`` counts HANDSHAKE_SUCCEEDED up and DISCONNECTED down (each event is two
frames, a 6-byte ``uint16 event, uint32 value`` and the endpoint, as libzmq sends them), so
/_bridge/health can say whether a route's backend is reachable. One greenlet per socket,
reading only. Owned by the backend that owns the socket; ``close()`` before closing it.
"""
import logging
import struct

import gevent

from bridge.zmqlib import zmq

__all__ = ["PeerCount"]

log = logging.getLogger("bridge.peers")

_EVENT = struct.Struct("=HI")


class PeerCount:
    def __init__(self, sock):
        self.count = 0
        self.sock = sock
        self.monitor = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED)
        self._greenlet = None

    def start(self):
        self._greenlet = gevent.spawn(self._run)

    def _run(self):
        while True:
            try:
                head, _endpoint = self.monitor.recv_multipart()
            except (zmq.ZMQError, ValueError):
                return
            event, _ = _EVENT.unpack(bytes(head[:6]))
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.count += 1
            elif event == zmq.EVENT_DISCONNECTED:
                self.count = max(0, self.count - 1)

    def close(self):
        if self._greenlet is not None:
            self._greenlet.kill()
        try:
            self.sock.disable_monitor()
        except zmq.ZMQError:
            pass
        self.monitor.close()
