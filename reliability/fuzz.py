"""ZMTP fuzzing: the sans-IO codec and the whole engine, coverage-guided with atheris.

    python -m reliability.fuzz codec  [libFuzzer flags] [CORPUS_DIR ...]
    python -m reliability.fuzz engine [libFuzzer flags] [CORPUS_DIR ...]

With atheris installed (``pip install atheris``; wheels exist for CPython 3.8-3.11 on
x86-64 Linux) gzmq is instrumented and libFuzzer drives the oracles: ``codec`` runs
reliability.zmtp_cases.check_codec (only ZMTPError may escape; whole and cut feeds must agree),
``engine`` feeds the same inputs to live sockets through raw TCP connections
(reliability.engine_fuzz). A foreign exception, a disagreement, a connection gzmq keeps open
(Hang) or an engine internal error stops the run and leaves the input as crash-* in the
artifact directory. Without atheris the same oracles run under Hypothesis (codec) or a
mutation loop over the corpus (engine), for the same time budget.

``run_group(mode)`` is the runner's entry: it starts each fuzzer in a child process with a
time budget, seeds it with reliability/corpus/<target>/ plus well-formed streams generated
here, and reports one Row per target. ``--update-corpus`` (runner) merges what a run found
into reliability/corpus/ with libFuzzer's -merge=1, which keeps only inputs that add coverage.
"""
import glob
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

from .report import Row

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
# Seconds per target: (coverage-guided phase, uninstrumented mutation phase over its corpus).
BUDGET = {"short": {"codec": (6, 5), "engine": (5, 4)},
          "long": {"codec": (120, 300), "engine": (60, 90)}}
MAX_LEN = 4096


def has_atheris():
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


# -- seeds: well-formed streams for every socket type ------------------------------------------
def seeds():
    """A few hundred small inputs that reach every branch of a normal conversation."""
    from gzmq.zmtp import commands
    from gzmq.zmtp.frames import encode_message
    from . import zmtp_cases as zc

    def frames(msgs):
        out = []
        for msg in msgs:
            encode_message(msg, out)
        return b"".join(bytes(c) for c in out)

    payloads = [
        b"",
        frames([[b"hello"]]),
        frames([[b"a", b"", b"c"], [b"x" * 300]]),
        frames([[b"\x01topic"], [b"\x00topic"]]),
        commands.command(commands.SUBSCRIBE, b"top") + commands.command(commands.CANCEL, b"top"),
        commands.command(commands.PING, b"\x00\x0aping-context") + commands.command(commands.PONG, b"c"),
        commands.command(commands.ERROR, b"\x05nope!"),
        commands.command(b"UNKNOWN", b"data"),
        frames([[b"identity", b"", b"request"]]),
        b"\x02" + (1 << 40).to_bytes(8, "big") + b"zzzz",
        b"\x01\x03abc" * 20 + b"\x00\x00",
    ]
    out = []
    for type_index in range(len(zc.SOCKET_TYPES)):
        for prefix in (0, 1, 2):
            for mech in (0, 1, 2, 3, 4, 5, 6):
                if mech and type_index != 6 and prefix != 2:
                    continue
                for i, payload in enumerate(payloads):
                    b0 = type_index | (prefix << 4) | ((i % 4) << 6)
                    out.append(bytes((b0, mech, i * 37 % 256)) + payload)
    return out


def _write_seeds(directory):
    os.makedirs(directory, exist_ok=True)
    for i, data in enumerate(seeds()):
        with open(os.path.join(directory, f"seed-{i:04d}"), "wb") as f:
            f.write(data)


# -- the fuzzer processes -----------------------------------------------------------------
def _stats_path():
    return os.environ.get("RELIABILITY_FUZZ_STATS")


def _write_stats(stats):
    path = _stats_path()
    if path:
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(stats, f)
        os.replace(tmp, path)


def _codec_main(argv):
    import atheris
    with atheris.instrument_imports(include=["gzmq.zmtp", "reliability.zmtp_cases"]):
        from . import zmtp_cases
    atheris.Setup(argv, zmtp_cases.check_codec)
    atheris.Fuzz()


