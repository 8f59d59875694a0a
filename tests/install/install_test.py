#!/usr/bin/env python3
"""`meson install --destdir` puts exactly what it should where it should,
and what it installs works: the binaries run, the systemd unit passes
`systemd-analyze verify` (its ExecStart pointed at the installed binary, its
man page looked up in the installed pages), and the example environment file
names only flags ringkv has.

Usage (meson runs it): install_test.py BUILD_DIR PREFIX BINDIR MANDIR UNIT_DIR DATADIR
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile


def fail(text):
    print("FAIL: " + text)
    sys.exit(1)


def run(command, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, timeout=120, **kwargs)


def installed_files(root):
    found = set()
    for directory, _, files in os.walk(root):
        for name in files:
            found.add(os.path.relpath(os.path.join(directory, name), root))
    return found


def check_unit(destdir, unit_path, bindir, mandir):
    """systemd-analyze verify, with ExecStart= in the destdir. verify exits
    0 on an unknown key (it only warns), so any output is a failure too."""
    with open(unit_path, encoding="utf-8") as f:
        unit = f.read()
    for required in ("DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes", "StateDirectory=ringkv",
                     "LimitNOFILE=", "LimitNICE=20\n", "EnvironmentFile=-", f"ExecStart={bindir}/ringkv\n"):
        if required not in unit:
            fail(f"ringkv.service lacks {required.strip()}")
    if "@" in re.sub(r"(?m)^#.*$", "", unit).replace("@system-service", "").replace("@privileged", ""):
        fail("ringkv.service holds an unsubstituted @variable@")
    with tempfile.TemporaryDirectory() as scratch:
        copy = os.path.join(scratch, "ringkv.service")
        with open(copy, "w", encoding="utf-8") as f:
            f.write(unit.replace(f"ExecStart={bindir}/", f"ExecStart={destdir}{bindir}/"))
        environment = dict(os.environ, MANPATH=destdir + mandir)
        result = run(["systemd-analyze", "verify", copy], env=environment)
        if result.returncode != 0 or result.stdout.strip() or result.stderr.strip():
            fail(f"systemd-analyze verify: exit {result.returncode}\n{result.stdout}{result.stderr}")
        # The same check must catch a broken unit, or passing means nothing.
        with open(copy, "w", encoding="utf-8") as f:
            f.write(unit.replace("ProtectSystem=strict", "ProtectSytem=strict")
                        .replace(f"ExecStart={bindir}/", f"ExecStart={destdir}{bindir}/"))
        broken = run(["systemd-analyze", "verify", copy], env=environment)
        if not broken.stderr.strip():
            fail("systemd-analyze verify said nothing about a misspelt key")


def check_environment_example(path, ringkv):
    """Every RINGKV_* variable of the example is one of ringkv's flags, and
    every flag but --help and --version has its variable there."""
    help_text = run([ringkv, "--help"]).stdout
    flags = set(re.findall(r"(?m)^  (--[a-z0-9-]+)", help_text)) - {"--help", "--version"}
    with open(path, encoding="utf-8") as f:
        variables = set(re.findall(r"(?m)^#?(RINGKV_[A-Z0-9_]+)=", f.read()))
    named = {"--" + v[len("RINGKV_"):].lower().replace("_", "-") for v in variables}
    if named - flags:
        fail(f"ringkv.env names variables for flags ringkv lacks: {sorted(named - flags)}")
    if flags - named:
        fail(f"ringkv.env lacks a variable for: {sorted(flags - named)}")
    start_with_every_example_value(path, ringkv)


def start_with_every_example_value(path, ringkv):
    """Every line of the example uncommented at once, as a user might: ringkv
    must take each value and start (a port, tokens and rules files and a
    data directory of the test's own replace the ones that need the
    machine)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RINGKV_")}
    with open(path, encoding="utf-8") as f:
        for name, value in re.findall(r"(?m)^#?(RINGKV_[A-Z0-9_]+)=(.*)$", f.read()):
            environment[name] = value
    with tempfile.TemporaryDirectory() as scratch:
        tokens = os.path.join(scratch, "tokens")
        with open(tokens, "w", encoding="utf-8") as f:
            f.write("a-token\n")
        rules = os.path.join(scratch, "rules.json")
        with open(rules, "w", encoding="utf-8") as f:
            f.write("[]\n")
        environment.update(RINGKV_BIND="127.0.0.1", RINGKV_PORT="0", RINGKV_THREADS="1", RINGKV_TOKENS=tokens,
                           RINGKV_RULES=rules, RINGKV_DATA_DIR=os.path.join(scratch, "data"),
                           RINGKV_MAX_MEMORY="64M")
        server = subprocess.Popen([ringkv], env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = server.stdout.readline()
        finally:
            server.terminate()
            _, errors = server.communicate(timeout=30)
        if "listening on" not in line:
            fail(f"ringkv did not start with every value of ringkv.env: {line}{errors}")


def main():
    build_dir, prefix, bindir, mandir, unit_dir, datadir = sys.argv[1:7]
    absolute = lambda path: path if os.path.isabs(path) else os.path.join(prefix, path)
    bindir, mandir, unit_dir, datadir = map(absolute, (bindir, mandir, unit_dir, datadir))
    destdir = tempfile.mkdtemp(prefix="ringkv-install-")
    try:
        result = run(["meson", "install", "-C", build_dir, "--no-rebuild", "--quiet", "--destdir", destdir])
        if result.returncode != 0:
            fail(f"meson install: exit {result.returncode}\n{result.stdout}{result.stderr}")
        expected = {
            os.path.join(bindir, "ringkv"),
            os.path.join(bindir, "ringkv-bench"),
            os.path.join(mandir, "man1", "ringkv.1"),
            os.path.join(mandir, "man1", "ringkv-bench.1"),
            os.path.join(unit_dir, "ringkv.service"),
            os.path.join(datadir, "doc", "ringkv", "examples", "ringkv.env"),
        }
        expected = {path.lstrip("/") for path in expected}
        found = installed_files(destdir)
        if found != expected:
            fail(f"installed {sorted(found)}, expected {sorted(expected)}")
        for name in ("ringkv", "ringkv-bench"):
            binary = destdir + os.path.join(bindir, name)
            if not os.access(binary, os.X_OK):
                fail(f"{binary} is not executable")
            version = run([binary, "--version"])
            if version.returncode != 0 or not version.stdout.startswith(name + " "):
                fail(f"{binary} --version: {version.stdout}{version.stderr}")
        check_unit(destdir, destdir + os.path.join(unit_dir, "ringkv.service"), bindir, mandir)
        check_environment_example(destdir + os.path.join(datadir, "doc", "ringkv", "examples", "ringkv.env"),
                                  destdir + os.path.join(bindir, "ringkv"))
    finally:
        shutil.rmtree(destdir, ignore_errors=True)
    print("install: binaries, man pages, unit and environment example in place; unit verified")


if __name__ == "__main__":
    main()
