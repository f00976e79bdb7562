"""What every reliability scenario measures, and the table the runner prints.

A scenario fills one Row per thing it tried (a fuzz target, an attack, a fault): inputs tried,
faults injected, messages sent/received/lost/duplicated, resident memory and open descriptors
of the process under test before, at peak and after, and every unexpected error. Probes read
/proc (Linux only), so they work for this process and for a child (the bridge) alike.

``ErrorWatch`` turns what a test cannot see directly into errors: records at ERROR or above on
the ``gzmq`` and ``bridge`` loggers (the engine logs internal errors there with
``log.exception``; a misbehaving peer is only a WARNING) and exceptions that reach the gevent
hub from any greenlet.

Invariants, checked by ``Row.problems()`` (the runner prints them, tests/reliability asserts
there are none): no unexpected error, nothing lost or duplicated where the pattern promises
delivery, descriptors back to their baseline, memory back within ``RSS_SLACK_MB`` of it.
"""
import ctypes
import gc
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field

import gevent

# Allocator retention, import caches and gevent's own pools make RSS after a burst sit a little
# above its baseline even with nothing leaked; a leak of the kind we look for (a session, its
# buffers or greenlets per connection) over 1 000 connections is far above this.
RSS_SLACK_MB = 24.0

_libc = None


