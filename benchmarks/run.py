"""Run the benchmarks side by side and write the report (what `make bench` calls).

    python -m benchmarks.run                 # full: 5 rounds of 0.5 s trials, 20-26 minutes
    python -m benchmarks.run --quick         # smoke: 2 rounds of 0.25 s trials of a subset, ~1.5 min
    python -m benchmarks.run --only 'pushpull tcp*' --only reqrep --columns pyzmq,gzmq
    python -m benchmarks.run --list

Method (see benchmarks/README.md): first every column is probed (a column that cannot even move
one message is "unavailable", and the run goes on without it). Then the run goes in rounds; a
round measures every selected scenario once per column, the columns of a scenario back to back
in an order rotated from one round to the next. Every trial starts fresh worker interpreters.
A round is not started if the time budget would not allow it to finish. A trial that fails is
reported; a scenario/column pair that never worked, or failed twice, is not tried again.
--quick runs fewer, shorter rounds of the QUICK subset, unless --only picks scenarios.

Progress goes to stderr; the Markdown table to stdout and, with the JSON and PNG, to
benchmarks/results/<name>.{md,json,png} (name: full, quick, or *-partial for selections).
"""
import argparse
import fnmatch
import json
import os
import sys
import time
import traceback

from benchmarks import report
from benchmarks.machine import machine_info
from benchmarks.process import ROOT, Trial, TrialError
from benchmarks.registry import SCENARIOS, Unavailable
from benchmarks.units import figure
import benchmarks.scenarios  # noqa: F401  (registers every scenario)

RESULTS = os.path.join(ROOT, "benchmarks", "results")
MODES = {
    #        rounds, seconds measured per trial, budget in seconds for the whole run
    "full": dict(reps=5, duration=0.5, budget=26 * 60),
    "quick": dict(reps=2, duration=0.25, budget=3 * 60),
}


def trial_timeout(duration):
    # Start-up, the timed part, then draining queues (up to 64 MB) and an 8-subscriber fan-out;
    # and more than 11.6 s, zmq.green's own timeout for recovering a missed wake-up
    # (Socket._gevent_bug_timeout): a zmq.green stall shows as a slow round, not a failure.
    return 15 + 5 * duration


# --quick without --only: every pattern, transport, layout and family once, the targets' rows.
QUICK = ("pushpull tcp 16B", "pushpull tcp 1MiB", "pushpull ipc 16B", "pushpull-1proc inproc 16B",
         "pushpull-1proc tcp 16B", "reqrep", "dealer-router", "pubsub tcp 8sub",
         "raw-socket stream 16B", "raw-socket ping-pong", "zmtp-framing", "http c=100", "http workers c=100",
         "ws echo 64B c=10", "ws echo 1MiB binary", "bigpipe page 0-delay")


def select_scenarios(patterns):
    """Scenarios whose name matches any pattern: a glob if it has * ? [, else a substring."""
    if not patterns:
        return list(SCENARIOS)

    def matches(name, pattern):
        pattern = pattern.lower()
        if any(c in pattern for c in "*?["):
            return fnmatch.fnmatch(name.lower(), pattern)
        return pattern in name.lower()

    return [s for s in SCENARIOS if any(matches(s.name, p) for p in patterns)]


def probe_columns(families, wanted, duration, say):
    """{family name: {column: {"available": True, "info": ...} or {"available": False, "reason": ...}}}"""
    availability = {}
    for family in families:
        availability[family.name] = {}
        for column in family.columns:
            if wanted and column not in wanted:
                state = {"available": False, "reason": "not selected (--columns)"}
            else:
                with Trial(column, duration, trial_timeout(duration)) as trial:
                    try:
                        state = {"available": True, "info": family.probe(trial)}
                    except Unavailable as exc:
                        state = {"available": False, "reason": str(exc)}
                    except Exception as exc:    # a broken probe makes a column unavailable, no more
                        state = {"available": False, "reason": f"{type(exc).__name__}: {exc}".split("\n")[0]}
            availability[family.name][column] = state
            say(f"  {family.name:9} {column:10} "
                + ("ok" if state["available"] else f"unavailable: {state['reason']}"))
    return availability


def headline(scenario, figures):
    metric = next(m for m in scenario.metrics if m.headline)
    value = figures[metric.key]
    return f"{figure(value) if not metric.unit.startswith(('MB', 'us', 'ms')) else f'{value:.1f}'} {metric.unit}"


