"""Benchmarks, run as scripts: `python bench/NAME.py --quick`.

A package so that mypy names them bench.NAME (bench/operator.py would shadow `operator`).
"""
