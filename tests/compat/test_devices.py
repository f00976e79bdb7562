"""Devices and frames as pyzmq's tests/test_device.py and test_security.py use them."""
import gevent

import gzmq
from gzmq import devices


def roundtrip(req, payload, deadline):
    with deadline(5):
        req.send(payload)
        assert req.poll(4000), "the device did not answer"
        assert req.recv() == payload


# pyzmq test_single_socket_forwarder_connect: an echo device on one socket (out_type -1). Its
# *_out settings apply to that socket; and when its peer goes away, the device thread keeps
# waiting (its hub once had nothing left to wait on and ended the device with LoopExit).
def test_single_socket_thread_device_outlives_its_peer(ctx, deadline):
    for side in ("in", "out"):
        req = ctx.socket(gzmq.REQ)
        req.linger = 0
        port = req.bind_to_random_port("tcp://127.0.0.1")
        dev = devices.ThreadDevice(gzmq.QUEUE, gzmq.REP, -1)
        dev.context_factory = gzmq.Context
        getattr(dev, "connect_" + side)(f"tcp://127.0.0.1:{port}")
        dev.start()
        try:
            roundtrip(req, side.encode(), deadline)
            req.close()
            gevent.sleep(0.3)                  # the device sees its peer leave
            assert not dev.done
            again = ctx.socket(gzmq.REQ)       # the device reconnects to a new peer there
            again.linger = 0
            again.bind(f"tcp://127.0.0.1:{port}")
            roundtrip(again, b"again", deadline)
            again.close()
        finally:
            dev.stop()
            dev.join(5)
        assert dev.done


def test_frame_subscript_reads_metadata(ctx, deadline):
    a = ctx.socket(gzmq.DEALER)
    a.bind("tcp://127.0.0.1:*")
    b = ctx.socket(gzmq.DEALER)
    b.connect(a.last_endpoint)
    b.send(b"x")
    with deadline(5):
        frame = a.recv(copy=False)
    assert frame["Socket-Type"] == frame.get("Socket-Type") == "DEALER"
