"""`cluster.yaml`: what cluster to build, validated field by field before any cloud is touched."""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Any, Final, Self

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

# k3s's own pod and service networks: a node subnet overlapping them breaks routing silently.
K3S_CLUSTER_CIDR: Final = ipaddress.ip_network("10.42.0.0/16")
K3S_SERVICE_CIDR: Final = ipaddress.ip_network("10.43.0.0/16")
K3S_VERSION: Final = re.compile(r"^v1\.\d+\.\d+\+k3s\d+$")
K3S_CHANNEL: Final = re.compile(r"^(stable|latest|testing|v1\.\d+)$")
NAME: Final = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
DNS_NAME: Final = re.compile(
    r"^(?=.{1,253}$)(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$",
    re.IGNORECASE,
)


def _name(value: str) -> str:
    if not NAME.fullmatch(value):
        raise ValueError(
            f"{value!r}: use 2 to 32 of a-z, 0-9 and '-', starting with a letter and not "
            "ending with '-' (it prefixes resource names, tags and Helm names)"
        )
    return value


Name = Annotated[str, AfterValidator(_name)]


class ConfigError(Exception):
    """cluster.yaml can't be read or is invalid; the message names each bad field and the fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class K3s(_Strict):
    """Which k3s to install: exactly one of a pinned `version` or a release `channel`."""

    version: str | None = Field(
        None, description="Pinned k3s release, e.g. v1.31.4+k3s1 (INSTALL_K3S_VERSION)."
    )
    channel: str | None = Field(
        None, description="Release channel (stable, latest, testing or v1.NN) when not pinned."
    )

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.version is None) == (self.channel is None):
            raise ValueError("set exactly one of k3s.version (e.g. v1.31.4+k3s1) or k3s.channel")
        if self.version is not None and not K3S_VERSION.fullmatch(self.version):
            raise ValueError(f"k3s.version {self.version!r} is not like v1.31.4+k3s1")
        if self.channel is not None and not K3S_CHANNEL.fullmatch(self.channel):
            raise ValueError(f"k3s.channel {self.channel!r}: use stable, latest, testing or v1.NN")
        return self


class Chart(_Strict):
    """A Helm chart to install once the cluster is Ready (`helm upgrade --install`)."""

    release: Name = Field(description="Helm release name.")
    chart: str = Field(
        description="Chart path (relative to cluster.yaml), repo/name or oci:// URL."
    )
    namespace: Name = Field("default", description="Namespace, created if missing.")
    version: str | None = Field(None, description="Chart version (for repository charts).")
    values: dict[str, Any] = Field(default_factory=dict, description="Values (as --values).")

    @field_validator("chart")
    @classmethod
    def _local_chart(cls, value: str) -> str:
        # A path (made absolute by load_config) must exist before `up` builds a cluster for it.
        if value.startswith("/") and not Path(value).is_dir():
            raise ValueError(f"chart directory {value} does not exist: fix the path")
        return value


class Timeouts(_Strict):
    """How long each wait may take, in seconds, before `up` stops and says what was slow."""

    server_active: float = Field(600, gt=0, description="Each VM from BUILD to ACTIVE.")
    kubeconfig: float = Field(900, gt=0, description="SSH up and k3s's kubeconfig written.")
    api: float = Field(300, gt=0, description="The k3s API server answering.")
    nodes_ready: float = Field(900, gt=0, description="Every node registered and Ready.")
    deletion: float = Field(300, gt=0, description="Each VM gone after a delete.")
    helm: float = Field(600, gt=0, description="Each chart install (helm --timeout).")
    poll_interval: float = Field(2, gt=0, le=60, description="Seconds between two looks.")


class ClusterConfig(_Strict):
    """A k3s cluster on one OpenStack project: one server VM and `agents` agent VMs."""

    cloud: str = Field(description="Entry in clouds.yaml, passed to openstack.connect(cloud=...).")
    name: Name = Field(description="Cluster name: prefixes every resource name and the tag.")
    image: str = Field(description="Glance image name or id (a cloud-init enabled Linux).")
    ssh_user: str = Field("debian", description="Login user of that image (debian, ubuntu...).")
    ssh_port: int = Field(22, ge=1, le=65535, description="SSH port of the server VM.")
    server_flavor: str = Field(description="Nova flavor of the k3s server.")
    agent_flavor: str = Field(description="Nova flavor of each agent.")
    agents: int = Field(2, ge=0, le=50, description="Number of k3s agents.")
    external_network: str = Field(description="External network for the router and floating IP.")
    cidr: str = Field("192.168.42.0/24", description="The nodes' subnet (not 10.42/10.43).")
    dns_nameservers: list[str] = Field(default_factory=list, description="Subnet DNS servers.")
    admin_cidrs: list[str] = Field(
        min_length=1, description="Who may reach SSH (ssh_port) and the API server (6443)."
    )
    allow_world_admin: bool = Field(
        False, description="Accept 0.0.0.0/0 in admin_cidrs: SSH and the API open to anyone."
    )
    ingress_cidr: str = Field("0.0.0.0/0", description="Who may reach the ingress (80, 443).")
    keypair: str | None = Field(
        None, description="Existing Nova keypair; omitted: a generated ed25519 key (0600)."
    )
    ssh_key_file: Path | None = Field(
        None, description="Private key of `keypair` (required with it), to fetch the kubeconfig."
    )
    k3s: K3s = Field(description="k3s version or channel.")
    tls_san: list[str] = Field(default_factory=list, description="Extra API server names/IPs.")
    taint_server: bool = Field(True, description="Keep workloads off the server (with agents).")
    floating_ip: bool = Field(True, description="Give the server a floating IP (SSH, API).")
    charts: list[Chart] = Field(default_factory=list, description="Charts to install after up.")
    timeouts: Timeouts = Field(default_factory=Timeouts, description="Waits, in seconds.")
    state_dir: Path | None = Field(
        None, description="Token, generated key, kubeconfig: default $XDG_STATE_HOME/starcast."
    )
    kubeconfig: Path | None = Field(None, description="Where to write it: default in state_dir.")

    @field_validator("cidr")
    @classmethod
    def _node_cidr(cls, value: str) -> str:
        network = _ipv4_network(value)
        for k3s_net in (K3S_CLUSTER_CIDR, K3S_SERVICE_CIDR):
            if network.overlaps(k3s_net):
                raise ValueError(f"{value} overlaps k3s's own {k3s_net}: pick e.g. 192.168.42.0/24")
        if network.num_addresses < 16:
            raise ValueError(f"{value} is too small for the nodes: use a /28 or larger")
        return value

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and "admin_cidr" in raw:
            raise ValueError(
                f"admin_cidr is now admin_cidrs, a list: write admin_cidrs: [{raw['admin_cidr']}]"
            )
        return raw

    @field_validator("ingress_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        _ipv4_network(value)
        return value

    @field_validator("admin_cidrs")
    @classmethod
    def _admin_cidrs(cls, values: list[str]) -> list[str]:
        for value in values:
            _ipv4_network(value)
        if len(set(values)) != len(values):
            raise ValueError(f"{values}: each CIDR once (a second rule would be a duplicate)")
        return values

    @model_validator(mode="after")
    def _world(self) -> Self:
        world = [c for c in self.admin_cidrs if ipaddress.ip_network(c).prefixlen == 0]
        if world and not self.allow_world_admin:
            raise ValueError(
                f"admin_cidrs has {world[0]}: SSH and the k3s API would be open to the whole "
                "internet. List your own networks (e.g. 203.0.113.0/24), or set "
                "allow_world_admin: true if that is really what you want"
            )
        return self

    @field_validator("tls_san")
    @classmethod
    def _sans(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                if not DNS_NAME.fullmatch(value):
                    raise ValueError(
                        f"{value!r} is neither an IP address nor a DNS name like "
                        "k3s.example.org (the API server's certificate names)"
                    ) from None
        return values

    @model_validator(mode="after")
    def _key(self) -> Self:
        if self.keypair is not None and self.ssh_key_file is None:
            raise ValueError("keypair is set: also set ssh_key_file to its private key")
        if self.ssh_key_file is not None and self.keypair is None:
            raise ValueError("ssh_key_file is set: also set keypair to its name in the cloud")
        # Checked now, not after every VM is up and the kubeconfig is due.
        if self.ssh_key_file is not None and not self.ssh_key_file.is_file():
            raise ValueError(
                f"ssh_key_file {self.ssh_key_file} does not exist: point it at the private key "
                f"of keypair {self.keypair!r}"
            )
        return self

    @property
    def tag(self) -> str:
        """Every resource `up` makes carries it; `down` deletes nothing else."""
        return f"starcast-cluster={self.name}"

    @property
    def state_path(self) -> Path:
        if self.state_dir is not None:
            return self.state_dir
        base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        return Path(base) / "starcast" / "bootstrap" / self.name

    @property
    def kubeconfig_path(self) -> Path:
        return self.kubeconfig or self.state_path / "kubeconfig"


def _ipv4_network(value: str) -> ipaddress.IPv4Network:
    try:
        network = ipaddress.ip_network(value)
    except ValueError as error:
        raise ValueError(f"{value!r} is not a CIDR like 192.168.42.0/24 ({error})") from None
    if not isinstance(network, ipaddress.IPv4Network):
        raise ValueError(f"{value}: only IPv4 is supported")
    return network


def load_config(path: Path) -> ClusterConfig:
    """Read and validate cluster.yaml; relative paths in it are relative to the file."""
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of fields (cloud, name, image, ...)")
    base = path.resolve().parent
    for key in ("ssh_key_file", "state_dir", "kubeconfig"):
        if isinstance(raw.get(key), str):
            raw[key] = str(base / Path(raw[key]).expanduser())
    for chart in raw.get("charts") or []:
        if isinstance(chart, dict) and str(chart.get("chart", "")).startswith("."):
            chart["chart"] = str(base / chart["chart"])
    try:
        return ClusterConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(f"{path} is invalid:\n{_explain(error)}") from error


def _explain(error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown field (a typo? see examples/cluster.yaml)"
        lines.append(f"  {where}: {message}")
    return "\n".join(lines)
