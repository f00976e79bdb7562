"""tests/reliability: the reliability suite's short form, and its corpus as regression tests.

The suite lives in reliability/ at the repository root (python -m reliability.run); make it
importable however pytest was started.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
