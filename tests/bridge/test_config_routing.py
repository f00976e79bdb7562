"""Route specs, the JSON config file, and longest-prefix / Host matching."""
import json

import pytest

from bridge.config import ConfigError, build_parser, from_args, load, parse_route
from bridge.routing import Mongrel2Target, ReqTarget, Route, RouteTable, StaticTarget


def test_parse_routes():
    r = parse_route("/m2/=mongrel2:tcp://127.0.0.1:9997,tcp://127.0.0.1:9996,protocol=tnetstring,timeout=2")
    assert r == Route("/m2/", Mongrel2Target("tcp://127.0.0.1:9997", "tcp://127.0.0.1:9996", "tnetstring", 2.0))
    r = parse_route("/api/=req:tcp://a:1,ipc:///tmp/x,timeout=5")
    assert r.target == ReqTarget(("tcp://a:1", "ipc:///tmp/x"), 5.0)
    assert parse_route("/api/=req:tcp://a:1").target.timeout == 30.0
    assert parse_route("/m2/=mongrel2:tcp://a:1,tcp://a:2").target.timeout is None
    assert parse_route("/s/=static:/srv").target == StaticTarget("/srv")


@pytest.mark.parametrize("text", [
    "api=req:tcp://a:1", "/api/", "/api/=req:", "/api/=req:tcp://a:1,bogus", "/api/=req:tcp://a:1,timeout=x",
    "/api/=req:tcp://a:1,timeout=-1", "/m/=mongrel2:tcp://a:1", "/m/=mongrel2:tcp://a:1,tcp://a:2,protocol=xml",
    "/x/=ftp:thing", "/x/=static:",
])
def test_bad_routes(text):
    with pytest.raises(ConfigError):
        parse_route(text)


def test_longest_prefix_whatever_the_order():
    a, b, c = (Route(p, StaticTarget(p)) for p in ("/api/", "/api/slow/", "/"))
    for order in ([a, b, c], [c, b, a], [b, c, a]):
        table = RouteTable(order)
        assert table.match("h", "/api/slow/x") is b
        assert table.match("h", "/api/x") is a
        assert table.match("h", "/other") is c
    assert RouteTable([a]).match("h", "/nothing") is None


def test_host_matching():
    exact = Route("/", StaticTarget("exact"), "a.example")
    wild = Route("/", StaticTarget("wild"), "*.example")
    deeper = Route("/", StaticTarget("deeper"), "*.b.example")
    default = Route("/", StaticTarget("default"))
    table = RouteTable([exact, wild, deeper, default])
    assert table.match("a.example:8080", "/") is exact
    assert table.match("A.EXAMPLE", "/") is exact
    assert table.match("x.example", "/") is wild
    assert table.match("x.b.example", "/") is deeper
    assert table.match("elsewhere", "/") is default
    assert table.match(None, "/") is default


def test_duplicate_route_refused():
    with pytest.raises(ValueError):
        RouteTable([Route("/a", StaticTarget("x")), Route("/a", StaticTarget("y"))])


def test_config_file_and_flags(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({
        "listen": "127.0.0.1:9000", "uuid": "abc-1", "limits": {"max_body_bytes": 10},
        "routes": ["/a/=req:tcp://h:1", {"prefix": "/b/", "target": "static:/srv", "host": "x.org"}]}))
    config = load(str(path))
    assert config.listen == ("127.0.0.1", 9000) and config.uuid == "abc-1"
    assert config.limits.max_body_bytes == 10 and config.limits.max_header_bytes == 16384
    assert config.routes[1].host == "x.org"
    args = build_parser().parse_args(["--config", str(path), "--listen", "127.0.0.1:1",
                                      "--static", "/s/=/tmp", "--max-header-bytes", "99"])
    merged = from_args(args)
    assert merged.listen == ("127.0.0.1", 1) and merged.limits.max_header_bytes == 99
    assert merged.limits.max_body_bytes == 10 and [r.prefix for r in merged.routes] == ["/a/", "/b/", "/s/"]


@pytest.mark.parametrize("doc", ['{"bogus": 1}', '[]', '{"limits": {"nope": 1}}', '{"routes": [5]}', "{bad json"])
def test_bad_config_files(tmp_path, doc):
    path = tmp_path / "c.json"
    path.write_text(doc)
    with pytest.raises(ConfigError):
        load(str(path))


def test_config_file_operations_keys(tmp_path):
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"tls_cert": str(cert), "admin": "127.0.0.1:9090", "access_log": "-",
                                "access_log_format": "json", "limits": {"ws_compression": False,
                                                                        "ws_max_send_bytes": 10}}))
    config = load(str(path)).check()
    assert (config.tls_cert, config.admin, config.access_log, config.access_log_format) == (
        str(cert), ("127.0.0.1", 9090), "-", "json")
    assert config.limits.ws_compression is False and config.limits.ws_max_send_bytes == 10
    for doc, message in [({"admin": "nowhere"}, "admin 'nowhere'"),
                         ({"access_log_format": "xml"}, "access_log_format"),
                         ({"tls_key": str(cert)}, "tls_key given without tls_cert"),
                         ({"limits": {"ws_compresion": True}}, "limits must be an object with keys")]:
        path.write_text(json.dumps(doc))
        with pytest.raises(ConfigError, match=message):
            load(str(path)).check()


def test_yes_no_limits_on_the_command_line():
    args = build_parser().parse_args(["--ws-compression", "no"])
    assert from_args(args).limits.ws_compression is False
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--ws-compression", "maybe"])