def run_rounds(scenarios, availability, reps, duration, budget, say):
    """Measure; return (cells, rounds completed, reason for stopping early or None)."""
    cells = {}
    broken = set()
    started = time.monotonic()

    def columns_for(scenario):
        states = availability[scenario.family.name]
        return [c for c in scenario.family.columns
                if states[c]["available"] and (scenario.name, c) not in broken]

    total = reps * sum(len(columns_for(s)) for s in scenarios)
    done = 0
    rep = 0
    next_round = 0.0    # estimate: the last round's time, less its failed trials (not retried)
    try:
        for rep in range(reps):
            elapsed = time.monotonic() - started
            if rep and elapsed + next_round > budget:
                return cells, rep, f"time budget ({budget / 60:.0f} min)"
            next_round = 0.0
            for index, scenario in enumerate(scenarios):
                columns = columns_for(scenario)
                shift = (rep + index) % len(columns) if columns else 0    # rotate who goes first
                for column in columns[shift:] + columns[:shift]:
                    cell = cells.setdefault((scenario.name, column),
                                            {"figures": {}, "errors": [], "wall_seconds": []})
                    trial_started = time.monotonic()
                    with Trial(column, duration, trial_timeout(duration)) as trial:
                        try:
                            cell["figures"][rep] = figures = scenario.run(trial)
                            outcome = headline(scenario, figures)
                            next_round += time.monotonic() - trial_started
                        except Exception as exc:    # reported, never fatal: the run goes on
                            if isinstance(exc, TrialError):
                                details = trial.diagnose() if "timed out" in str(exc) else ""
                            else:
                                details = traceback.format_exc()
                            cell["errors"].append(f"round {rep + 1}: {type(exc).__name__}: {exc}\n{details}".rstrip())
                            # Not tried again if it never worked, or failed twice: a pair that
                            # hangs would cost a timeout per round. A one-off failure is retried.
                            if not cell["figures"] or len(cell["errors"]) >= 2:
                                broken.add((scenario.name, column))
                                total -= reps - rep - 1
                            outcome = "FAILED: " + str(exc).split("\n")[0][:100]
                    cell["wall_seconds"].append(round(time.monotonic() - trial_started, 2))
                    done += 1
                    elapsed = time.monotonic() - started
                    eta = elapsed / done * (total - done)
                    say(f"[{done:4}/{total} {elapsed / 60:4.1f} min, ~{eta / 60:.1f} left] "
                        f"round {rep + 1}/{reps}  {scenario.name:28} {column:10} {outcome}")
    except KeyboardInterrupt:
        say("interrupted: reporting what was measured so far")
        return cells, rep, "interrupted"
    return cells, reps, None


def parse_arguments(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run (about 1-2 minutes)")
    parser.add_argument("--only", action="append", metavar="PATTERN",
                        help="scenarios whose name contains PATTERN (or matches it as a glob); repeatable")
    parser.add_argument("--columns", help="comma-separated columns to run, e.g. pyzmq,gzmq (default: all)")
    parser.add_argument("--reps", type=int, choices=range(1, 100), metavar="N", help="rounds (default 5, quick 2)")
    parser.add_argument("--duration", type=float, help="seconds measured per trial (default 0.5, quick 0.25)")
    parser.add_argument("--budget", type=float, help="minutes; no round starts that would end later")
    parser.add_argument("--name", help="results file name (default full, quick, or *-partial)")
    parser.add_argument("--no-chart", action="store_true", help="skip the PNG")
    parser.add_argument("--list", action="store_true", help="list scenarios and exit")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_arguments(argv)
    scenarios = select_scenarios(args.only or (QUICK if args.quick else None))
    if args.list:
        for scenario in scenarios:
            print(f"{scenario.name:32} {scenario.family.name:9} {scenario.group}")
        return 0
    if not scenarios:
        print(f"no scenario matches {args.only}; try --list", file=sys.stderr)
        return 2
    mode = MODES["quick" if args.quick else "full"]
    reps = args.reps or mode["reps"]
    duration = args.duration or mode["duration"]
    budget = args.budget * 60 if args.budget else mode["budget"]
    wanted = set(args.columns.split(",")) if args.columns else None
    known = {column for scenario in SCENARIOS for column in scenario.family.columns}
    if wanted and wanted - known:
        print(f"unknown columns {sorted(wanted - known)}; known: {sorted(known)}", file=sys.stderr)
        return 2
    partial = bool(args.only or args.columns or args.reps or args.duration)
    name = args.name or ("quick" if args.quick else "full") + ("-partial" if partial else "")

    def say(text):
        print(text, file=sys.stderr, flush=True)

    machine = machine_info()
    say(f"{machine['cpu']}, {machine['cores']} cores, load {machine['load_average'][0]:.2f}; "
        f"{len(scenarios)} scenarios x {reps} rounds of {duration} s trials")
    families = list(dict.fromkeys(s.family for s in scenarios))
    say("probing columns:")
    begun = time.monotonic()
    availability = probe_columns(families, wanted, duration, say)
    cells, completed, stopped = run_rounds(scenarios, availability, reps, duration, budget, say)
    config = {"quick": args.quick, "reps": reps, "reps_completed": completed, "duration_s": duration,
              "budget_s": budget, "only": args.only, "columns": args.columns, "stopped": stopped,
              "elapsed_s": time.monotonic() - begun, "command": " ".join(sys.argv)}
    machine["load_average_end"] = os.getloadavg()
    document = report.build(machine, config, availability, scenarios, cells)
    text = report.table(document)
    sys.stdout.write(text)
    os.makedirs(RESULTS, exist_ok=True)
    base = os.path.join(RESULTS, name)
    with open(base + ".json", "w") as out:
        json.dump(document, out, indent=1)
    with open(base + ".md", "w") as out:
        out.write(text)
    written = [base + ".json", base + ".md"]
    if not args.no_chart:
        try:
            if report.chart(document, base + ".png"):
                written.append(base + ".png")
        except ImportError as exc:
            say(f"no chart: {exc} (pip install matplotlib, the `bench` extra)")
    say("wrote " + ", ".join(os.path.relpath(path, ROOT) for path in written))
    return 130 if stopped == "interrupted" else 0


if __name__ == "__main__":
    sys.exit(main())
