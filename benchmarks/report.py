"""Turn a run's raw figures into the report: a JSON document, a Markdown table and a PNG chart.

build() makes the JSON document (raw per-round figures, per-figure summaries, ratios,
machine and configuration); table() and chart() only read that document, so a table can
be re-made from any saved JSON:  python -m benchmarks.report benchmarks/results/full.json
"""
import json
import sys

from benchmarks.stats import paired_ratio, summarize
from benchmarks.units import figure, scale_for, significant


def build(machine, config, availability, scenarios, cells):
    """The JSON document for a run.

    availability: {family name: {column: {"available": bool, "info" or "reason": ...}}}
    cells: {(scenario name, column): {"figures": {rep: {metric key: value}}, "errors": [str]}}
    """
    document = {"machine": machine, "config": config, "families": {}, "scenarios": []}
    for scenario in scenarios:
        family = scenario.family
        document["families"].setdefault(family.name, {
            "columns": availability[family.name],
            "ratios": [f"{subject}/{baseline}" for subject, baseline in family.ratios]})
        entry = {
            "name": scenario.name, "group": scenario.group, "family": family.name,
            "details": scenario.details,
            "metrics": [{"key": m.key, "unit": m.unit, "higher_is_better": m.higher_is_better,
                         "headline": m.headline} for m in scenario.metrics],
            "columns": {}, "ratios": {},
        }
        per_rep = {}
        for column in family.columns:
            cell = cells.get((scenario.name, column))
            if cell is None:
                continue
            reps = sorted(cell["figures"])
            entry["columns"][column] = {
                "reps": [dict(cell["figures"][rep], rep=rep) for rep in reps],
                "errors": cell["errors"],
                "wall_seconds": cell["wall_seconds"],     # each trial, start-up and teardown included
                "summary": {m.key: summarize([cell["figures"][rep][m.key] for rep in reps
                                              if m.key in cell["figures"][rep]])
                            for m in scenario.metrics},
            }
            per_rep[column] = cell["figures"]
        for subject, baseline in family.ratios:
            if subject in per_rep and baseline in per_rep:
                common = sorted(set(per_rep[subject]) & set(per_rep[baseline]))
                subject_summary = entry["columns"][subject]["summary"]
                baseline_summary = entry["columns"][baseline]["summary"]
                entry["ratios"][f"{subject}/{baseline}"] = {
                    m.key: {
                        # What the table shows: the ratio of the two medians it shows.
                        "of_medians": (subject_summary[m.key]["median"] / baseline_summary[m.key]["median"]
                                       if subject_summary[m.key] and baseline_summary[m.key] else None),
                        # Also: each round's ratio (figures seconds apart), their median and range.
                        "paired": paired_ratio(
                            [per_rep[subject].get(rep, {}).get(m.key) for rep in common],
                            [per_rep[baseline].get(rep, {}).get(m.key) for rep in common]),
                    } for m in scenario.metrics}
        document["scenarios"].append(entry)
    return document


# -- the table --

def format_summary(summary, unit):
    """ "657k (640k–670k)": median, then min–max over the repetitions, in the median's scale."""
    scale = scale_for(summary["median"]) if _counts(unit) else (1.0, "")
    median = figure(summary["median"], scale)
    if summary["n"] < 2:
        return median
    return f"{median} ({figure(summary['min'], scale)}–{figure(summary['max'], scale)})"


def _counts(unit):
    # Rates of things get k/M prefixes; MB/s, micro- and milliseconds are already scaled units.
    return not unit.startswith(("MB", "us", "ms", "fraction"))


def cell_text(document, entry, column, metric):
    state = document["families"][entry["family"]]["columns"].get(column, {})
    if not state.get("available"):
        return "unavailable"
    data = entry["columns"].get(column)
    if data is None:
        return "–"
    summary = data["summary"].get(metric["key"])
    if summary is None:
        return "failed" if data["errors"] else "–"
    text = format_summary(summary, metric["unit"])
    return text + " (!)" if data["errors"] else text


def ratio_text(entry, name, metric):
    ratio = entry["ratios"].get(name, {}).get(metric["key"])
    return f"{ratio['of_medians']:.2f}x" if ratio and ratio["of_medians"] else "–"


