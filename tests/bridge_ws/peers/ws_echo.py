"""An echo WebSocket on the bridge's own WebSocket layer, for the Autobahn fuzzingclient.

The same pieces a ``pubsub:`` route uses (bridge.http11's parser, bridge.ws.handshake with
permessage-deflate negotiation, bridge.ws.session.WebSocketSession and its outbox), with
``on_message`` echoing. Prints ``ready PORT`` once listening on 127.0.0.1; SIGTERM stops it.
Usage: ws_echo.py [--max-message-bytes N]
"""
import argparse
import os
import socket
import sys

from gevent import monkey

monkey.patch_all()

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))

import gevent  # noqa: E402
import signal  # noqa: E402
from gevent.server import StreamServer  # noqa: E402

from bridge.config import Limits  # noqa: E402
from bridge.front.outbox import StreamStats  # noqa: E402
from bridge.http11 import HTTPError, RequestParser  # noqa: E402
from bridge.ws import handshake  # noqa: E402
from bridge.ws.session import WebSocketSession  # noqa: E402


class Echo(WebSocketSession):
    def on_message(self, message):
        self.send_message(message.opcode, message.payload)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-message-bytes", type=int, default=Limits().ws_max_message_bytes)
    args = parser.parse_args()
    limits = Limits(ws_max_message_bytes=args.max_message_bytes, stream_queue_bytes=64 << 20,
                    ws_close_timeout=2.0)
    stats = StreamStats()

    def handle(sock, address):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        requests = RequestParser()
        request = None
        try:
            while request is None:
                data = sock.recv(65536)
                if not data:
                    return
                requests.receive_data(data)
                request = requests.next_event()
            accept = handshake.check(request)
        except HTTPError as e:
            sock.sendall(handshake.refusal(e.status, e.reason))
            return
        except handshake.HandshakeError as e:
            sock.sendall(handshake.refusal(e.status, e.reason, e.headers))
            return
        compression, extensions = handshake.negotiate_compression(request)
        session = Echo(sock, requests.take_buffered(), limits, stats, "/", compression)
        session.outbox.put_control(handshake.accepted(accept, extensions=extensions))
        session.run()

    server = StreamServer(("127.0.0.1", 0), handle)
    server.start()
    gevent.signal_handler(signal.SIGTERM, server.stop)
    print(f"ready {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
