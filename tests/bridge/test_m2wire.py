"""m2wire bytes in, bytes out: golden vectors from Mongrel2 1.12 (captured from a running
mongrel2 1.12.2, or from shared/BRIDGE.md section 1) and Hypothesis for the parsers."""
import pytest
from hypothesis import given, strategies as st

from bridge import m2wire
from bridge.adapters.mongrel2 import request_message
from bridge.http11 import RequestParser

UUID = "54c6755b-9628-40a4-9a2d-cc82a816345e"

# Captured from mongrel2 1.12.2 for `curl 'http://127.0.0.1:16767/h/foo?x=1' -H 'X-A: 1' -H 'X-A: 2'`.
CAPTURED_GET = (
    b'54c6755b-9628-40a4-9a2d-cc82a816345e 2 /h/foo 260:{"PATH":"/h/foo","x-forwarded-for":"127.0.0.1",'
    b'"accept":"*/*","x-a":["1","2"],"user-agent":"curl/7.88.1","host":"127.0.0.1:16767","METHOD":"GET",'
    b'"VERSION":"HTTP/1.1","URI":"/h/foo?x=1","QUERY":"x=1","PATTERN":"/h","URL_SCHEME":"http",'
    b'"REMOTE_ADDR":"127.0.0.1"},0:,')
CAPTURED_DISCONNECT = b'54c6755b-9628-40a4-9a2d-cc82a816345e 3 @* 17:{"METHOD":"JSON"},21:{"type":"disconnect"},'

TNET_GET = (
    b"54c6755b-9628-40a4-9a2d-cc82a816345e 7 /handlertest/foo 280:4:PATH,16:/handlertest/foo,4:host,"
    b"14:localhost:6767,10:user-agent,10:curl/8.5.0,6:accept,3:*/*,15:x-forwarded-for,9:127.0.0.1,"
    b"6:METHOD,3:GET,7:VERSION,8:HTTP/1.1,3:URI,20:/handlertest/foo?x=1,5:QUERY,3:x=1,7:PATTERN,"
    b"12:/handlertest,10:URL_SCHEME,4:http,11:REMOTE_ADDR,9:127.0.0.1,}0:,")


def test_parse_captured_request():
    req = m2wire.parse_request(CAPTURED_GET)
    assert req.sender == UUID and req.conn_id == 2 and req.path == "/h/foo"
    assert req.headers["x-a"] == ["1", "2"]
    assert req.headers["QUERY"] == "x=1"
    assert req.body == b""


def test_encode_reproduces_captured_request():
    req = m2wire.parse_request(CAPTURED_GET)
    assert m2wire.encode_request(UUID, 2, "/h/foo", req.headers, b"") == CAPTURED_GET


def test_adapter_builds_mongrel2_headers_in_mongrel2_order():
    p = RequestParser()
    p.receive_data(b"GET /h/foo?x=1 HTTP/1.1\r\nHost: 127.0.0.1:16767\r\nUser-Agent: curl/7.88.1\r\n"
                   b"Accept: */*\r\nX-A: 1\r\nX-A: 2\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n")
    msg = request_message(UUID, 2, p.next_event(), "/h", "127.0.0.1")
    assert msg == (
        b'54c6755b-9628-40a4-9a2d-cc82a816345e 2 /h/foo 260:{"PATH":"/h/foo","x-forwarded-for":"127.0.0.1",'
        b'"host":"127.0.0.1:16767","user-agent":"curl/7.88.1","accept":"*/*","x-a":["1","2"],"METHOD":"GET",'
        b'"VERSION":"HTTP/1.1","URI":"/h/foo?x=1","QUERY":"x=1","PATTERN":"/h","URL_SCHEME":"http",'
        b'"REMOTE_ADDR":"127.0.0.1"},0:,')
    assert m2wire.parse_request(msg).headers == m2wire.parse_request(CAPTURED_GET).headers


