"""Each node's cloud-init user-data, rendered from `templates/k3s-node.yaml.j2`."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from importlib import resources
from typing import Final

import yaml

from starcast.bootstrap.config import ClusterConfig
from starcast.bootstrap.desired import KUBE_API_PORT, Node
from starcast.bootstrap.secrets import Tokens

TEMPLATE: Final = "k3s-node.yaml.j2"
K3S_INSTALL_URL: Final = "https://get.k3s.io"
REDACTED: Final = "<cluster token: kept in the state directory, never printed>"
REDACTED_AGENT: Final = "<agent token: kept in the state directory, never printed>"
PLAN_TOKENS: Final = Tokens(REDACTED, REDACTED_AGENT)
ROLE_LABEL: Final = "starcast.io/role"


@dataclass(frozen=True)
class Addresses:
    """What a node's k3s needs to know; None until Neutron has assigned it (in a plan)."""

    node_ip: str | None
    server_ip: str | None
    public_ip: str | None


def k3s_config(config: ClusterConfig, node: Node, tokens: Tokens, addresses: Addresses) -> str:
    """The node's /etc/rancher/k3s/config.yaml (k3s's flags as YAML keys).

    A server holds both tokens (`agent-token` is what it accepts from agents); an agent holds
    the agent token only, which cannot join a server or read the datastore's bootstrap data.
    """
    unknown = "<assigned by Neutron at up>"
    settings: dict[str, object] = {
        "token": tokens.server if node.role == "server" else tokens.agent,
        "node-name": node.name,
        "node-ip": addresses.node_ip or unknown,
        "node-label": [f"{ROLE_LABEL}={node.role}"],
    }
    if node.role == "server":
        public = addresses.public_ip or (
            "<floating IP, allocated at up>" if config.floating_ip else None
        )
        sans = [a for a in (public, addresses.node_ip) if a] + config.tls_san
        settings["tls-san"] = sans
        settings["agent-token"] = tokens.agent
        settings["write-kubeconfig-mode"] = "0600"
        if config.taint_server and config.agents > 0:
            settings["node-taint"] = ["node-role.kubernetes.io/control-plane:NoSchedule"]
    else:
        settings["server"] = f"https://{addresses.server_ip or unknown}:{KUBE_API_PORT}"
    return yaml.safe_dump(settings, sort_keys=False).rstrip()


def install_command(config: ClusterConfig, node: Node) -> str:
    if config.k3s.version is not None:
        pin = f"INSTALL_K3S_VERSION={shlex.quote(config.k3s.version)}"
    else:
        pin = f"INSTALL_K3S_CHANNEL={shlex.quote(str(config.k3s.channel))}"
    return f"curl -sfL {K3S_INSTALL_URL} | {pin} sh -s - {node.role}"


def render_user_data(
    config: ClusterConfig, node: Node, tokens: Tokens | None, addresses: Addresses
) -> str:
    """The user-data for `node`; with `tokens` None (a plan), the tokens are shown redacted."""
    import jinja2

    source = resources.files("starcast.bootstrap").joinpath("templates", TEMPLATE).read_text()
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return environment.from_string(source).render(
        cluster=config.name,
        node=node,
        k3s_config=k3s_config(config, node, tokens or PLAN_TOKENS, addresses),
        ssh_port=config.ssh_port,
        install_command=install_command(config, node),
    )
