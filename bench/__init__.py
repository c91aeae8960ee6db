"""Benchmarks, run as modules from the repository's venv: `python -m bench.NAME --quick`.

As modules, not scripts: a script's own directory comes first on sys.path, and `bench/operator.py`
would then shadow the standard library's `operator` for everything the script imports.
"""
