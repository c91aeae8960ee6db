"""The fetched kubeconfig points at the public address; host keys come from cloud-init's block."""

import yaml

from starcast.bootstrap.kubeconfig import host_keys_from_console, remote_command, rewrite
from tests.support.ssh_server import cloud_init_console

K3S_YAML = """apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Q0E=
    server: https://127.0.0.1:6443
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
users:
- name: default
  user:
    client-certificate-data: Q0VSVA==
"""


def test_rewrite_points_at_the_public_address_and_names_the_cluster() -> None:
    document = yaml.safe_load(rewrite(K3S_YAML, "198.51.100.7", "demo"))
    assert document["clusters"][0]["cluster"]["server"] == "https://198.51.100.7:6443"
    assert document["clusters"][0]["cluster"]["certificate-authority-data"] == "Q0E="
    assert document["current-context"] == "demo"
    assert document["contexts"][0]["context"] == {"cluster": "demo", "user": "demo"}
    assert document["users"][0]["name"] == "demo"


def test_host_keys_are_read_from_the_last_boot_on_the_console() -> None:
    old = cloud_init_console("ssh-ed25519 OLDKEY")
    new = cloud_init_console("ssh-ed25519 NEWKEY")
    assert host_keys_from_console(old + "reboot\n" + new) == ["ssh-ed25519 NEWKEY"]
    assert host_keys_from_console("[  1.0] booting\n") == []


def test_the_remote_command_reads_k3s_yaml_through_sudo_unless_root() -> None:
    assert remote_command("debian") == "sudo -n cat /etc/rancher/k3s/k3s.yaml"
    assert remote_command("root") == "cat /etc/rancher/k3s/k3s.yaml"