def _engine_main(argv):
    import atheris
    with atheris.instrument_imports(include=["gzmq", "reliability.zmtp_cases"]):
        import gzmq  # noqa: F401
        from . import zmtp_cases  # noqa: F401
    from .engine_fuzz import EngineTarget, ErrorWatch
    target = EngineTarget()
    watch = ErrorWatch().__enter__()
    from .report import rss_mb
    stats = {"inputs": 0, "messages": 0, "checks": 0, "baseline_fds": target.baseline_fds}

    def one(data):
        target.feed(data)          # Hang propagates: libFuzzer keeps the input
        if watch.errors:
            raise AssertionError("engine error: " + "; ".join(watch.errors[:3]))
        if target.inputs % 500 == 0:
            problems = target.check()
            if problems:
                raise AssertionError("health check: " + "; ".join(problems))
            stats.update(inputs=target.inputs, messages=target.messages, checks=target.honest_rounds,
                         rss_mb=rss_mb(), fds=_fds())
            _write_stats(stats)

    def _fds():
        from .report import open_fds
        return open_fds()

    atheris.Setup(argv, one)
    atheris.Fuzz()


# -- fallbacks without atheris --------------------------------------------------------------
def mutate(data, rng):
    """A small byte-level mutation (flip, insert, delete, duplicate, interesting size)."""
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        pos = rng.randrange(len(data) + 1)
        if op == 0 and data:
            data[pos % len(data)] ^= 1 << rng.randrange(8)
        elif op == 1:
            data[pos:pos] = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 8)))
        elif op == 2 and data:
            del data[pos:pos + rng.randint(1, 8)]
        elif op == 3 and data:
            end = min(len(data), pos + rng.randint(1, 64))
            data[pos:pos] = data[pos:end]
        elif op == 4:
            data[pos:pos] = rng.choice([b"\xff", b"\x7f", b"\x00" * 8, b"\x02\xff\xff\xff\xff\xff\xff\xff\xff",
                                        b"\x04\x05READY", b"\x01\x00", b"\x03", b"\x06"])
        elif op == 5 and len(data) > 3:
            data[rng.randrange(3)] = rng.getrandbits(8)
    return bytes(data[:MAX_LEN])


def _fallback_inputs(corpus, rng, deadline):
    pool = list(corpus) or [b""]
    while time.monotonic() < deadline:
        yield mutate(rng.choice(pool), rng)


def _fallback_main(target, seconds, corpus_dirs):
    """No atheris: a Hypothesis run over the codec oracle (the engine gets the mutation loop)."""
    if target != "codec":
        return _fast_main(target, seconds, corpus_dirs)
    from hypothesis import HealthCheck, given, settings, strategies as st
    from . import zmtp_cases
    corpus = []
    for d in corpus_dirs:
        for path in sorted(glob.glob(os.path.join(d, "*"))):
            with open(path, "rb") as f:
                corpus.append(f.read())
    corpus = corpus or seeds()
    deadline = time.monotonic() + seconds
    count = 0
    errors = []

    @settings(max_examples=5000, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.one_of(st.binary(max_size=512),
                     st.builds(lambda i, s: mutate(corpus[i % len(corpus)], random.Random(s)),
                               st.integers(0, 10 ** 6), st.integers(0, 2 ** 32))))
    def prop(data):
        nonlocal count
        count += 1
        zmtp_cases.check_codec(data)

    while time.monotonic() < deadline and not errors:
        try:
            prop()
        except Exception as exc:  # noqa: BLE001 - the finding itself (Hypothesis shrank it)
            errors.append(repr(exc)[:1000])
    _write_stats({"inputs": count, "errors": errors})
    return 1 if errors else 0


def _fast_main(target, seconds, corpus_dirs):
    """Uninstrumented mutation loop over the corpus: the same oracle, several times faster
    than under atheris's instrumentation (which has already found the interesting inputs)."""
    corpus = []
    for d in corpus_dirs:
        for path in sorted(glob.glob(os.path.join(d, "*"))):
            with open(path, "rb") as f:
                corpus.append(f.read())
    corpus = corpus or seeds()
    rng = random.Random(int(time.time()))
    deadline = time.monotonic() + seconds
    errors = []
    if target == "codec":
        from . import zmtp_cases
        count = 0
        for data in _fallback_inputs(corpus, rng, deadline):
            count += 1
            try:
                zmtp_cases.check_codec(data)
            except Exception as exc:  # noqa: BLE001 - the finding itself
                _keep_artifact(data)
                errors.append(f"{exc!r}; input {data[:200].hex()}"[:1000])
                break
            if count % 100000 == 0:
                _write_stats({"inputs": count})
        stats = {"inputs": count}
    else:
        from .engine_fuzz import EngineTarget, ErrorWatch, run_loop
        target_ = EngineTarget()
        row = Row("engine")
        with ErrorWatch() as watch:
            run_loop(target_, _fallback_inputs(corpus, rng, deadline), watch, row)
            row.errors.extend(target_.check())
            watch.drain_into(row)
        errors = row.errors
        from .report import open_fds, rss_mb
        stats = {"inputs": target_.inputs, "messages": target_.messages, "checks": target_.honest_rounds,
                 "baseline_fds": target_.baseline_fds, "fds": open_fds(), "rss_mb": rss_mb()}
        target_.close()
    stats["errors"] = errors
    _write_stats(stats)
    return 1 if errors else 0


