"""The Autobahn WebSocket testsuite's fuzzingclient against the bridge's WebSocket layer.

Peer: ``wstest`` from autobahntestsuite, installed into pyenv's Python 2.7 by tools/wstest.sh
(``make peers``); missing, the test fails. Server: tests/bridge_ws/peers/ws_echo.py, an echo on
the same handshake, permessage-deflate negotiation, session and outbox every WebSocket route
uses. The cases: every one of 1-7 (framing, pings, reserved bits and opcodes, fragmentation,
UTF-8, the close handshake) and 10, and the permessage-deflate cases 12.x and 13.x (every
offer variant) up to payloads of 4 KiB each (sub-cases 1-6; the larger ones add only
payload size, and about ten minutes). 9.x, the performance cases, are left to `make bench`.
Passed: every case OK, NON-STRICT (a fail-fast corner: invalid UTF-8 noticed once its frame
is complete rather than at the byte) or INFORMATIONAL; no case FAILED or UNIMPLEMENTED.
"""
import json
import os
import subprocess

import pytest

from httpkit import Process, python
from wskit import HERE, REPO

pytestmark = pytest.mark.slow

CASES = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "10.*"] + [
    f"{group}.{variant}.{sub}" for group, variants in (("12", 5), ("13", 7))
    for variant in range(1, variants + 1) for sub in range(1, 7)]
PASSED = {"OK", "NON-STRICT", "INFORMATIONAL"}


def _wstest():
    result = subprocess.run(["sh", os.path.join(REPO, "tools", "wstest.sh"), "--path"],
                            capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        pytest.fail("real peer wstest (autobahntestsuite on Python 2.7) is missing: run `make peers`")
    return result.stdout.strip()


# The fuzzingclient takes about a minute on a quiet machine and longer on a busy one; its own
# subprocess timeout (900 s) bounds it, not the suite's 120 s default (which, with the thread
# method, ends the whole pytest run).
@pytest.mark.timeout(900)
def test_fuzzingclient(tmp_path):
    wstest = _wstest()
    server = Process(python(os.path.join(HERE, "peers", "ws_echo.py"), "--max-message-bytes", str(1 << 24)))
    try:
        line = server.readline(timeout=20)
        assert line.startswith("ready "), line
        port = int(line.split()[1])
        spec = {"outdir": str(tmp_path / "report"), "cases": CASES, "exclude-cases": [],
                "exclude-agent-cases": {},
                "servers": [{"agent": "bridge", "url": f"ws://127.0.0.1:{port}",
                             "options": {"version": 18}}]}
        (tmp_path / "fuzzingclient.json").write_text(json.dumps(spec))
        run = subprocess.run([wstest, "-m", "fuzzingclient", "-s", "fuzzingclient.json"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=840)
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    finally:
        server.stop()
    results = json.loads((tmp_path / "report" / "index.json").read_text())["bridge"]
    counts = {}
    for case in results.values():
        counts[case["behavior"]] = counts.get(case["behavior"], 0) + 1
    print(f"autobahn fuzzingclient: {len(results)} cases: {counts}")
    assert len(results) >= 300, f"only {len(results)} cases ran"
    bad = {cid: (r["behavior"], r["behaviorClose"]) for cid, r in results.items()
           if r["behavior"] not in PASSED or r["behaviorClose"] not in ("OK", "INFORMATIONAL")}
    assert not bad, f"Autobahn cases not passed: {bad}"
