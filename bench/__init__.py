"""Benchmarks, run as scripts: `python bench/NAME.py --quick`.

A package so that mypy names them bench.NAME. A script's directory comes first on sys.path, so no
file here may take a standard module's name (`operator.py` broke every bench: kube_operator.py).
"""