def test_tnetstring_request_golden():
    req = m2wire.parse_request(TNET_GET)
    assert req.headers["PATTERN"] == "/handlertest"
    assert m2wire.encode_request(UUID, 7, "/handlertest/foo", req.headers, b"", "tnetstring") == TNET_GET


def test_post_body_netstring():
    msg = m2wire.encode_request(UUID, 7, "/p", {"METHOD": "POST"}, b"hello world")
    assert msg.endswith(b",11:hello world,")
    assert m2wire.parse_request(msg).body == b"hello world"


def test_binary_body_and_header_bytes_survive():
    body = bytes(range(256))
    for protocol in ("json", "tnetstring"):
        msg = m2wire.encode_request(UUID, 1, "/b", {"x-bin": "caf\udce9"}, body, protocol)
        req = m2wire.parse_request(msg)
        assert req.body == body
        assert req.headers["x-bin"] == "caf\udce9"


def test_disconnect_messages():
    assert m2wire.encode_disconnect(UUID, 3) == CAPTURED_DISCONNECT
    assert m2wire.encode_disconnect(UUID, 7, "tnetstring") == (
        b'54c6755b-9628-40a4-9a2d-cc82a816345e 7 @* 16:6:METHOD,4:JSON,}21:{"type":"disconnect"},')


@pytest.mark.parametrize("ids, body, wire", [
    ([7], b"HTTP/1.1 200 OK\r\n\r\n", b"UUID 1:7, HTTP/1.1 200 OK\r\n\r\n"),
    ([7, 12, 99], b"data", b"UUID 7:7 12 99, data"),
    ([7], b"", b"UUID 1:7, "),
])
def test_reply_golden(ids, body, wire):
    wire = wire.replace(b"UUID", UUID.encode())
    assert m2wire.encode_reply(UUID, ids, body) == wire
    reply = m2wire.parse_reply(wire)
    assert reply.ids == tuple(ids) and reply.body == body and not reply.extended


@pytest.mark.parametrize("wire, key, args", [
    (b"3:X 7, 26:3:ctl,16:6:cancel,4:true!}]", "ctl", {"cancel": True}),
    (b"3:X 7, 31:3:ctl,21:10:keep-alive,4:true!}]", "ctl", {"keep-alive": True}),
    (b"3:X 7, 28:3:ctl,18:7:credits,5:65536#}]", "ctl", {"credits": 65536}),
    (b"3:X 7, 42:8:sendfile,27:examples/http_0mq/hello.txt,]", "sendfile", b"examples/http_0mq/hello.txt"),
])
def test_extended_reply_golden(wire, key, args):
    # shared/BRIDGE.md 1.3 prints these with "4:X 7," but "X 7" is 3 bytes: the netstring
    # counts the "X " prefix (pushpin's real trace "4:X 21," agrees), so "3:X 7," is right.
    wire = UUID.encode() + b" " + wire
    reply = m2wire.parse_reply(wire)
    assert reply.extended and reply.ids == (7,) and reply.key == key and reply.args == args
    if key == "ctl":
        assert m2wire.encode_extended_reply(UUID, [7], key, args) == wire


def test_reply_with_trailing_space_in_targets():
    assert m2wire.parse_reply(UUID.encode() + b" 7:7 12 9 , x").ids == (7, 12, 9)


@pytest.mark.parametrize("wire", [
    b"UUID 2:7, x",            # length does not match the target list
    b"UUID 1:7,x",             # no space after the comma
    b"UUID 1:7, ",             # (valid: close) -- replaced below by a broken uuid variant
    b"UUID 4:7  1, x",         # two spaces
    b"UUID 2:7a, x",           # not a digit
    b"UU_ID 1:7, x",           # bad uuid character
    b"UUID 1:7 x",             # no comma
    b"UUID",                   # nothing
    b" 1:7, x",                # no uuid
    b"UUID 99999999999:7, x",  # absurd length
    b"UUID 3:X 7, notatnet",   # extended body is not a tnetstring list
])
def test_invalid_replies(wire):
    if wire == b"UUID 1:7, ":
        wire = b"UUID! 1:7, "
    with pytest.raises(m2wire.M2WireError):
        m2wire.parse_reply(wire.replace(b"UUID", UUID.encode(), 1))


