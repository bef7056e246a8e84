"""bin/install-peers: the one installer of the Debian peers the tests drive (bin/test and
.ci/run both run it). Exercised against fake trees (PEERS_ROOT) and stub apt-get /
debconf-set-selections on PATH, so nothing on this machine is installed or removed."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from core.config import BASE_DIR

SCRIPT = BASE_DIR / "bin" / "install-peers"
PROGRAMS = {
    "slapd": "usr/sbin/slapd", "ldap-utils": "usr/bin/ldapsearch", "scep": "usr/bin/scepclient",
    "chromium": "usr/bin/chromium", "openssl": "usr/bin/openssl",
    "certmonger": "usr/bin/getcert", "dbus-daemon": "usr/bin/dbus-daemon",
}
IS_ROOT = os.geteuid() == 0


def fake_tree(root, installed):
    for package in installed:
        program = root / PROGRAMS[package]
        program.parent.mkdir(parents=True, exist_ok=True)
        program.write_text("#!/bin/sh\n")
        program.chmod(0o755)
    return root


def stub_bin(folder, log, *, apt_fails: bool = False):
    """apt-get and debconf-set-selections that only log their arguments (and stdin)."""
    folder.mkdir()
    for name in ("apt-get", "debconf-set-selections"):
        fail = "exit 100" if apt_fails and name == "apt-get" else "exit 0"
        stdin = "" if name == "apt-get" else 'echo "  stdin: $(cat)" >> "$LOG"'
        (folder / name).write_text(f'#!/bin/sh\necho "{name} $*" >> "$LOG"\n{stdin}\n{fail}\n')
        (folder / name).chmod(0o755)
    return {"PATH": f"{folder}:/usr/bin:/bin", "LOG": str(log)}


def run(*args, root=None, env=None, as_nobody=False):
    command = [str(SCRIPT), *args]
    if as_nobody and IS_ROOT:  # a real non-root run
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    full_env = {**os.environ, **(env or {})}
    if root is not None:
        full_env["PEERS_ROOT"] = str(root)
    return subprocess.run(command, capture_output=True, text=True, env=full_env, timeout=30)


def test_nothing_missing_is_silent(tmp_path):
    root = fake_tree(tmp_path, PROGRAMS)
    for args in ((), ("--check",), ("--dry-run",)):
        done = run(*args, root=root)
        assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_check_names_exactly_the_missing_packages(tmp_path):
    root = fake_tree(tmp_path, ["ldap-utils", "chromium", "openssl", "dbus-daemon"])
    done = run("--check", root=root)
    assert done.returncode == 1
    assert done.stdout.strip() == ("Missing Debian packages the tests need: "
                                   "slapd scep certmonger")


def test_a_program_that_is_not_executable_counts_as_missing(tmp_path):
    root = fake_tree(tmp_path, PROGRAMS)
    (root / PROGRAMS["scep"]).chmod(0o644)
    done = run("--check", root=root)
    assert done.returncode == 1 and done.stdout.strip().endswith(": scep")


@pytest.mark.skipif(not IS_ROOT, reason="the install path runs as root")
def test_root_updates_then_installs_only_what_is_missing(tmp_path):
    root = fake_tree(tmp_path / "tree", ["ldap-utils", "chromium", "openssl", "dbus-daemon"])
    log = tmp_path / "apt.log"
    done = run(root=root, env=stub_bin(tmp_path / "stubs", log))
    assert done.returncode == 0, done.stderr
    assert "Installing missing Debian packages: slapd scep certmonger" in done.stdout
    assert log.read_text().splitlines() == [
        "debconf-set-selections ",
        "  stdin: slapd slapd/no_configuration boolean true",
        "apt-get update -qq",
        "apt-get install -y -qq --no-install-recommends slapd scep certmonger",
    ]


@pytest.mark.skipif(not IS_ROOT, reason="the install path runs as root")
def test_root_without_slapd_missing_skips_debconf(tmp_path):
    root = fake_tree(tmp_path / "tree", ["slapd", "ldap-utils", "scep", "openssl", "dbus-daemon",
                                         "certmonger"])
    log = tmp_path / "apt.log"
    done = run(root=root, env=stub_bin(tmp_path / "stubs", log))
    assert done.returncode == 0, done.stderr
    assert log.read_text().splitlines() == [
        "apt-get update -qq", "apt-get install -y -qq --no-install-recommends chromium"]


@pytest.mark.skipif(not IS_ROOT, reason="the install path runs as root")
def test_root_install_failure_stops_with_the_failed_command(tmp_path):
    root = fake_tree(tmp_path / "tree", [])
    log = tmp_path / "apt.log"
    done = run(root=root, env=stub_bin(tmp_path / "stubs", log, apt_fails=True))
    assert done.returncode == 1
    assert "install-peers: failed: apt-get update -qq" in done.stderr
    assert "apt-get install" not in log.read_text()  # stopped at the failed update


@pytest.mark.skipif(not IS_ROOT, reason="the install path runs as root")
def test_dry_run_prints_the_commands_and_runs_none(tmp_path):
    root = fake_tree(tmp_path / "tree", ["slapd", "ldap-utils", "chromium", "openssl",
                                         "dbus-daemon", "certmonger"])
    log = tmp_path / "apt.log"
    done = run("--dry-run", root=root, env=stub_bin(tmp_path / "stubs", log))
    assert done.returncode == 0
    assert done.stdout.splitlines()[1:] == [
        "+ apt-get update -qq",
        "+ DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends scep"]
    assert not log.exists()


def test_not_root_lists_the_missing_and_how_and_carries_on():
    # Under /tmp itself: pytest's tmp_path is private to root, and nobody must see the tree.
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o755)
        root = fake_tree(Path(folder), ["ldap-utils", "scep", "chromium", "openssl", "dbus-daemon",
                                        "certmonger"])
        done = run(root=root, as_nobody=True)
    assert done.returncode == 0  # bin/test goes on to run the tests
    lines = done.stderr.splitlines()
    assert lines[0] == "Missing Debian packages the tests need: slapd"
    assert "run as root" in lines[1]
    assert lines[2:5] == [
        "  echo 'slapd slapd/no_configuration boolean true' | debconf-set-selections",
        "  apt-get update -qq",
        "  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slapd"]
    assert lines[5] == "Continuing without them."


@pytest.mark.parametrize("args", [("--install",), ("--check", "--dry-run"), ("slapd",)])
def test_bad_arguments_are_refused_with_usage(tmp_path, args):
    done = run(*args, root=tmp_path)
    assert done.returncode == 2 and "usage:" in done.stderr


def test_bin_test_and_ci_run_both_use_it():
    for script in ("bin/test", ".ci/run"):
        lines = (BASE_DIR / script).read_text().splitlines()
        assert "bin/install-peers" in lines, script
    assert "apt-get" not in (BASE_DIR / ".ci/run").read_text()  # one installer only
