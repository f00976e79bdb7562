"""Reliability suite for gzmq and the bridge: fuzzing, hostile peers, faults, load and soak.

    python -m reliability.run [--short | --long] [--only NAME ...]

Each scenario group runs in a child process of its own (clean memory and descriptor
baselines, a hard time bound) and reports Rows (reliability.report); the runner prints the
table and, for a full long run, writes it under reliability/results/. The short form is what
`make test` runs through tests/reliability. See reliability/README.md.
"""