def test_encode_reply_refuses_too_many_targets():
    with pytest.raises(ValueError):
        m2wire.encode_reply(UUID, list(range(129)), b"x")
    assert m2wire.parse_reply(m2wire.encode_reply(UUID, list(range(128)), b"x")).ids == tuple(range(128))


@pytest.mark.parametrize("value", [b"", b"abc", 0, -12, 3.5, True, False, None, [], {},
                                   {"a": [1, b"x", {"b": None}]}])
def test_tnetstring_round_trip(value):
    assert m2wire.loads(m2wire.dumps(value)) == value


@pytest.mark.parametrize("data", [b"", b"3:ab,", b"3:abc", b"3:abc?", b"03:abc,", b"1:x#",
                                  b"4:true,x", b"5:false~", b"4:1:a,}", b"a:b,"])
def test_tnetstring_errors(data):
    with pytest.raises(m2wire.M2WireError):
        m2wire.loads(data)


tnet_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.binary(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12)


@given(tnet_values)
def test_tnetstring_round_trip_any(value):
    assert m2wire.loads(m2wire.dumps(value)) == value


@given(st.binary(max_size=200))
def test_parsers_raise_only_m2wire_error(data):
    for parse in (m2wire.parse_reply, m2wire.parse_request, m2wire.loads):
        try:
            parse(data)
        except m2wire.M2WireError:
            pass


@given(st.lists(st.integers(0, 10**12), max_size=128), st.binary(max_size=100))
def test_reply_round_trip_any(ids, body):
    reply = m2wire.parse_reply(m2wire.encode_reply(UUID, ids, body))
    assert reply.ids == tuple(ids) and reply.body == body


@given(st.integers(0, 10**9), st.text(alphabet="abc/é%", min_size=1, max_size=20),
       st.dictionaries(st.text("abcxyz-", min_size=1, max_size=8),
                       st.text(max_size=10) | st.lists(st.text(max_size=5), max_size=3), max_size=5),
       st.binary(max_size=50), st.sampled_from(["json", "tnetstring"]))
def test_request_round_trip_any(conn_id, path, headers, body, protocol):
    req = m2wire.parse_request(m2wire.encode_request(UUID, conn_id, path, headers, body, protocol))
    assert (req.conn_id, req.path, req.headers, req.body) == (conn_id, path, headers, body)


@pytest.mark.parametrize("protocol", ["json", "tnetstring"])
def test_adapter_passes_non_ascii_head_bytes_unchanged(protocol):
    # Mongrel2 copies the client's bytes into the message: a UTF-8 header value arrives as
    # that UTF-8 (not re-encoded per byte), and bytes that are not UTF-8 stay those bytes.
    p = RequestParser()
    p.receive_data(b"GET /h/caf\xc3\xa9?q=\xc3\xa9 HTTP/1.1\r\nHost: h\r\n"
                   b"X-Name: Jos\xc3\xa9\r\nX-Raw: \xe9\xff\r\n\r\n")
    msg = request_message(UUID, 4, p.next_event(), "/h", "127.0.0.1", protocol)
    assert msg.startswith(f"{UUID} 4 /h/caf\xe9 ".encode("utf-8"))
    if protocol == "json":
        assert b'"x-name":"Jos\xc3\xa9"' in msg and b'"x-raw":"\xe9\xff"' in msg
    else:
        assert b"6:x-name,5:Jos\xc3\xa9," in msg and b"5:x-raw,2:\xe9\xff," in msg
    req = m2wire.parse_request(msg)
    assert req.path == "/h/caf\xe9"
    assert req.headers["x-name"] == "Jos\xe9"
    assert req.headers["x-raw"].encode("utf-8", "surrogateescape") == b"\xe9\xff"
    assert req.headers["URI"] == "/h/caf\xe9?q=\xe9" and req.headers["QUERY"] == "q=\xe9"
