"""The sans-IO assembler (bridge.bigpipe.assembly): bytes out for results in, no I/O."""
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.bigpipe import runtime
from bridge.bigpipe.assembly import (Assembly, PageletResult, choose_mode, decode_reply, failure,
                                     script_json)
from bridge.bigpipe.page import parse_page

from bigpipekit import payloads

TEMPLATE = ('<!DOCTYPE html><html><head><title>t</title></head><body class="b">\n'
            '<div data-pagelet="nav"></div><main><div id="f" data-pagelet="feed"></div></main>\n'
            '<div data-pagelet="ads"></div>\n</body></html>\n')


def make_page(mode="arrival", required=(), error=None):
    doc = {"template": "t.html", "mode": mode, "pagelets": [
        {"id": pid, "endpoints": ["tcp://127.0.0.1:1"], "fallback": f"<i>{pid} fallback</i>",
         "required": pid in required} for pid in ("nav", "feed", "ads")]}
    if error is not None:
        doc["error"] = error
    return parse_page(doc, TEMPLATE)


def ok(pid, html=None, css=(), js=()):
    return PageletResult(pid, "ok", html if html is not None else f"<b>{pid}</b>", tuple(css), tuple(js))


def test_skeleton_is_the_template_up_to_body_end_with_the_runtime_in_the_head():
    skeleton = Assembly(make_page(), "arrival", "/shop/a b", "q=1&x=<y>").start().decode()
    head, _, body = skeleton.partition("</head>")
    assert head.startswith("<!DOCTYPE html><html><head><title>t</title>")
    assert f'<script src="{runtime.URL}"></script>' in head
    # <noscript> refresh to the same URL with nojs=1, attribute-escaped
    assert ('<noscript><meta http-equiv="refresh" content="0; URL=/shop/a b?q=1&amp;x=&lt;y&gt;&amp;nojs=1">'
            '</noscript>') in head
    assert '<script>BigPipe.start({"mode":"arrival","pagelets":["nav","feed","ads"]})</script>' in head
    assert body.startswith('<body class="b">\n<div data-pagelet="nav"></div><main><div id="f" data-pagelet="feed">'
                           "</div></main>\n")
    assert "</body>" not in skeleton and "BigPipe.arrive" not in skeleton
    assert Assembly(make_page(), "arrival", "/p", "").start().count(b"URL=/p?nojs=1") == 1


def test_arrival_mode_flushes_each_result_as_it_settles():
    a = Assembly(make_page(), "arrival")
    a.start()
    out = a.settle(ok("ads", css=["/a.css"], js=["/a.js"]))
    assert out.startswith(b"<script>BigPipe.arrive(") and out.endswith(b")</script>\n")
    assert payloads(out) == [("arrive", {"id": "ads", "status": "ok", "html": "<b>ads</b>",
                                         "css": ["/a.css"], "js": ["/a.js"]})]
    assert not a.complete and a.outstanding == ["nav", "feed"]
    assert [d["id"] for _, d in payloads(a.settle(failure(a.page.pagelet("nav"), "timeout")))] == ["nav"]
    assert a.settle(ok("nav")) == b""            # settled once only
    last = a.settle(ok("feed"))
    assert payloads(last)[0][1]["html"] == "<b>feed</b>" and a.complete
    assert a.finish() == b"<script>BigPipe.done()</script></body></html>\n"


def test_declared_mode_holds_results_until_earlier_pagelets_settle():
    a = Assembly(make_page(), "declared")
    a.start()
    assert a.settle(ok("ads")) == b""
    assert a.settle(ok("feed")) == b""
    out = a.settle(failure(a.page.pagelet("nav"), "error"))
    assert [(d["id"], d["status"]) for _, d in payloads(out)] == [("nav", "error"), ("feed", "ok"), ("ads", "ok")]
    assert payloads(out)[0][1]["html"] == "<i>nav fallback</i>"


def test_results_settled_before_the_skeleton_come_out_with_it():
    a = Assembly(make_page(), "arrival")
    assert a.settle(failure(a.page.pagelet("feed"), "unavailable")) == b""
    skeleton = a.start()
    assert skeleton.index(b'data-pagelet="ads"') < skeleton.index(b"BigPipe.arrive(")
    assert [(d["id"], d["status"]) for _, d in payloads(skeleton)] == [("feed", "unavailable")]


def test_server_mode_writes_one_document_with_the_same_content():
    a = Assembly(make_page(), "server")
    with pytest.raises(RuntimeError):
        a.start()
    assert a.settle(ok("feed", "<p>hi</p>", css=["/f.css", "/x.css"], js=["/f.js"])) == b""
    assert a.settle(ok("nav", css=["/x.css"], js=["/f.js", "/n.js"])) == b""
    assert a.settle(failure(a.page.pagelet("ads"), "timeout")) == b""
    assert a.complete and a.status == 200
    doc = a.finish().decode()
    assert doc == ('<!DOCTYPE html><html><head><title>t</title>'
                   '<link rel="stylesheet" href="/x.css">\n<link rel="stylesheet" href="/f.css">\n'
                   '</head><body class="b">\n<div data-pagelet="nav" data-pagelet-status="ok"><b>nav</b></div>'
                   '<main><div id="f" data-pagelet="feed" data-pagelet-status="ok"><p>hi</p></div></main>\n'
                   '<div data-pagelet="ads" data-pagelet-status="timeout"><i>ads fallback</i></div>\n'
                   '\n<script src="/f.js"></script>\n<script src="/n.js"></script></body></html>\n')
    assert "BigPipe" not in doc and "noscript" not in doc


