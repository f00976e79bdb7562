"""udp:// specifics: hostile datagrams, DGRAM's address frames, bind/connect rules and the
datagram format (gzmq.udp.framing), with a plain UDP socket as the raw peer."""
import logging
from gevent import socket  # cooperative: in in-hub mode the engine runs on this hub

import pytest

import gzmq
from gzmq.udp.framing import DatagramError, decode_radio, encode_radio, parse_peer


def test_radio_datagram_format():
    assert encode_radio(b"g1", b"body") == b"\x02g1body"
    assert decode_radio(b"\x02g1body") == [b"g1", b"body"]
    assert decode_radio(b"\x00") == [b"", b""]
    for bad in (b"", b"\x05ab"):
        with pytest.raises(DatagramError):
            decode_radio(bad)
    with pytest.raises(DatagramError):
        encode_radio(b"x" * 256, b"")
    assert parse_peer(b"127.0.0.1:5555") == ("127.0.0.1", 5555)
    for bad in (b"nohost", b"127.0.0.1:0", b"127.0.0.1:x", b"\xff:1", b"example.com:80"):
        with pytest.raises(DatagramError):
            parse_peer(bad)


def _raw_sender():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s


def test_malformed_datagrams_are_dropped_and_logged(gctx, deadline, caplog):
    dish = gctx.socket(gzmq.DISH)
    dish.setsockopt(gzmq.MAXMSGSIZE, 100)
    dish.join("g")
    dish.bind("udp://127.0.0.1:*")
    port = int(dish.LAST_ENDPOINT.decode().rsplit(":", 1)[1])
    raw = _raw_sender()
    try:
        with caplog.at_level(logging.WARNING, logger="gzmq"), deadline(10):
            for bad in (b"", b"\x09short", b"\x01g" + b"x" * 101):
                raw.sendto(bad, ("127.0.0.1", port))
            raw.sendto(b"\x01gok", ("127.0.0.1", port))
            assert dish.poll(5000)
            frame = dish.recv(copy=False)
            assert (frame.bytes, frame.group) == (b"ok", "g")   # only the good one
        assert "dropped a datagram" in caplog.text
        assert "MAXMSGSIZE" in caplog.text
    finally:
        raw.close()


def test_dgram_bad_address_frame_is_logged_not_fatal(gctx, deadline, caplog):
    dgram = gctx.socket(gzmq.DGRAM)
    dgram.bind("udp://127.0.0.1:*")
    raw = _raw_sender()
    try:
        with caplog.at_level(logging.WARNING, logger="gzmq"), deadline(10):
            dgram.send_multipart([b"not an address", b"x"])
            dgram.send_multipart([b"127.0.0.1:%d" % raw.getsockname()[1], b"fine"])
            raw.settimeout(5)
            data, _ = raw.recvfrom(100)
            assert data == b"fine"
        assert "not IP:PORT" in caplog.text
    finally:
        raw.close()


def test_dgram_multipart_rules(gctx):
    dgram = gctx.socket(gzmq.DGRAM)
    dgram.bind("udp://127.0.0.1:*")
    with pytest.raises(gzmq.ZMQError) as info:
        dgram.send(b"body")                      # no address frame first
    assert info.value.errno == gzmq.EINVAL
    dgram.send(b"127.0.0.1:9", gzmq.SNDMORE)
    with pytest.raises(gzmq.ZMQError) as info:
        dgram.send(b"more", gzmq.SNDMORE)        # a third frame
    assert info.value.errno == gzmq.EINVAL
    with pytest.raises(gzmq.ZMQError) as info:
        dgram.send_multipart([b"a", b"b", b"c"])
    assert info.value.errno == gzmq.EINVAL


@pytest.mark.parametrize("kind, how", [("RADIO", "bind"), ("DISH", "connect"), ("PUB", "bind"),
                                       ("SERVER", "connect")])
def test_incompatible_socket_types(gctx, kind, how):
    sock = gctx.socket(getattr(gzmq, kind))
    with pytest.raises(gzmq.ZMQError) as info:
        getattr(sock, how)("udp://127.0.0.1:5999")
    assert info.value.errno == gzmq.ENOCOMPATPROTO
