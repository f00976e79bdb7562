"""A ROUTER echo peer in its own process, for heartbeat and restart tests.

usage: peer_echo.py IMPL ENDPOINT [dealer]   (IMPL gzmq or pyzmq)
Prints "ready" once bound (or connected, with 'dealer'). The dealer mode connects with
HEARTBEAT_IVL 100 ms and HEARTBEAT_TTL 500 ms and echoes whatever it receives.
"""
import sys

impl, endpoint = sys.argv[1], sys.argv[2]
dealer = len(sys.argv) > 3 and sys.argv[3] == "dealer"
if impl == "gzmq":
    import gzmq as zmq
else:
    import zmq

ctx = zmq.Context()
if dealer:
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.HEARTBEAT_IVL, 100)
    sock.setsockopt(zmq.HEARTBEAT_TTL, 500)
    sock.connect(endpoint)
    sock.send(b"hello")
else:
    sock = ctx.socket(zmq.ROUTER)
    sock.bind(endpoint)
print("ready", flush=True)
while True:
    sock.send_multipart(sock.recv_multipart())
