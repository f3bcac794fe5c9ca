"""Fault harness for lab clusters (issue 76): faults with inject/heal (injectors.py), a
workload that records every acknowledged write and watches them (workload.py), the checks
that must hold after healing (checks.py), and one scenario end to end (scenario.py). Used by
tests/e2e/ha/test_faults.py (the CI subset) and tests/bench/bench_faults.py (the matrix)."""