@pytest.mark.parametrize("status, code", [("error", 502), ("unavailable", 503), ("timeout", 504)])
def test_required_failure_server_mode_is_an_error_page(status, code):
    a = Assembly(make_page(required=("feed",), error="<h1>Closed</h1>"), "server")
    a.settle(ok("nav"))
    a.settle(failure(a.page.pagelet("feed"), status))
    assert a.complete and a.outstanding == [] and a.status == code
    assert a.finish() == (b'<!DOCTYPE html><html><head><title>t</title></head><body>'
                          b'<div data-bigpipe-error="feed"><h1>Closed</h1></div></body></html>\n')


def test_required_failure_streamed_ends_the_page():
    a = Assembly(make_page(required=("feed",), error="<h1>Closed</h1>"), "declared")
    a.start()
    assert a.settle(ok("ads")) == b""
    out = a.settle(failure(a.page.pagelet("feed"), "timeout"))
    assert payloads(out) == [("fail", {"id": "feed", "status": "timeout", "html": "<h1>Closed</h1>"})]
    assert a.complete and a.outstanding == []
    assert a.settle(ok("nav")) == b""
    assert a.finish().endswith(b"</body></html>\n")
    assert Assembly(make_page(required=("nav",)), "arrival").settle(ok("nav")) == b""


@pytest.mark.parametrize("reply, status, html, css, js", [
    (b'{"status": 200, "body": "<p>x</p>", "css": ["/a.css"], "js": ["/a.js"]}', "ok", "<p>x</p>",
     ("/a.css",), ("/a.js",)),
    (b'{"body": "<p>x</p>"}', "ok", "<p>x</p>", (), ()),
    (b'{"status": 204}', "ok", "", (), ()),
    (b'{"body": "PHA+eDwvcD4=", "body_base64": true}', "ok", "<p>x</p>", (), ()),
    (b'{"status": 500, "body": "boom"}', "error", "<i>feed fallback</i>", (), ()),
    (b'{"status": "200", "body": "x"}', "error", "<i>feed fallback</i>", (), ()),
    (b'{"status": 200, "body": {"html": 1}}', "error", "<i>feed fallback</i>", (), ()),
    (b'{"status": 200, "body": "x", "css": "/a.css"}', "error", "<i>feed fallback</i>", (), ()),
    (b'{"status": 200, "body": "x", "js": [1]}', "error", "<i>feed fallback</i>", (), ()),
    (b'{"body": "!!", "body_base64": true}', "error", "<i>feed fallback</i>", (), ()),
    (b"[1, 2]", "error", "<i>feed fallback</i>", (), ()),
    (b"not json", "error", "<i>feed fallback</i>", (), ()),
    (b"\xff\xfe", "error", "<i>feed fallback</i>", (), ()),
])
def test_decode_reply(reply, status, html, css, js):
    result = decode_reply(make_page().pagelet("feed"), reply)
    assert (result.id, result.status, result.html, result.css, result.js) == ("feed", status, html, css, js)
    assert result.ok == (status == "ok") and (result.reason != "") == (status != "ok")


@pytest.mark.parametrize("query, mode", [("", "declared"), ("nojs=1", "server"), ("a=1&nojs=true", "server"),
                                         ("nojs", "server"), ("nojs=0", "declared"), ("xnojs=1", "declared")])
def test_choose_mode(query, mode):
    assert choose_mode(make_page("declared"), query) == mode
    assert choose_mode(make_page("server"), query) == "server"


@given(st.text())
def test_script_json_cannot_leave_the_script_element(text):
    # Inside <script>, the HTML parser only looks for "</script" (and "<!--" changes its state):
    # neither may appear, nor may U+2028/2029 (line terminators in older JavaScript).
    encoded = script_json({"html": text})
    assert not any(c in encoded for c in "<>&\u2028\u2029")
    assert json.loads(encoded) == {"html": text}


@given(st.text(), st.lists(st.text(min_size=1), max_size=3))
def test_a_pagelet_payload_is_one_script_element(html, css):
    a = Assembly(make_page(), "arrival")
    a.start()
    out = a.settle(PageletResult("nav", "ok", html, tuple(css))).decode()
    assert re.fullmatch(r"<script>BigPipe\.arrive\([^<]*\)</script>\n", out)
    assert payloads(out.encode())[0][1] == {"id": "nav", "status": "ok", "html": html, "css": css, "js": []}
