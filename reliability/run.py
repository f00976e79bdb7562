"""Run the reliability suite and print its table.

    python -m reliability.run [--short | --long] [--only NAME ...] [--out DIR] [--update-corpus]

--short (default, about 2 minutes) is what `make test` runs through tests/reliability;
--long (about 20 minutes) is the full evidence: millions of fuzz inputs, 30 s of wrk, a 10
minute soak. --only takes group or row name prefixes (fuzz, hostile, faults, net, bridge,
soak; or e.g. hostile.storm). A full --long run writes its table, the rows as JSON and the
soak plot to reliability/results/ (--out DIR writes them elsewhere, for any run).

Each group runs in a child process of its own with a hard time bound, so one group's
memory, descriptors or crash cannot blur another's numbers; a child that overruns is killed
and reported as a failed row. Exit status 0 when every row keeps its invariants
(reliability.report.Row.problems), 1 otherwise.
"""
import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time

from . import report

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")

# group -> (module, seconds allowed in short form, in long form)
GROUPS = {
    "fuzz": ("reliability.fuzz", 120, 900),
    "hostile": ("reliability.hostile", 120, 400),
    "faults": ("reliability.faults", 120, 400),
    "net": ("reliability.netfaults", 120, 400),
    "bridge": ("reliability.bridge_faults", 150, 400),
    "soak": ("reliability.soak", 120, 900),
}


def _selected(group, only):
    if not only:
        return True
    return any(o == group or o.startswith(group + ".") or group.startswith(o) for o in only)


def _warm_up():
    """Let gzmq make what it makes once per process (the main hub and its signal wake-up
    pipe) before any row takes its baseline of open descriptors: a row counts leaks, and
    those two descriptors live as long as the process, as the hub's own do."""
    import gzmq
    ctx = gzmq.Context()
    ctx.socket(gzmq.PAIR).close()
    ctx.term()


def run_child(group, mode, only, out_dir, update_corpus, json_path):
    """Run one group in this process (the child side). Rows are written to json_path as each
    one finishes, so a group killed at its time bound still reports what it completed."""
    module = importlib.import_module(GROUPS[group][0])
    _warm_up()
    rows = []
    for row in module.run_group(mode, only=only, out_dir=out_dir, update_corpus=update_corpus):
        row.mode = mode
        rows.append(row)
        report.dump(rows, json_path)
        print(f"row {row.name}: {row.seconds:.0f} s, {'FAIL' if row.problems() else 'ok'}", flush=True)
    report.dump(rows, json_path)
    return rows


def _spawn(group, mode, only, out_dir, update_corpus, timeout):
    with tempfile.NamedTemporaryFile(prefix=f"reliability-{group}-", suffix=".json", delete=False) as f:
        path = f.name
    cmd = [sys.executable, "-m", "reliability.run", "--child", group, "--mode", mode, "--json", path]
    if out_dir:
        cmd += ["--out", out_dir]
    if update_corpus:
        cmd.append("--update-corpus")
    for o in only or ():
        cmd += ["--only", o]
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        output, _ = proc.communicate()
        rows = _load(path)
        row = report.Row(f"{group} (killed)", mode, seconds=round(time.monotonic() - t0, 1))
        row.error(f"group did not finish within {timeout} s; last output: {output[-1500:]}")
        return rows + [row], output
    rows = _load(path)
    if proc.returncode not in (0, 1) or not rows:
        row = report.Row(f"{group}", mode, seconds=round(time.monotonic() - t0, 1))
        row.error(f"group process exited {proc.returncode} without results: {output[-2000:]}")
        rows.append(row)
    return rows, output


def _load(path):
    try:
        return report.load(path)
    except (OSError, ValueError):
        return []
    finally:
        if os.path.exists(path):
            os.unlink(path)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m reliability.run", description=__doc__.split("\n\n")[0])
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--short", dest="mode", action="store_const", const="short")
    form.add_argument("--long", dest="mode", action="store_const", const="long")
    parser.add_argument("--mode", dest="mode_opt", choices=["short", "long"], help=argparse.SUPPRESS)
    parser.add_argument("--only", action="append", default=[], help="group or row name prefix (repeatable)")
    parser.add_argument("--out", help="directory for the table, JSON rows and plots")
    parser.add_argument("--update-corpus", action="store_true",
                        help="merge new coverage-increasing fuzz inputs into reliability/corpus/")
    parser.add_argument("--json", help="write the rows as JSON here")
    parser.add_argument("--child", choices=sorted(GROUPS), help=argparse.SUPPRESS)
    parser.add_argument("-v", "--verbose", action="store_true", help="show each group's output")
    args = parser.parse_args(argv)
    mode = args.mode or args.mode_opt or "short"

    if args.child:
        import logging
        logging.basicConfig(level=logging.CRITICAL if not args.verbose else logging.INFO)
        rows = run_child(args.child, mode, args.only, args.out, args.update_corpus, args.json)
        return 0 if not any(r.problems() for r in rows) else 1

    full = not args.only
    out_dir = args.out or (RESULTS if mode == "long" and full else None)
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
    started = time.monotonic()
    print(f"reliability suite, {mode} form" + (f", only {' '.join(args.only)}" if args.only else ""), flush=True)
    rows = []
    for group, (_, short_s, long_s) in GROUPS.items():
        if not _selected(group, args.only):
            continue
        timeout = short_s if mode == "short" else long_s
        t0 = time.monotonic()
        print(f"  {group} ...", end="", flush=True)
        got, output = _spawn(group, mode, args.only, out_dir, args.update_corpus, timeout)
        bad = sum(1 for r in got if r.problems())
        print(f" {len(got)} rows, {bad} failing, {time.monotonic() - t0:.0f} s", flush=True)
        if args.verbose or bad:
            tail = "\n".join(output.strip().splitlines()[-30:])
            if tail:
                print("    " + tail.replace("\n", "\n    "), flush=True)
        rows.extend(got)
    text = report.table(rows)
    notes = report.details(rows)
    total = time.monotonic() - started
    summary = (f"{len(rows)} rows, {sum(1 for r in rows if r.problems())} failing, "
               f"{total / 60:.1f} min, {mode} form")
    print()
    print(text)
    print()
    if notes:
        print(notes)
        print()
    print(summary)
    if args.json:
        report.dump(rows, args.json)
    if out_dir:
        report.dump(rows, os.path.join(out_dir, f"{mode}-results.json"))
        with open(os.path.join(out_dir, f"{mode}-table.txt"), "w") as f:
            f.write(f"python -m reliability.run --{mode}\n\n{text}\n\n{notes}\n\n{summary}\n")
    return 0 if not any(r.problems() for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
