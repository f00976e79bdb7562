"""Watch a BigPipe page arrive: time to first byte, to each pagelet, to the end of the document.

    python examples/bigpipe/timing.py http://127.0.0.1:8080/bigpipe/ [--cookie user=ann]

Reads the raw chunked response (one plain HTTP/1.1 request) and prints one line per event,
in milliseconds from sending the request, for example:

       1.9 ms  first byte (status 200, 1411 bytes in the first read)
      52.6 ms  pagelet nav (ok)
     ...
    2003.1 ms  document closed (6213 bytes)
"""
import argparse
import json
import re
import socket
import time
from urllib.parse import urlsplit

_ARRIVE = re.compile(rb"BigPipe\.(arrive|fail)\((\{.*?\})\)</script>")


def watch(url, cookie=None, timeout=30.0):
    """Yield (seconds, text) events while the page at ``url`` arrives."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    started = time.monotonic()
    with socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        raw, scan, first, body_start = b"", b"", True, None
        while True:
            data = sock.recv(65536)
            now = time.monotonic() - started
            if not data:
                yield now, f"document closed ({len(raw) - (body_start or 0)} bytes)"
                return
            raw += data
            if body_start is None and b"\r\n\r\n" in raw:
                body_start = raw.index(b"\r\n\r\n") + 4
            if first:
                first = False
                status = raw.split(b" ", 2)[1].decode() if b" " in raw else "?"
                yield now, f"first byte (status {status}, {len(data)} bytes in the first read)"
            scan += data                        # a payload may straddle two reads
            end = 0
            for match in _ARRIVE.finditer(scan):
                doc, end = json.loads(match.group(2)), match.end()
                failed = ", the page failed" if match.group(1) == b"fail" else ""
                yield now, f"pagelet {doc['id']} ({doc['status']}{failed})"
            scan = scan[end:]


def main(argv=None):
    parser = argparse.ArgumentParser(description="Time a BigPipe page's arrival.")
    parser.add_argument("url")
    parser.add_argument("--cookie", help='a Cookie header value, e.g. "user=ann"')
    args = parser.parse_args(argv)
    for seconds, text in watch(args.url, args.cookie):
        print(f"{seconds * 1000:8.1f} ms  {text}", flush=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
