"""The kube fixtures of tests/support/kube.py, for the smoke tests of the plane itself."""

from tests.support.kube import kube_namespace, kube_plane, pytest_collection_finish

__all__ = ["kube_namespace", "kube_plane", "pytest_collection_finish"]
