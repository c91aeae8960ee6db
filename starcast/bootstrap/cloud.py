"""The connection to the cloud and the translation of its failures into messages that say the fix.

Every call goes through :func:`call` (retries a 409 or 5xx: a lost race or a hiccup) and
every creation through :func:`ensure`, which looks the resource up again before each attempt,
so a create whose answer was lost (a 500 after the fact, a killed process) is found, not doubled.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final, TypeVar

if TYPE_CHECKING:
    from openstack.connection import Connection

logger = logging.getLogger(__name__)
T = TypeVar("T")
RETRY_DELAYS_S: Final = (1.0, 2.0, 4.0)
# Nova takes a server's tags at creation from 2.52 (filters on them from 2.26; below that a
# `tags` filter is silently ignored, and a listing "by tag" would return every VM).
NOVA_SERVER_TAGS: Final = "2.52"


class CloudError(Exception):
    """A cloud call failed for a reason the user can act on; the message names resource and fix."""


def connect(cloud: str) -> Connection:
    """`openstack.connect(cloud=...)` from clouds.yaml, authenticated now so errors come first."""
    import openstack
    from keystoneauth1 import exceptions as ksa
    from openstack import exceptions as sdk

    try:
        connection = openstack.connect(cloud=cloud)
        connection.authorize()
        _require_server_tags(connection, cloud)
    except sdk.ConfigException as error:
        raise CloudError(
            f"cloud {cloud!r} not found in clouds.yaml ({error}): add it, or point "
            "OS_CLIENT_CONFIG_FILE at the clouds.yaml that has it"
        ) from None
    except (ksa.ClientException, sdk.SDKException) as error:
        # openstacksdk wraps keystoneauth's errors (a refused connection becomes "Could not
        # find versioned identity endpoints"): classify by the root cause.
        if _caused_by(error, (ksa.ConnectFailure, ksa.ConnectTimeout, ksa.DiscoveryFailure)):
            raise CloudError(
                f"cannot reach cloud {cloud!r}'s identity service: check auth_url in "
                "clouds.yaml and your network or VPN"
            ) from None
        if _caused_by(error, (ksa.Unauthorized,)) or _status(error) == 401:
            raise CloudError(
                f"cloud {cloud!r} refused the credentials in clouds.yaml (HTTP 401): check "
                "username, password, project and domains"
            ) from None
        raise CloudError(f"cloud {cloud!r}: {type(error).__name__}: {error}") from None
    return connection


def _require_server_tags(connection: Connection, cloud: str) -> None:
    """Refuse a Nova, or a clouds.yaml pin, below the microversion that tags servers."""
    from keystoneauth1 import discover
    from openstack import utils

    compute = connection.compute
    if utils.supports_microversion(compute, NOVA_SERVER_TAGS):
        return
    pinned = compute.default_microversion
    if pinned:
        fix = (
            f"clouds.yaml pins compute_default_microversion {pinned}: remove that line or "
            f"set it to {NOVA_SERVER_TAGS} or later"
        )
    else:
        data = compute.get_endpoint_data()
        highest = (
            discover.version_to_string(data.max_microversion)
            if data is not None and data.max_microversion
            else "none"
        )
        fix = (
            f"its compute API offers microversions up to {highest}; use a cloud running "
            "OpenStack Queens (2018) or later"
        )
    raise CloudError(
        f"cloud {cloud!r} cannot tag servers (Nova microversion {NOVA_SERVER_TAGS}), and the "
        f"tag is how `down` tells this cluster's VMs from others: {fix}"
    )


def _caused_by(error: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, kinds):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def find(what: str, function: Callable[..., T], name: str) -> T | None:
    """A `find_*` proxy call: the resource, or None when the cloud has no such one."""
    from openstack import exceptions as sdk

    def lookup() -> T | None:
        try:
            return function(name, ignore_missing=False)
        except sdk.NotFoundException:
            return None

    return call(what, lookup)


def _status(error: Exception) -> int | None:
    status = getattr(error, "status_code", None)
    return status if isinstance(status, int) else None


def _is_quota(error: Exception) -> bool:
    return "quota exceeded" in str(error).lower() or "overquota" in str(error).lower()


QUOTA_ADVICE: Final = {
    "instances": "lower `agents`, delete unused VMs, or ask for a larger quota",
    "cores": "lower `agents`, pick smaller flavors, delete unused VMs, or ask for a larger quota",
    "ram": "lower `agents`, pick smaller flavors, delete unused VMs, or ask for a larger quota",
    "floatingip": (
        "release an unused floating IP (`openstack floating ip list`), set "
        "`floating_ip: false`, or ask for a larger quota"
    ),
    "port": "lower `agents` (one port each), delete unused ports, or ask for a larger quota",
}


def quota_advice(resource: str) -> str:
    """What to do when `resource` (Nova's or Neutron's quota name) is exhausted."""
    return QUOTA_ADVICE.get(
        resource, f"delete unused {resource.replace('_', ' ')}s, or ask for a larger quota"
    )


def _quota_resource(detail: str) -> str | None:
    """The resource a quota error names: Nova's "Quota exceeded for cores: ...", Neutron's
    "Quota exceeded for resources: ['floatingip']."."""
    nova = re.search(r"[Qq]uota exceeded for (\w+):", detail)
    neutron = re.search(r"resources: \['(\w+)'", detail)
    if neutron:
        return neutron.group(1)
    return nova.group(1) if nova else None


def answer(what: str, kind: type[T], value: object) -> T:
    """A field of a cloud's answer, checked: an answer unlike the API reference's is a clear
    error naming the call, not an AttributeError three frames later."""
    if value is None or not isinstance(value, kind):
        raise CloudError(
            f"{what}: the cloud answered {value!r} where OpenStack's API reference has a "
            f"{kind.__name__}. The cloud (or a proxy before it) is misbehaving: tell its operators"
        )
    return value


def _no_console(error: Exception) -> bool:
    """Nova's 409 for a VM whose hypervisor keeps no console log: no conflict, and final."""
    detail = str(getattr(error, "details", None) or error).lower()
    return _status(error) == 409 and "console" in detail


