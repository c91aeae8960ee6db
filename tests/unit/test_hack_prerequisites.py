"""hack/prerequisites.sh and hack/go-toolchain.sh: a fresh machine gets what it lacks, and says so.

The Go module proxy is a directory here (curl reads file:// URLs as it reads https://), laid out
as proxy.golang.org serves the toolchain module: the zip and the checksum database's lookup.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import platform
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GO_TOOLCHAIN = ROOT / "hack" / "go-toolchain.sh"
PREREQUISITES = ROOT / "hack" / "prerequisites.sh"
PINNED = re.search(r"^readonly PINNED=(\S+)", GO_TOOLCHAIN.read_text(), re.M).group(1)  # type: ignore[union-attr]
ARCH = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]
VERSION = f"v0.0.1-{PINNED}.linux-{ARCH}"
MODULE = "golang.org/toolchain"


def fake_go(directory: Path, version: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    go = directory / "go"
    go.write_text(
        f'#!/bin/sh\n[ "$1" = env ] && echo {version} && exit 0\necho "go version {version}"\n'
    )
    go.chmod(0o755)
    return go


def module_proxy(root: Path, *, tamper: bool = False) -> str:
    """A GOPROXY directory serving the pinned toolchain (a stand-in go) and its checksum."""
    prefix = f"{MODULE}@{VERSION}/"
    files = {
        f"{prefix}bin/go": b'#!/bin/sh\necho pinned-go "$@"\n',
        f"{prefix}VERSION": PINNED.encode(),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    summary = "".join(f"{hashlib.sha256(files[n]).hexdigest()}  {n}\n" for n in sorted(files))
    h1 = "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()
    if tamper:
        files[f"{prefix}bin/go"] = b"#!/bin/sh\necho evil\n"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data in files.items():
                archive.writestr(name, data)
    (root / MODULE / "@v").mkdir(parents=True)
    (root / MODULE / "@v" / f"{VERSION}.zip").write_bytes(buffer.getvalue())
    lookup = root / "sumdb" / "sum.golang.org" / "lookup" / f"{MODULE}@{VERSION}"
    lookup.parent.mkdir(parents=True)
    lookup.write_text(f"61743986\n{MODULE} {VERSION} {h1}\n{MODULE} {VERSION}/go.mod h1:x\n\n")
    return root.as_uri()


def run(script: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in {"GO", "GOPROXY"}}
    return subprocess.run(
        [str(script), *args],
        env={**environment, **env},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.skipif(platform.system() != "Linux", reason="the stand-in toolchain is linux's")
def test_an_old_go_gets_the_pinned_toolchain_through_the_module_proxy(tmp_path: Path) -> None:
    old = fake_go(tmp_path / "old", "go1.19.8")  # Debian 12's golang-go
    proxy = module_proxy(tmp_path / "proxy")
    cache = tmp_path / "cache"

    fetched = run(
        GO_TOOLCHAIN, GO=str(old), GOPROXY=f"{proxy},direct", STARCAST_GO_CACHE=str(cache)
    )

    assert fetched.returncode == 0, fetched.stderr
    go = Path(fetched.stdout.strip())
    assert go == cache / f"{PINNED}.linux-{ARCH}" / "bin" / "go"
    assert (
        subprocess.run([go, "version"], capture_output=True, text=True).stdout
        == "pinned-go version\n"
    )
    assert "is go1.19.8; the plane's modules need go >= 1.26" in fetched.stderr
    assert f"installing Go {PINNED} ({MODULE}@{VERSION}) from {proxy}" in fetched.stderr
    # Once fetched, it is reused without the proxy.
    shutil.rmtree(tmp_path / "proxy")
    again = run(GO_TOOLCHAIN, GO=str(old), GOPROXY=proxy, STARCAST_GO_CACHE=str(cache))
    assert (again.returncode, again.stdout.strip()) == (0, str(go))


def test_a_toolchain_that_fails_its_checksum_is_never_unpacked(tmp_path: Path) -> None:
    proxy = module_proxy(tmp_path / "proxy", tamper=True)
    cache = tmp_path / "cache"

    refused = run(GO_TOOLCHAIN, GO="/nonexistent/go", GOPROXY=proxy, STARCAST_GO_CACHE=str(cache))

    assert refused.returncode == 1
    assert f"checksum mismatch for {MODULE}@{VERSION}" in refused.stderr
    assert not (cache / f"{PINNED}.linux-{ARCH}").exists()


def test_a_new_enough_go_is_used_as_it_is(tmp_path: Path) -> None:
    new = fake_go(tmp_path / "new", "go1.27.1")
    used = run(GO_TOOLCHAIN, GO=str(new), GOPROXY="off", STARCAST_GO_CACHE=str(tmp_path / "c"))
    assert (used.returncode, used.stdout.strip(), used.stderr) == (0, str(new), "")


def test_the_check_names_what_is_missing_and_what_make_installs(tmp_path: Path) -> None:
    # A PATH with every tool of this machine but curl and openssl.
    bare = tmp_path / "bin"
    bare.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        for tool in Path(directory).glob("*") if Path(directory).is_dir() else []:
            target = bare / tool.name
            if tool.name not in {"curl", "openssl", "go"} and not target.exists():
                target.symlink_to(tool)

    checked = run(
        PREREQUISITES, "check", PATH=str(bare), GO=str(fake_go(tmp_path / "o", "go1.19.8"))
    )

    assert checked.returncode == 1
    assert "curl: missing; installs Debian package curl" in checked.stderr
    assert "openssl: missing; installs Debian package openssl" in checked.stderr
    assert "python3: ok" in checked.stderr
    assert (
        f"go: go1.19.8, the plane needs >= 1.26.0; `make kube-plane` fetches {PINNED}"
        in checked.stderr
    )
    assert "`hack/prerequisites.sh install` (run by make) installs: curl openssl" in checked.stderr


def test_this_machine_has_every_prerequisite() -> None:
    checked = run(PREREQUISITES, "check")
    assert checked.returncode == 0, checked.stderr
