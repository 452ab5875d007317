"""The toy benchmark's driver: methods, step cache, runner, results and report
(``tools/benchmarks/toy_benchmark.py``, docs/toy_benchmark.md)."""
