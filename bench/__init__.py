"""Benchmarks, each run as a module from the repository root: `python -m bench.sip`.

As modules, not scripts: `python -m bench.x` puts bench/ first on sys.path, where a file named
like a top-level package (bench/reports.py once did) hides that package from every import.
tests/bench/test_benches_run.py runs each one, short, and checks no name collides.
"""
