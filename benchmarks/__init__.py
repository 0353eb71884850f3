"""Issue 7's side-by-side benchmark suite: ``python -m benchmarks --help``.

Not part of the library or of the test run (only a ``--quick`` smoke run is tested).
"""
