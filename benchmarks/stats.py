"""Small statistics for noisy machines: percentiles, per-figure summaries, paired ratios.

Pure functions on lists of floats; imported by worker roles (percentile) and by the report.
"""
import math
import statistics


def percentile(sorted_values, p):
    """Nearest-rank p-th percentile (0 < p <= 100) of an already sorted, non-empty list."""
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize(values):
    """Median and spread of one figure over the repetitions: median, min, max, q1, q3, n."""
    values = sorted(values)
    if not values:
        return None
    if len(values) >= 2:
        q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    else:
        q1 = q3 = values[0]
    return {"median": statistics.median(values), "min": values[0], "max": values[-1],
            "q1": q1, "q3": q3, "n": len(values)}


def paired_ratio(subject, baseline):
    """Median over repetitions of subject[i] / baseline[i], pairing figures from the same round.

    subject and baseline are per-repetition lists (None where a trial failed). Pairing within a
    round cancels slow drift of the machine (the rounds are minutes apart, the pair seconds).
    """
    ratios = [s / b for s, b in zip(subject, baseline) if s is not None and b]
    if not ratios:
        return None
    return {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios),
            "n": len(ratios)}
