"""Scenario registry: what the harness can measure, and which columns each scenario has.

A Family is a set of columns measured by the same scenario code (the ZeroMQ family's columns are
pyzmq, green and gzmq), the ratios the report shows between them, and a probe that tells whether
a column works on this machine. A Scenario is an orchestrator-side run(trial) function that
starts worker roles for trial.column and returns {metric key: value}.

Extending: write a module in benchmarks/scenarios/ that calls register(Scenario(...)) (and, for a
new kind of column such as the bridge, defines its Family), then import it from
benchmarks/scenarios/__init__.py. benchmarks.run picks it up, --only selects it by name.
"""
from dataclasses import dataclass, field
from typing import Callable, Tuple


class Unavailable(Exception):
    """Raised by a family's probe: this column cannot run here (says why)."""


@dataclass(frozen=True)
class Metric:
    key: str                    # key in the dict run() returns
    unit: str                   # "msg/s", "MB/s", "us", "req/s"
    higher_is_better: bool = True
    headline: bool = True       # shown in the table and chart (every metric goes to the JSON)


@dataclass(frozen=True)
class Family:
    name: str
    columns: Tuple[str, ...]                    # table order
    probe: Callable                             # probe(trial) -> info dict; raises Unavailable
    ratios: Tuple[Tuple[str, str], ...] = ()    # (subject, baseline): table shows subject/baseline


@dataclass(frozen=True)
class Scenario:
    name: str                   # unique, what --only matches: "pushpull tcp 16B"
    group: str                  # table section: "PUSH/PULL throughput, two processes"
    family: Family
    run: Callable               # run(trial) -> {metric key: value}
    metrics: Tuple[Metric, ...]
    details: dict = field(default_factory=dict)   # parameters, copied into the JSON


SCENARIOS = []


def register(scenario):
    if any(existing.name == scenario.name for existing in SCENARIOS):
        raise ValueError(f"scenario {scenario.name!r} registered twice")
    SCENARIOS.append(scenario)
    return scenario
