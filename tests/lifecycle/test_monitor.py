"""Socket monitor (issue 4): event order for connect, handshake, disconnect and reconnect,
with the same event numbers and sequences as pyzmq's (libzmq's) monitor for the same scenario."""
import gevent
import pytest

import gzmq
from gzmq.utils.monitor import recv_monitor_message


def scenario(zmq, recv_monitor):
    """Bind, connect, exchange, server goes away, client reconnects a few times, both close.
    Returns the event names seen by the server and the client (ordered)."""
    ctx = zmq.Context()
    srv = ctx.socket(zmq.ROUTER)
    srv_mon = srv.get_monitor_socket()
    srv.bind("tcp://127.0.0.1:*")
    ep = srv.getsockopt(zmq.LAST_ENDPOINT).decode()
    cli = ctx.socket(zmq.DEALER)
    cli_mon = cli.get_monitor_socket()
    cli.connect(ep)
    cli.send(b"x")
    srv.recv_multipart()

    def events_until(mon, stop_event, limit=50):
        names = []
        while len(names) < limit:
            ev = recv_monitor(mon)
            names.append(zmq.Event(ev["event"]).name)
            if ev["event"] == stop_event:
                break
        return names

    server_events = events_until(srv_mon, zmq.EVENT_HANDSHAKE_SUCCEEDED)
    srv.close(linger=0)
    server_events += events_until(srv_mon, zmq.EVENT_MONITOR_STOPPED)
    # the client sees the disconnect, then retries until we stop it
    client_events = events_until(cli_mon, zmq.EVENT_HANDSHAKE_SUCCEEDED)
    client_events += events_until(cli_mon, zmq.EVENT_DISCONNECTED)
    retries = []
    while retries.count("CONNECT_RETRIED") < 3:
        retries += events_until(cli_mon, zmq.EVENT_CONNECT_RETRIED)
    cli.close(linger=0)
    client_events += retries + events_until(cli_mon, zmq.EVENT_MONITOR_STOPPED)
    srv_mon.close()
    cli_mon.close()
    ctx.term()
    return server_events, client_events


def test_same_sequence_as_libzmq(pyzmq, deadline):
    import zmq.green
    from zmq.utils.monitor import recv_monitor_message as lib_recv
    with deadline(20):
        ours = scenario(gzmq, recv_monitor_message)
        theirs = scenario(zmq.green, lib_recv)
    assert ours == theirs
    assert ours[0] == ["LISTENING", "ACCEPTED", "HANDSHAKE_SUCCEEDED", "CLOSED", "MONITOR_STOPPED"]
    assert ours[1][:4] == ["CONNECT_DELAYED", "CONNECTED", "HANDSHAKE_SUCCEEDED", "DISCONNECTED"]


def test_event_numbers_match_libzmq(pyzmq):
    for name in ("CONNECTED", "CONNECT_DELAYED", "CONNECT_RETRIED", "LISTENING", "BIND_FAILED",
                 "ACCEPTED", "ACCEPT_FAILED", "CLOSED", "CLOSE_FAILED", "DISCONNECTED",
                 "MONITOR_STOPPED", "HANDSHAKE_FAILED_NO_DETAIL", "HANDSHAKE_SUCCEEDED",
                 "HANDSHAKE_FAILED_PROTOCOL", "HANDSHAKE_FAILED_AUTH", "ALL"):
        assert int(getattr(gzmq, "EVENT_" + name)) == int(getattr(pyzmq, "EVENT_" + name))


def test_values_and_frame_layout(deadline):
    ctx = gzmq.Context()
    sock = ctx.socket(gzmq.PULL)
    mon = sock.get_monitor_socket(gzmq.EVENT_LISTENING | gzmq.EVENT_BIND_FAILED)
    sock.bind("tcp://127.0.0.1:*")
    other = ctx.socket(gzmq.PULL)
    with deadline(5):
        frames = mon.recv_multipart()
        assert len(frames) == 2 and len(frames[0]) == 6      # uint16 event + uint32 value, then endpoint
        ev = gzmq.monitor.parse_monitor_message(frames)
        assert ev["event"] == gzmq.EVENT_LISTENING and ev["value"] > 0
        assert ev["endpoint"] == sock.last_endpoint
        other.bind("tcp://127.0.0.1:*")
        with pytest.raises(gzmq.ZMQError):
            sock.bind(other.last_endpoint.decode())     # in use: BIND_FAILED on `sock`
        ev = recv_monitor_message(mon)
        assert ev["event"] == gzmq.EVENT_BIND_FAILED and ev["value"] == gzmq.EADDRINUSE
        sock.disable_monitor()
        assert recv_monitor_message(mon)["event"] == gzmq.EVENT_MONITOR_STOPPED
    for s in (mon, sock, other):
        s.close(linger=0)
    ctx.term()


def test_handshake_failure_reported(deadline):
    ctx = gzmq.Context()
    pull = ctx.socket(gzmq.PULL)
    mon = pull.get_monitor_socket(gzmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)
    pull.bind("tcp://127.0.0.1:*")
    wrong = ctx.socket(gzmq.PULL)   # PULL cannot talk to PULL
    wrong.connect(pull.last_endpoint.decode())
    with deadline(5):
        ev = recv_monitor_message(mon)
    assert ev["event"] == gzmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    assert ev["value"] == gzmq.PROTOCOL_ERROR_ZMTP_INVALID_METADATA
    for s in (mon, pull, wrong):
        s.close(linger=0)
    ctx.term()
