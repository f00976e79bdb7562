"""The reliability suite's short form (python -m reliability.run --short), one test per group.

Each group runs in its own process, as the runner runs it, and every row of its table must
keep the suite's invariants (reliability.report.Row.problems): no unexpected exception or
engine error, nothing lost or duplicated where the pattern promises delivery, descriptors
and memory back to their baseline. The assertion message is the group's table.
"""
import os
import subprocess
import sys

import pytest

from reliability import report
from reliability.run import GROUPS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.mark.parametrize("group", list(GROUPS))
def test_group_short_form(group, tmp_path):
    if group == "net":
        from reliability.netfaults import missing_tools
        assert not missing_tools(), f"net group needs {missing_tools()}: run as root with iproute2 and nftables"
    if group == "bridge":
        import shutil
        assert shutil.which("wrk"), "bridge group needs wrk (Debian package wrk): run `make peers`"
    out = tmp_path / "rows.json"
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-m", "reliability.run", "--short", "--only", group,
                           "--json", str(out), "--out", str(tmp_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=GROUPS[group][1] + 60)
    assert out.exists(), f"no rows from {group}: {proc.stdout[-3000:]} {proc.stderr[-3000:]}"
    rows = report.load(out)
    assert rows, f"{group} produced no rows: {proc.stdout[-3000:]}"
    failing = {r.name: r.problems() for r in rows if r.problems()}
    assert not failing, "\n" + report.table(rows) + "\n" + report.details(rows)
    assert proc.returncode == 0, proc.stdout[-3000:]