def _malloc_trim():
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL("libc.so.6")
        _libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _status(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0   # kB -> MB
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def rss_mb(pid="self"):
    """Resident set size of `pid` in MiB."""
    return _status(pid, "VmRSS")


def peak_rss_mb(pid="self"):
    """Peak resident set size since the last reset_peak() (or process start), in MiB."""
    return _status(pid, "VmHWM")


def reset_peak(pid="self"):
    """Start a new peak-RSS window (Linux clear_refs 5; ignored where not permitted)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def open_fds(pid="self"):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def settle(pid="self"):
    """Let closing greenlets finish and hand freed memory back before measuring."""
    if pid == "self":
        for _ in range(3):
            gevent.sleep(0.05)
        gc.collect()
        _malloc_trim()


def live_greenlets():
    from greenlet import greenlet
    return sum(1 for obj in gc.get_objects() if isinstance(obj, greenlet) and not obj.dead)


@dataclass
class Row:
    name: str
    mode: str = "short"
    seconds: float = 0.0
    inputs: int = 0            # inputs tried (fuzz cases, attack connections, requests...)
    faults: int = 0            # faults injected (kills, cuts, drops, hostile connections)
    sent: int = 0
    received: int = 0
    lost: int = 0
    duplicates: int = 0
    delivery: bool = False     # the pattern promises delivery: lost/duplicates must be 0
    rss_base: float = 0.0
    rss_peak: float = 0.0
    rss_end: float = 0.0
    fds_base: int = 0
    fds_end: int = 0
    errors: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    rss_slack: float = RSS_SLACK_MB

    def error(self, text):
        if len(self.errors) < 50:
            self.errors.append(str(text)[:500])
        elif len(self.errors) == 50:
            self.errors.append("... more errors not kept")

    def note(self, text):
        self.notes.append(str(text))

    def check(self, ok, text):
        """Record `text` as an error unless `ok`."""
        if not ok:
            self.error(text)
        return ok

    def problems(self):
        """Broken invariants, as sentences (empty when the row passes)."""
        out = list(self.errors)
        if self.delivery and self.lost:
            out.append(f"{self.lost} messages lost where the pattern promises delivery")
        if self.delivery and self.duplicates:
            out.append(f"{self.duplicates} messages delivered twice")
        if self.fds_end > self.fds_base >= 0:
            out.append(f"open descriptors {self.fds_base} -> {self.fds_end}")
        if self.rss_end - self.rss_base > self.rss_slack:
            out.append(f"RSS {self.rss_base:.1f} -> {self.rss_end:.1f} MiB (slack {self.rss_slack:g})")
        return out

    def as_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, data):
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class Measure:
    """``with Measure(row, pid):`` fills the row's time, RSS and fd columns around a block.

    The end values are taken after settle() (greenlets finished, garbage collected, free heap
    trimmed). ``pid`` is the process under test ("self", or the bridge's pid).
    """

    def __init__(self, row, pid="self"):
        self.row = row
        self.pid = pid
        self.t0 = 0.0

    def __enter__(self):
        settle(self.pid)
        self.row.rss_base = rss_mb(self.pid)
        self.row.fds_base = open_fds(self.pid)
        reset_peak(self.pid)
        self.t0 = time.monotonic()
        return self.row

    def sample_peak(self):
        self.row.rss_peak = max(self.row.rss_peak, peak_rss_mb(self.pid), rss_mb(self.pid))

    def __exit__(self, etype, exc, tb):
        self.row.seconds = round(time.monotonic() - self.t0, 1)
        self.sample_peak()
        settle(self.pid)
        # Descriptors and memory of a closing connection go a moment after the peer sees EOF.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and open_fds(self.pid) > self.row.fds_base:
            gevent.sleep(0.05)
        self.row.rss_end = rss_mb(self.pid)
        self.row.fds_end = open_fds(self.pid)
        if exc is not None and not isinstance(exc, gevent.GreenletExit):
            self.row.error(f"scenario raised {exc!r}")
            logging.getLogger("reliability").exception("%s raised", self.row.name)
            return True   # the row carries the error; the runner goes on with the next
        return False


class _CountingHandler(logging.Handler):
    def __init__(self, watch):
        super().__init__(logging.ERROR)
        self.watch = watch

    def emit(self, record):
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is itself worth reporting
            text = repr(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            text += f": {record.exc_info[1]!r}"
        self.watch.errors.append(f"{record.name}: {text}")


class ErrorWatch:
    """Collects ERROR log records (gzmq, bridge) and exceptions that reach the gevent hub."""

    LOGGERS = ("gzmq", "bridge")

    def __init__(self):
        self.errors = []
        self._handler = _CountingHandler(self)
        self._hub = None
        self._orig = None

    def __enter__(self):
        for name in self.LOGGERS:
            logging.getLogger(name).addHandler(self._handler)
        hub = self._hub = gevent.get_hub()
        self._orig = hub.handle_error

        def handle_error(context, etype, value, tb):
            if not issubclass(etype, (gevent.GreenletExit, KeyboardInterrupt, SystemExit)):
                self.errors.append(f"exception in greenlet {context!r}: {etype.__name__}: {value}")
            return self._orig(context, etype, value, tb)

        hub.handle_error = handle_error
        return self

    def __exit__(self, *exc):
        for name in self.LOGGERS:
            logging.getLogger(name).removeHandler(self._handler)
        if self._hub is not None:
            self._hub.handle_error = self._orig

    def drain_into(self, row):
        for text in self.errors:
            row.error(text)
        self.errors = []


# -- the table -----------------------------------------------------------------------------
COLUMNS = [
    ("scenario", "name", "<"), ("s", "seconds", ">"), ("inputs", "inputs", ">"),
    ("faults", "faults", ">"), ("sent", "sent", ">"), ("recv", "received", ">"),
    ("lost", "lost", ">"), ("dup", "duplicates", ">"),
]


def _fmt_int(n):
    return f"{n:,}".replace(",", " ") if isinstance(n, int) else str(n)


def table(rows):
    """The runner's table (plain text, fixed width), one line per row plus a verdict column."""
    header = [c[0] for c in COLUMNS] + ["RSS MiB base/peak/end", "fds base/end", "errors", "ok"]
    lines = []
    for row in rows:
        cells = []
        for _, attr, _ in COLUMNS:
            value = getattr(row, attr)
            if attr == "seconds":
                cells.append(f"{value:.0f}")
            elif attr in ("lost", "duplicates") and not row.delivery:
                cells.append(f"({_fmt_int(value)})")   # no delivery promise: for information
            else:
                cells.append(_fmt_int(value))
        cells.append(f"{row.rss_base:.0f}/{row.rss_peak:.0f}/{row.rss_end:.0f}")
        cells.append(f"{row.fds_base}/{row.fds_end}")
        cells.append(str(len(row.errors)))
        cells.append("ok" if not row.problems() else "FAIL")
        lines.append(cells)
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h)
              for i, h in enumerate(header)]
    aligns = [c[2] for c in COLUMNS] + [">", ">", ">", "<"]

    def render(cells):
        return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, aligns, widths)).rstrip()

    out = [render(header), render(["-" * w for w in widths])]
    out.extend(render(line) for line in lines)
    return "\n".join(out)


def details(rows):
    """Notes and problems per row, for under the table."""
    out = []
    for row in rows:
        problems = row.problems()
        if not row.notes and not problems:
            continue
        out.append(f"{row.name}:")
        out.extend(f"    {n}" for n in row.notes)
        out.extend(f"  ! {p}" for p in problems)
    return "\n".join(out)


def dump(rows, path):
    with open(path, "w") as f:
        json.dump([r.as_dict() for r in rows], f, indent=1)


def load(path):
    with open(path) as f:
        return [Row.from_dict(d) for d in json.load(f)]