def _retryable(error: Exception) -> bool:
    from keystoneauth1 import exceptions as ksa

    if isinstance(error, ksa.ConnectFailure):
        return True
    status = _status(error)
    lasting = _is_quota(error) or _no_console(error)
    return status is not None and (status == 409 or status >= 500) and not lasting


def translate(error: Exception, what: str) -> CloudError:
    """The user-facing message for a failed call on `what` (e.g. "server starcast-server")."""
    from keystoneauth1 import exceptions as ksa

    detail = getattr(error, "details", None) or str(error)
    if _is_quota(error):
        resource = _quota_resource(detail)
        advice = (
            quota_advice(resource)
            if resource
            else "free some of the project's resources or ask for a larger quota"
        )
        return CloudError(
            f"quota exceeded {what}: {detail.rstrip('.')}. To fix: {advice} "
            "(`openstack quota show`)"
        )
    if isinstance(error, ksa.ConnectFailure):
        return CloudError(f"lost the connection to the cloud during {what}: run it again")
    status = _status(error)
    if _no_console(error):
        return CloudError(
            f"{what}: this cloud serves no console log for the VM (HTTP 409: {detail}). "
            "Nothing is under way and waiting won't help: the hypervisor keeps no console"
        )
    if status == 409:
        return CloudError(
            f"{what}: the cloud kept answering HTTP 409 (conflict): {detail}. Another change to "
            "that resource is under way: run the command again once it is done"
        )
    if status is not None and status >= 500:
        return CloudError(
            f"{what}: the cloud kept answering HTTP {status}: {detail}. The cloud is failing: "
            "run the command again later; it picks up where it stopped"
        )
    return CloudError(f"{what}: the cloud answered HTTP {status}: {detail}")


def call(what: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """One cloud call, retried on a 409 or a 5xx; other errors become a :class:`CloudError`."""
    from keystoneauth1 import exceptions as ksa
    from openstack import exceptions as sdk

    for attempt, delay in enumerate((*RETRY_DELAYS_S, None)):
        try:
            return function(*args, **kwargs)
        except (sdk.HttpException, ksa.ConnectFailure) as error:
            if delay is None or not _retryable(error):
                raise translate(error, what) from None
            logger.warning(
                "retrying %s in %.0fs",
                what,
                delay,
                extra={"attempt": attempt + 1, "error": _status(error)},
            )
            time.sleep(delay)
    raise AssertionError("unreachable")


def listing(what: str, function: Callable[..., Iterable[T]], **filters: Any) -> list[T]:
    """A list call read to its last page inside :func:`call`: openstacksdk's listings are
    generators that only ask the cloud when iterated, so a bare `call` would retry nothing."""
    return call(what, lambda: list(function(**filters)))


def ensure(what: str, find: Callable[[], T | None], create: Callable[[], T]) -> tuple[T, bool]:
    """Find-or-create `what`; True when this call created it. Re-finds before every retry."""
    from keystoneauth1 import exceptions as ksa
    from openstack import exceptions as sdk

    for attempt, delay in enumerate((*RETRY_DELAYS_S, None)):
        found = call(f"looking up {what}", find)
        if found is not None:
            return found, False
        try:
            created = create()
        except (sdk.HttpException, ksa.ConnectFailure) as error:
            if delay is None or not _retryable(error):
                raise translate(error, f"creating {what}") from None
            logger.warning(
                "creating %s failed; looking again in %.0fs",
                what,
                delay,
                extra={"attempt": attempt + 1, "error": _status(error)},
            )
            time.sleep(delay)
            continue
        logger.debug("created %s", what)
        return created, True
    raise AssertionError("unreachable")


def only(what: str, matches: list[T]) -> T | None:
    """The one match of a lookup; several means someone else made copies by hand."""
    if len(matches) > 1:
        raise CloudError(
            f"{len(matches)} resources match {what}: delete the extra ones by hand, then re-run"
        )
    return matches[0] if matches else None
