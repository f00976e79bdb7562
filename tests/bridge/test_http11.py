"""bridge.http11 bytes in, events out. Each case is fed whole, one byte at a time, and with
trailing bytes (h11's tr() idea)."""
import pytest
from hypothesis import given, strategies as st

from bridge.http11 import HTTPError, RequestParser, ResponseTracker, response_head


def feed(data, split="whole", **limits):
    """Feed ``data`` and return the first Request (or raise HTTPError)."""
    p = RequestParser(**limits)
    pieces = [data] if split == "whole" else [data[i:i + 1] for i in range(len(data))]
    for piece in pieces:
        p.receive_data(piece)
        req = p.next_event()
        if req is not None:
            return req, p
    return None, p


def tr(data, **limits):
    """Run a case three ways and check they agree; returns the request."""
    whole, _ = feed(data, **limits)
    bytewise, _ = feed(data, "bytes", **limits)
    trailing, p = feed(data + b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n", **limits)
    assert whole == bytewise == trailing
    assert p.next_event().target == "/next"        # the pipelined request is intact
    return whole


def test_simple_get():
    req = tr(b"GET /a/b?x=1&y=2#frag HTTP/1.1\r\nHost: example\r\nX-A: 1\r\nx-a:  2 \r\n\r\n")
    assert (req.method, req.path, req.query, req.fragment) == ("GET", "/a/b", "x=1&y=2", "frag")
    assert req.headers == [("host", "example"), ("x-a", "1"), ("x-a", "2")]
    assert req.keep_alive and req.body == b""


def test_content_length_body():
    req = tr(b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world")
    assert req.body == b"hello world"


def test_chunked_body_with_extensions_and_trailers():
    req = tr(b"POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
    assert req.body == b"hello world"


def test_leading_empty_lines_ignored():
    assert tr(b"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n").target == "/"


@pytest.mark.parametrize("head, keep", [
    (b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", True),
    (b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", False),
    (b"GET / HTTP/1.0\r\n\r\n", False),
    (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", True),
])
def test_keep_alive(head, keep):
    assert tr(head).keep_alive is keep


@pytest.mark.parametrize("data, status", [
    (b"GET / HTTP/1.1\r\nHost: h\r\nX: " + b"a" * 20000 + b"\r\n\r\n", 431),
    (b"GET / HTTP/1.1\r\nHost: h\r\nX: " + b"a" * 20000, 431),                 # before the end
    (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9000000\r\n\r\n", 413),
    (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n800001\r\n", 413),
    (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX", 400),
    (b"GET / HTTP/1.1\r\n\r\n", 400),                                           # no Host
    (b"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
    (b"GET /\r\n\r\n", 400),
    (b"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400),
    (b"GET /\x01 HTTP/1.1\r\nHost: h\r\n\r\n", 400),
])
def test_errors(data, status):
    for split in ("whole", "bytes"):
        with pytest.raises(HTTPError) as info:
            feed(data, split)
        assert info.value.status == status


def test_expect_continue_flag():
    p = RequestParser()
    p.receive_data(b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
    assert p.next_event() is None and p.expect_continue
    p.receive_data(b"ok")
    assert p.next_event().body == b"ok" and not p.expect_continue


def test_in_progress_states():
    p = RequestParser()
    assert not p.in_progress
    p.receive_data(b"\r\n")
    assert not p.in_progress
    p.receive_data(b"GE")
    assert p.next_event() is None and p.in_progress and not p.in_body
    p.receive_data(b"T / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nab")
    assert p.next_event() is None and p.in_body


@given(st.binary(max_size=300))
def test_parser_raises_only_http_error(data):
    p = RequestParser(max_header_bytes=200, max_body_bytes=100)
    p.receive_data(data)
    try:
        while p.next_event() is not None:
            pass
    except HTTPError:
        pass


@given(st.binary(max_size=200), st.lists(st.integers(1, 40), max_size=10))
def test_body_split_anywhere(body, cuts):
    wire = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    p, got, i = RequestParser(), None, 0
    for n in cuts + [len(wire)]:
        p.receive_data(wire[i:i + n])
        i += n
        got = got or p.next_event()
    assert got.body == body


# ---------------------------------------------------------------- ResponseTracker


def track(data, head=False, split=False):
    t = ResponseTracker(head_request=head)
    done = False
    pieces = [data[i:i + 1] for i in range(len(data))] if split else [data]
    for piece in pieces:
        done = t.feed(piece)
    return t, done


@pytest.mark.parametrize("split", [False, True])
def test_tracker_content_length(split):
    t, done = track(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", split=split)
    assert done and t.status == 200 and t.keep_alive
    t, done = track(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", split=split)
    assert not done


@pytest.mark.parametrize("split", [False, True])
def test_tracker_chunked(split):
    wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    assert track(wire, split=split)[1]
    assert not track(wire[:-2], split=split)[1]


def test_tracker_other_cases():
    assert track(b"HTTP/1.1 204 No Content\r\n\r\n")[1]
    assert track(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", head=True)[1]
    t, done = track(b"HTTP/1.1 200 OK\r\n\r\nbody until close")
    assert not done and t.until_close
    t, done = track(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert done and t.status == 200
    t, done = track(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    assert done and not t.keep_alive
    t, done = track(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
    assert not done and t.upgraded
    t, done = track(b"\x81\x02hi")
    assert not done and t.until_close


def test_response_head():
    assert response_head(404, [("A", "b")]) == b"HTTP/1.1 404 Not Found\r\nA: b\r\n\r\n"


def test_absolute_form_target_is_accepted_and_its_authority_is_the_host():
    # RFC 9112 3.2.2: servers MUST accept the absolute-form; the Host header is then ignored.
    p = RequestParser()
    p.receive_data(b"GET http://Example.com:8080/a/b?x=1 HTTP/1.1\r\nHost: other\r\n\r\n")
    req = p.next_event()
    assert (req.path, req.query, req.target) == ("/a/b", "x=1", "/a/b?x=1")
    assert req.header("host") == "Example.com:8080" and [k for k, _ in req.headers].count("host") == 1
    p = RequestParser()
    p.receive_data(b"GET https://h HTTP/1.1\r\nHost: h\r\n\r\n")
    assert p.next_event().path == "/"


@pytest.mark.parametrize("target", [b"http:///x", b"http://user@h/x"])
def test_absolute_form_without_a_usable_authority_is_400(target):
    p = RequestParser()
    p.receive_data(b"GET " + target + b" HTTP/1.1\r\nHost: h\r\n\r\n")
    with pytest.raises(HTTPError) as e:
        p.next_event()
    assert e.value.status == 400


@pytest.mark.parametrize("expect", [b"whatever", b"100-continue, x-more"])
def test_unknown_expectation_is_417(expect):
    # RFC 9110 10.1.1: only 100-continue is defined.
    p = RequestParser()
    p.receive_data(b"POST / HTTP/1.1\r\nHost: h\r\nExpect: " + expect + b"\r\nContent-Length: 2\r\n\r\nok")
    with pytest.raises(HTTPError) as e:
        p.next_event()
    assert e.value.status == 417


def test_whole_response_framing():
    from bridge.http11 import Request, whole_response
    get10 = Request("GET", "/", "HTTP/1.0", [])
    assert whole_response(get10, 200, b"hi", [("Date", "d")], True) == (
        b"HTTP/1.1 200 OK\r\nDate: d\r\nContent-Length: 2\r\nConnection: keep-alive\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nhi")
    head = Request("HEAD", "/", "HTTP/1.1", [("host", "h")])
    assert whole_response(head, 200, b"hi", [], False).endswith(b"Connection: close\r\n"
                                                               b"Content-Type: text/plain; charset=utf-8\r\n\r\n")
    assert whole_response(None, 400, b"bad", [], False).endswith(b"\r\n\r\nbad")


def test_wsgi_framing_single_send_chunked_and_http10():
    from bridge.front.wsgi import frame_response
    from bridge.http11 import Request
    get = Request("GET", "/", "HTTP/1.1", [("host", "h")])
    keep, pieces = frame_response(get, 200, [("X", "1")], iter([b"ab", b"cd"]), "d", single_send=10)
    assert keep and list(pieces) == [b"HTTP/1.1 200 OK\r\nDate: d\r\nX: 1\r\nContent-Length: 4\r\n\r\nabcd"]
    big = iter([b"x" * 8, b"y" * 8, b"z" * 3])       # past single_send: chunked, lazily
    keep, pieces = frame_response(get, 200, [("Transfer-Encoding", "gzip")], big, "d", single_send=10)
    first = next(pieces)
    assert first.endswith(b"Transfer-Encoding: chunked\r\n\r\n10\r\nxxxxxxxxyyyyyyyy\r\n") and b"gzip" not in first
    assert next(big) == b"z" * 3 and list(pieces) == [b"0\r\n\r\n"]   # the rest was not read ahead
    get10 = Request("GET", "/", "HTTP/1.0", [])
    keep, pieces = frame_response(get10, 200, [], iter([b"x" * 20, b"y"]), "d", single_send=10)
    assert not keep and b"".join(pieces).endswith(b"Connection: close\r\n\r\n" + b"x" * 20 + b"y")