def table(document):
    """The report as Markdown: a header, then one table per group of scenarios."""
    machine, config = document["machine"], document["config"]
    lines = [
        "# Benchmark results",
        "",
        f"Run of {machine['date']} on {machine['cpu']}, {machine['cores']} cores, {machine['python']}, "
        f"load average at start {', '.join('%.2f' % x for x in machine['load_average'])}.",
        f"{config['reps_completed']} rounds (of {config['reps']}) of {config['duration_s']} s trials"
        f"{', --quick' if config['quick'] else ''}"
        f"{', stopped early: ' + config['stopped'] if config['stopped'] else ''}; "
        f"took {config['elapsed_s'] / 60:.1f} min. Each cell: median (min–max) over the rounds; "
        f"ratios: of the medians shown (columns interleaved within each round).",
        "",
    ]
    for family, declared in document["families"].items():
        for column, state in declared["columns"].items():
            if not state.get("available"):
                lines.append(f"- `{column}` ({family}): unavailable: {state['reason']}")
                continue
            info = state.get("info", {})
            version = f" {info['version']}" if info.get("version") else ""
            libzmq = f", libzmq {info['libzmq']}" if info.get("libzmq") else ""
            lines.append(f"- `{column}` ({family}): {info.get('description', '')}{version}{libzmq}")
    groups = []
    for entry in document["scenarios"]:
        if not groups or groups[-1][0] != entry["group"]:
            groups.append((entry["group"], []))
        groups[-1][1].append(entry)
    for group, entries in groups:
        family = entries[0]["family"]
        columns = list(document["families"][family]["columns"])
        ratios = document["families"][family]["ratios"]
        header = ["scenario", "unit"] + columns + ratios
        rows = []
        for entry in entries:
            for metric in entry["metrics"]:
                if metric["headline"]:
                    rows.append([entry["name"], metric["unit"]]
                                + [cell_text(document, entry, c, metric) for c in columns]
                                + [ratio_text(entry, r, metric) for r in ratios])
        lines += ["", f"## {group}", ""] + _markdown(header, rows)
    notes = [f"- {e['name']} / {c}: {error.splitlines()[0]}"
             for e in document["scenarios"] for c, data in e["columns"].items()
             for error in data["errors"][:1]]
    if notes:
        lines += ["", "Failures ((!) marks a figure with some failed repetitions):"] + notes
    return "\n".join(lines) + "\n"


def _markdown(header, rows):
    widths = [max(len(row[i]) for row in [header] + rows) for i in range(len(header))]

    def line(cells):
        return "| " + " | ".join(cell.ljust(width) if i < 2 else cell.rjust(width)
                                 for i, (cell, width) in enumerate(zip(cells, widths))) + " |"
    rule = "|" + "|".join("-" * (w + 1) + (":" if i >= 2 else "-") for i, w in enumerate(widths)) + "|"
    return [line(header), rule] + [line(row) for row in rows]


# -- the chart --

def chart(document, path):
    """One panel per group and unit: bars from zero (median) with min–max whiskers, linear scale."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import EngFormatter

    panels = {}     # title -> panel, in order of first appearance
    for entry in document["scenarios"]:
        for metric in entry["metrics"]:
            if metric["headline"]:
                title = f"{entry['group']} [{metric['unit']}]"
                panel = panels.setdefault(title, {"title": title, "family": entry["family"], "rows": []})
                panel["rows"].append((entry, metric))
    panels = list(panels.values())
    if not panels:
        return False
    heights = [0.9 + 0.2 * len(p["rows"]) * _available_count(document, p["family"]) for p in panels]
    total = sum(heights) + 0.6
    figure_, axes = plt.subplots(len(panels), 1, figsize=(11, total),
                                 gridspec_kw={"height_ratios": heights}, squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, panel in zip(axes[:, 0], panels):
        declared = list(document["families"][panel["family"]]["columns"].items())
        columns = [(index, column) for index, (column, state) in enumerate(declared)
                   if state.get("available")]
        bar = 0.8 / max(1, len(columns))
        unit = panel["rows"][0][1]["unit"]
        if _counts(unit):
            ax.xaxis.set_major_formatter(EngFormatter(sep=""))
        for j, (color_index, column) in enumerate(columns):
            ys, medians, lows, highs = [], [], [], []
            for i, (entry, metric) in enumerate(panel["rows"]):
                summary = entry["columns"].get(column, {}).get("summary", {}).get(metric["key"])
                if summary:
                    ys.append(i + (j - (len(columns) - 1) / 2) * bar)
                    medians.append(summary["median"])
                    lows.append(summary["median"] - summary["min"])
                    highs.append(summary["max"] - summary["median"])
            if ys:
                ax.barh(ys, medians, bar, xerr=[lows, highs], label=column,
                        color=colors[color_index % len(colors)],
                        error_kw={"elinewidth": 0.8, "capsize": 2})
                for y, median, high in zip(ys, medians, highs):
                    label = figure(median) if _counts(unit) else significant(median)
                    ax.annotate(label, (median + high, y), xytext=(3, 0),
                                textcoords="offset points", va="center", fontsize=6)
        ax.set_yticks(range(len(panel["rows"])))
        ax.set_yticklabels([entry["name"] for entry, _ in panel["rows"]], fontsize=7)
        ax.invert_yaxis()
        ax.margins(x=0.12)
        ax.tick_params(axis="x", labelsize=7)
        ax.set_title(panel["title"], fontsize=8, loc="left")
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    machine = document["machine"]
    figure_.suptitle(f"gzmq benchmarks {machine['date']}: {machine['cpu']}, {machine['cores']} cores "
                     f"(median, whiskers min–max over the rounds)", fontsize=9)
    figure_.tight_layout(rect=(0, 0, 1, 1 - 0.4 / total))
    figure_.savefig(path, dpi=100)
    plt.close(figure_)
    return True


def _available_count(document, family):
    declared = document["families"][family]["columns"]
    return max(1, sum(1 for state in declared.values() if state.get("available")))


if __name__ == "__main__":
    with open(sys.argv[1]) as saved:
        sys.stdout.write(table(json.load(saved)))
