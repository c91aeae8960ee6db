"""`kubectl auth can-i --as=...` tables: what an account must be allowed, and what it must not."""

from __future__ import annotations

from typing import Final

from tests.support.kube import KubePlane

# (A subresource goes in --subresource: `kubectl auth can-i VERB KIND/X` asks about the object X.)
# What no starcast account may ever do, whatever it needs otherwise ({ns}: its own namespace).
NEVER: Final = (
    ("list", "secrets", "--all-namespaces"),
    ("get", "secrets", "-n", "kube-system"),
    ("create", "pods", "--subresource=exec", "-n", "{ns}"),
    ("create", "pods", "--subresource=attach", "-n", "{ns}"),
    ("create", "rolebindings", "-n", "{ns}"),
    ("create", "clusterrolebindings"),
    ("escalate", "roles", "-n", "{ns}"),
    ("bind", "clusterroles"),
    ("patch", "clusterroles"),
    ("delete", "namespaces"),
    ("create", "serviceaccounts", "--subresource=token", "-n", "{ns}"),
    ("impersonate", "users"),
)


def can_i(plane: KubePlane, user: str, *request: str) -> bool:
    # Exit code 0 means yes and 1 means no; anything else is an error worth seeing.
    result = plane.kubectl("auth", "can-i", f"--as={user}", *request, check=False)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode == 0


def answers(
    plane: KubePlane, user: str, requests: tuple[tuple[str, ...], ...], namespace: str
) -> dict[str, bool]:
    """``{"verb resource flags": allowed}`` for each request ({ns} is ``namespace``)."""
    table = {}
    for request in requests:
        words = tuple(word.replace("{ns}", namespace) for word in request)
        table[" ".join(words)] = can_i(plane, user, *words)
    return table
