"""Mongrel2 file uploads (upload_store=): x-mongrel2-upload-start, then -done, as
Mongrel2's upload.temp_store does them, for a pyzmq handler in the style of Mongrel2's
examples/http_0mq/upload.py (it checks that start and done name the same file, reads it and
answers with its digest). Bodies up to upload_threshold stay inline."""
import hashlib
import json
import os
import stat
import time

import pytest

from httpkit import BridgeProcess, Client, PyzmqHandlerThread, fetch


class UploadHandler(PyzmqHandlerThread):
    def __init__(self, *args):
        self.seen = []                    # (headers, body) of every request message
        super().__init__(*args)

    def handle(self, raw):
        sender, conn_id, path, rest = raw.split(b" ", 3)
        size, rest = rest.split(b":", 1)
        headers = json.loads(rest[:int(size)])
        body_size, rest = rest[int(size) + 1:].split(b":", 1)
        body = rest[:int(body_size)]
        if path == b"@*":
            return
        self.seen.append((headers, body))
        start, done = headers.get("x-mongrel2-upload-start"), headers.get("x-mongrel2-upload-done")
        if start and not done:
            return                         # wait for the done message
        if done:
            assert start == done
            with open(done, "rb") as f:
                body = f.read()
            mode = stat.S_IMODE(os.stat(done).st_mode)
            os.unlink(done)
            answer = b"file %s %o" % (hashlib.md5(body).hexdigest().encode(), mode)
        else:
            answer = b"inline %s" % hashlib.md5(body).hexdigest().encode()
        self.reply(sender, conn_id,
                   b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer))


def _post_until_answered(port, path, body, deadline=15.0, headers=(), raw_body=None):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            if raw_body is None:
                r = fetch(port, "POST", path, body=body, timeout=1.0)
            else:                                   # a body already framed (chunked)
                with Client(port, timeout=1.0) as c:
                    c.request("POST", path, headers=headers)
                    c.send_raw(raw_body)
                    r = c.response("POST")
        except OSError:
            continue
        if r.status == 200:
            return r
    raise AssertionError(f"{path}: no 200 within {deadline}s")


def test_upload_store_sends_start_and_done(pyzmq, zctx, processes, tmp_path):
    store = tmp_path / "uploads"
    store.mkdir()
    bridge = processes.start(BridgeProcess(
        "--route", f"/up/=mongrel2:tcp://127.0.0.1:*,tcp://127.0.0.1:*,"
                   f"upload_store={store}/upload.XXXXXX,upload_threshold=1000"))
    route = bridge.route("/up/")
    handler = UploadHandler(pyzmq, zctx, route["send"], route["recv"])
    try:
        small = b"s" * 1000                                     # at the threshold: inline
        r = _post_until_answered(bridge.port, "/up/small", small)
        assert r.body == b"inline " + hashlib.md5(small).hexdigest().encode()
        big = bytes(range(256)) * 40                            # 10240 bytes: a file upload
        handler.seen.clear()
        r = _post_until_answered(bridge.port, "/up/big", big)
        assert r.body == b"file %s 600" % hashlib.md5(big).hexdigest().encode()
        (h1, b1), (h2, b2) = handler.seen[:2]
        assert b1 == b2 == b""
        path = h1["x-mongrel2-upload-start"]
        assert os.path.dirname(path) == str(store) and os.path.basename(path).startswith("upload.")
        assert "x-mongrel2-upload-done" not in h1
        assert h2["x-mongrel2-upload-start"] == h2["x-mongrel2-upload-done"] == path
        assert h1["content-length"] == h2["content-length"] == str(len(big))
        keys = list(h2)                # Mongrel2's own lower-case headers before METHOD
        assert keys.index("x-mongrel2-upload-done") < keys.index("METHOD")
        assert os.listdir(store) == []                          # the handler deleted it
        # A chunked body takes the upload path whatever its size (Mongrel2 1.12 does the same).
        handler.seen.clear()
        r = _post_until_answered(bridge.port, "/up/chunked", b"", headers=[("Transfer-Encoding", "chunked")],
                                 raw_body=b"5\r\nhello\r\n0\r\n\r\n")
        assert r.body == b"file %s 600" % hashlib.md5(b"hello").hexdigest().encode()
        done = handler.seen[1][0]
        assert "x-mongrel2-upload-done" in done
        # Mongrel2's examples/http_0mq/upload.py reads req.headers['content-length'] from the
        # done message; a chunked upload has none of its own, so the stored length is given.
        assert done["content-length"] == "5" and "content-length" not in handler.seen[0][0]
    finally:
        handler.close()


def test_upload_options_parse():
    from bridge.config import ConfigError, parse_target

    target = parse_target("mongrel2:tcp://a:1,tcp://a:2")
    assert target.upload_store is None and target.upload_threshold == 20480
    target = parse_target("mongrel2:tcp://a:1,tcp://a:2,upload_store=/tmp/u.XXXXXX,upload_threshold=5")
    assert (target.upload_store, target.upload_threshold) == ("/tmp/u.XXXXXX", 5)
    with pytest.raises(ConfigError):
        parse_target("mongrel2:tcp://a:1,tcp://a:2,upload_threshold=lots")