def _keep_artifact(data):
    prefix = os.environ.get("RELIABILITY_FUZZ_ARTIFACTS")
    if prefix:
        import hashlib
        with open(prefix + "crash-" + hashlib.sha1(data).hexdigest(), "wb") as f:
            f.write(data)


def main(argv):
    target = argv[1] if len(argv) > 1 else ""
    if target not in ("codec", "engine", "codec-fast", "engine-fast"):
        sys.exit("usage: python -m reliability.fuzz codec|engine|codec-fast|engine-fast "
                 "[libFuzzer flags] [CORPUS ...]")
    # libFuzzer re-runs argv[0] through the shell for -merge (and -fork): make it a command
    # that starts this module again, not the path of a .py file.
    rest = [f"{sys.executable} -m reliability.fuzz {target}"] + argv[2:]
    seconds = 10
    for arg in rest:
        if arg.startswith("-max_total_time="):
            seconds = int(arg.split("=", 1)[1])
    dirs = [a for a in rest[1:] if not a.startswith("-")]
    if target.endswith("-fast"):
        sys.exit(_fast_main(target[:-5], seconds, dirs))
    if os.environ.get("RELIABILITY_FUZZ_FALLBACK") or not has_atheris():
        sys.exit(_fallback_main(target, seconds, dirs))
    if target == "codec":
        _codec_main(rest)
    else:
        _engine_main(rest)


# -- the runner's side -----------------------------------------------------------------------
_EXECUTED = re.compile(r"stat::number_of_executed_units:\s*(\d+)")
_DONE = re.compile(r"Done (\d+) runs in")


def _run_phase(cmd, env, seconds, row, label):
    try:
        proc = subprocess.run(cmd, cwd=os.path.dirname(HERE), env=env, capture_output=True, text=True,
                              timeout=seconds + 120)
    except subprocess.TimeoutExpired as exc:
        row.error(f"{label} did not stop within its budget + 120 s")
        out = exc.stdout or ""
        return None, out.decode(errors="replace") if isinstance(out, bytes) else out
    return proc, proc.stdout + proc.stderr


def _read_stats(path):
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        stats = json.load(f)
    os.unlink(path)
    return stats


