"""cluster.yaml: the example validates; each bad field gets a message that names it and the fix."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from starcast.bootstrap.config import ConfigError, load_config

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "cluster.yaml"


def _write(tmp_path: Path, **changes: Any) -> Path:
    raw = yaml.safe_load(EXAMPLE.read_text())
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_the_example_validates() -> None:
    config = load_config(EXAMPLE)
    assert config.name == "starcast"
    assert config.tag == "starcast-cluster=starcast"
    assert config.agents == 2
    assert config.k3s.version == "v1.31.4+k3s1"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cidr": "10.42.1.0/24"}, "cidr: 10.42.1.0/24 overlaps k3s's own 10.42.0.0/16"),
        ({"cidr": "10.43.0.0/16"}, "overlaps k3s's own 10.43.0.0/16"),
        ({"cidr": "nonsense"}, "cidr: 'nonsense' is not a CIDR"),
        ({"admin_cidrs": ["2001:db8::/32"]}, "admin_cidrs: 2001:db8::/32: only IPv4"),
        ({"admin_cidrs": []}, "admin_cidrs: List should have at least 1 item"),
        ({"admin_cidrs": ["0.0.0.0/0"]}, "open to the whole internet"),
        ({"admin_cidrs": ["203.0.113.0/24", "0.0.0.0/0"]}, "set allow_world_admin: true"),
        ({"admin_cidrs": ["192.0.2.0/24", "192.0.2.0/24"]}, "each CIDR once"),
        ({"admin_cidr": "203.0.113.0/24"}, "write admin_cidrs: [203.0.113.0/24]"),
        ({"k3s": {"version": "1.31"}}, "k3s: k3s.version '1.31' is not like v1.31.4+k3s1"),
        ({"k3s": {}}, "set exactly one of k3s.version"),
        ({"k3s": {"version": "v1.31.4+k3s1", "channel": "stable"}}, "set exactly one"),
        ({"keypair": "mine"}, "keypair is set: also set ssh_key_file"),
        ({"name": "Bad_Name"}, "name: 'Bad_Name': use 2 to 32 of a-z, 0-9 and '-'"),
        ({"name": "ends-"}, "starting with a letter and not ending with '-'"),
        ({"name": "trailing\n"}, "name: 'trailing\\n': use 2 to 32"),
        ({"k3s": {"version": "v1.31.4+k3s1\n"}}, "is not like v1.31.4+k3s1"),
        ({"k3s": {"channel": "edge"}}, "k3s.channel 'edge': use stable, latest, testing"),
        ({"tls_san": ["k3s.example.org", "bad name"]}, "tls_san: 'bad name' is neither an IP"),
        ({"tls_san": ["a\n  - evil: true"]}, "is neither an IP address nor a DNS name"),
        ({"cidr": "192.168.42.0/29"}, "is too small for the nodes: use a /28 or larger"),
        ({"cidr": "192.168.42.1/24"}, "cidr: '192.168.42.1/24' is not a CIDR"),
        ({"ssh_key_file": "id"}, "ssh_key_file is set: also set keypair"),
        ({"ssh_port": 0}, "ssh_port: Input should be greater than or equal to 1"),
        ({"agents": 51}, "agents: Input should be less than or equal to 50"),
        ({"timeouts": {"api": 0}}, "timeouts.api: Input should be greater than 0"),
        ({"charts": [{"release": "x1", "chart": "c", "valuse": {}}]}, "charts.0.valuse: unknown"),
        ({"charts": [{"chart": "c"}]}, "charts.0.release: Field required"),
        ({"agents": -1}, "agents: Input should be greater than or equal to 0"),
        ({"flavour": "m1.small"}, "flavour: unknown field"),
        ({"image": None}, "image: Field required"),
    ],
)
def test_a_bad_field_is_named_with_its_fix(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(_write(tmp_path, **changes))
    assert message in str(raised.value)


def test_every_bad_field_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(_write(tmp_path, cidr="10.42.0.0/24", agents=-1, image=None))
    lines = str(raised.value).splitlines()[1:]
    assert [line.split(":")[0].strip() for line in lines] == ["image", "agents", "cidr"]


def test_the_whole_internet_as_admin_only_when_asked(tmp_path: Path) -> None:
    path = _write(tmp_path, admin_cidrs=["0.0.0.0/0"], allow_world_admin=True)
    assert load_config(path).admin_cidrs == ["0.0.0.0/0"]
    several = load_config(_write(tmp_path, admin_cidrs=["192.0.2.0/24", "198.51.100.7/32"]))
    assert several.admin_cidrs == ["192.0.2.0/24", "198.51.100.7/32"]


def test_valid_sans_are_kept(tmp_path: Path) -> None:
    sans = ["k3s.example.org", "203.0.113.7", "*.apps.example.org", "localhost"]
    assert load_config(_write(tmp_path, tls_san=sans)).tls_san == sans


def test_local_files_are_checked_at_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ssh_key_file .*/keys/id does not exist: point it at"):
        load_config(_write(tmp_path, keypair="mine", ssh_key_file="keys/id"))
    with pytest.raises(ConfigError, match=r"charts\.0\.chart: chart directory .*/nope does not"):
        load_config(_write(tmp_path, charts=[{"release": "op", "chart": "./nope"}]))
    config = load_config(_write(tmp_path, charts=[{"release": "rel", "chart": "repo/name"}]))
    assert config.charts[0].chart == "repo/name"  # a repository chart is helm's to find


def test_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "id").write_text("a private key")
    config = load_config(
        _write(tmp_path, keypair="mine", ssh_key_file="keys/id", state_dir="state")
    )
    assert config.ssh_key_file == tmp_path / "keys" / "id"
    assert config.state_path == tmp_path / "state"
    assert config.kubeconfig_path == tmp_path / "state" / "kubeconfig"


def test_unreadable_and_non_mapping_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(tmp_path / "list.yaml")
    (tmp_path / "bad.yaml").write_text("a: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "bad.yaml")
