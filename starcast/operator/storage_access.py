"""How the operator reaches a run's storage: fsspec options from the run's Secret or its own.

The operator checks a dataset exists before it starts a RayJob, and reads (digest verified) the
artifact the job wrote. It uses the same credentials the Ray pods get, the run's Secret, so it
reads what the trainer could write; runs without a Secret use the operator's own credentials.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from starcast import artifact, storage
from starcast.operator.memo import FoundMemo
from starcast.operator.settings import OperatorSettings

SUPPORTED_SCHEMES: Final = ("s3",)
ACCESS_KEY: Final = "AWS_ACCESS_KEY_ID"
SECRET_KEY: Final = "AWS_SECRET_ACCESS_KEY"
REGION_KEY: Final = "AWS_DEFAULT_REGION"
# A burst of runs on one dataset looks it up once; a dataset removed is noticed within this.
DATASET_MEMORY_S: Final = 10.0
DATASET_MEMORY_SIZE: Final = 1024


class StorageUnreachableError(Exception):
    """Storage did not answer (network, 5xx): worth trying again later."""


class StorageDeniedError(Exception):
    """Storage refused the credentials."""


def scheme(uri: str) -> str:
    return urlsplit(uri).scheme


def decode_secret(data: Mapping[str, str]) -> dict[str, str]:
    """A Secret's data, base64-decoded; ValueError names a key that is not valid base64."""
    decoded = {}
    for key, value in data.items():
        try:
            decoded[key] = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as error:
            raise ValueError(f"key {key} is not base64 UTF-8 text") from error
    return decoded


def storage_options(settings: OperatorSettings, secret: Mapping[str, str] | None) -> dict[str, Any]:
    """s3fs options: the endpoint and region from the settings, keys from the Secret or them."""
    options: dict[str, Any] = {}
    if settings.storage_endpoint:
        options["endpoint_url"] = settings.storage_endpoint
    region = (secret or {}).get(REGION_KEY) or settings.storage_region
    if region:
        options["client_kwargs"] = {"region_name": region}
    if secret is not None:
        options["key"], options["secret"] = secret[ACCESS_KEY], secret[SECRET_KEY]
    elif settings.storage_access_key_id and settings.storage_secret_access_key:
        options["key"] = settings.storage_access_key_id.get_secret_value()
        options["secret"] = settings.storage_secret_access_key.get_secret_value()
    return options


def _classify(error: Exception, uri: str) -> Exception:
    if isinstance(error, PermissionError):
        return StorageDeniedError(f"storage refused access to {uri}: {error}")
    return StorageUnreachableError(f"storage did not answer for {uri}: {error}")


def object_exists(uri: str, options: Mapping[str, Any]) -> bool:
    """Whether an object (or a directory prefix) exists at `uri`."""
    try:
        return storage.exists(uri, options)
    except (OSError, ValueError) as error:
        raise _classify(error, uri) from error


class DatasetCheck:
    """Whether datasets exist; a dataset found is remembered briefly, one missing never is."""

    def __init__(self, memory_s: float = DATASET_MEMORY_S) -> None:
        self._found: FoundMemo[bool] = FoundMemo(DATASET_MEMORY_SIZE, memory_s)

    def exists(self, uri: str, options: Mapping[str, Any]) -> bool:
        # Credentials are part of the key: another Secret may not be allowed to read it.
        key = (uri, options.get("endpoint_url"), options.get("key"))
        return bool(self._found.get(key, lambda: object_exists(uri, options) or None))


def artifact_committed(uri: str, options: Mapping[str, Any]) -> bool:
    try:
        return artifact.exists(uri, options)
    except (OSError, ValueError) as error:
        raise _classify(error, uri) from error


def read_verified_manifest(uri: str, options: Mapping[str, Any]) -> artifact.ModelManifest:
    """The artifact's manifest once the model's sha256 matched it; ArtifactError if not."""
    try:
        return artifact.verify_artifact(uri, storage_options=options)
    except artifact.ArtifactError:
        raise
    except (OSError, ValueError) as error:
        raise _classify(error, uri) from error