def _fuzz_one(target, budget, row, workdir, update_corpus):
    guided_s, fast_s = budget
    committed = os.path.join(CORPUS, target)
    os.makedirs(committed, exist_ok=True)
    work = os.path.join(workdir, target + "-corpus")
    seeds_dir = os.path.join(workdir, target + "-seeds")
    artifacts = os.path.join(workdir, target + "-artifacts") + "/"
    os.makedirs(work, exist_ok=True)
    os.makedirs(artifacts, exist_ok=True)
    _write_seeds(seeds_dir)
    stats_path = os.path.join(workdir, target + "-stats.json")
    env = dict(os.environ, RELIABILITY_FUZZ_STATS=stats_path, RELIABILITY_FUZZ_ARTIFACTS=artifacts,
               PYTHONPATH=_pythonpath())
    atheris = has_atheris() and not os.environ.get("RELIABILITY_FUZZ_FALLBACK")
    guided = "atheris (libFuzzer, coverage-guided)" if atheris else \
        ("atheris not installed: Hypothesis" if target == "codec" else "atheris not installed: mutation")

    # Phase 1: coverage-guided (atheris), or its fallback.
    cmd = [sys.executable, "-m", "reliability.fuzz", target, f"-max_total_time={guided_s}",
           f"-max_len={MAX_LEN}", "-timeout=30", "-rss_limit_mb=3072", "-print_final_stats=1",
           f"-artifact_prefix={artifacts}", work, committed, seeds_dir]
    proc, out = _run_phase(cmd, env, guided_s, row, f"{target} fuzzer")
    with open(os.path.join(workdir, target + ".log"), "w") as f:
        f.write(out)
    stats = _read_stats(stats_path)
    m = _EXECUTED.search(out) or _DONE.search(out)
    guided_n = int(m.group(1)) if m else int(stats.get("inputs", 0))
    row.inputs += guided_n
    row.received += int(stats.get("messages", 0))
    checks = int(stats.get("checks", 0))
    for err in stats.get("errors", []):
        row.error(err)
    rss = re.findall(r"rss: (\d+)Mb", out)
    if rss:
        row.rss_base, row.rss_peak, row.rss_end = float(rss[0]), float(max(map(int, rss))), float(rss[-1])
    cov = re.findall(r"cov: (\d+) ft: (\d+) corp: (\d+)", out)
    row.note(f"{guided}: {guided_n:,} inputs in {guided_s} s"
             + (f"; coverage {cov[-1][0]} edges, {cov[-1][1]} features, corpus {cov[-1][2]}" if cov else ""))
    failed = proc is None or proc.returncode != 0
    if failed:
        tail = [ln for ln in out.splitlines() if ln.strip()][-12:]
        row.error(f"{target} fuzzer exited {proc.returncode if proc else 'by timeout'}: " + " | ".join(tail)[:1500])

    # Phase 2: the same oracle, uninstrumented, mutating everything phase 1 kept.
    if not failed and fast_s:
        cmd = [sys.executable, "-m", "reliability.fuzz", target + "-fast", f"-max_total_time={fast_s}",
               work, committed, seeds_dir]
        proc, out = _run_phase(cmd, env, fast_s, row, f"{target} mutation loop")
        stats = _read_stats(stats_path)
        fast_n = int(stats.get("inputs", 0))
        row.inputs += fast_n
        row.received += int(stats.get("messages", 0))
        checks += int(stats.get("checks", 0))
        for err in stats.get("errors", []):
            row.error(err)
        if proc is not None and proc.returncode != 0 and not stats.get("errors"):
            row.error(f"{target} mutation loop exited {proc.returncode}: {out[-1500:]}")
        if target == "engine" and "fds" in stats:
            row.fds_base, row.fds_end = int(stats["baseline_fds"]), int(stats["fds"])
            row.rss_end = float(stats.get("rss_mb", row.rss_end))
            row.rss_base = min(row.rss_base or row.rss_end, row.rss_end)
        row.note(f"uninstrumented mutation of that corpus: {fast_n:,} inputs in {fast_s} s")
    row.rss_peak = max(row.rss_peak, row.rss_base, row.rss_end)
    if target == "engine":
        row.faults = row.inputs
        row.note(f"{checks} health checks passed (honest DEALER round trip, no stray session); "
                 f"{row.received:,} valid messages the fuzzed peers got through were drained")

    for path in sorted(glob.glob(artifacts + "*")):
        with open(path, "rb") as f:
            data = f.read()
        keep = os.path.join(HERE, "results", "crashes", target)
        os.makedirs(keep, exist_ok=True)
        shutil.copy(path, keep)
        row.error(f"{os.path.basename(path)} ({len(data)} bytes, kept in reliability/results/crashes/"
                  f"{target}): {data[:200].hex()}")
    if update_corpus and atheris and not row.errors:
        before = len(os.listdir(committed))
        subprocess.run([sys.executable, "-m", "reliability.fuzz", target, "-merge=1", f"-max_len={MAX_LEN}",
                        "-timeout=30", committed, work], cwd=os.path.dirname(HERE),
                       env=env, capture_output=True, timeout=900)
        row.note(f"corpus reliability/corpus/{target}: {before} -> {len(os.listdir(committed))} inputs "
                 "(libFuzzer -merge=1: only inputs that add coverage)")


def _pythonpath():
    root = os.path.dirname(HERE)
    old = os.environ.get("PYTHONPATH")
    return root + (os.pathsep + old if old else "")


def run_group(mode, only=None, update_corpus=False, out_dir=None):
    rows = []
    with tempfile.TemporaryDirectory(prefix="gzmq-fuzz-") as workdir:
        for target in ("codec", "engine"):
            name = f"fuzz.{target}"
            if only and not any(name.startswith(o) or o.startswith(name) for o in only):
                continue
            row = Row(name, mode)
            t0 = time.monotonic()
            _fuzz_one(target, BUDGET[mode][target], row, workdir, update_corpus)
            row.rss_slack = 1e9   # the fuzzer's own process: RSS is reported, not judged
            row.seconds = round(time.monotonic() - t0, 1)
            rows.append(row)
    return rows


if __name__ == "__main__":
    main(sys.argv)
