"""The direct Secret Service read against a real GNOME Keyring (on a private D-Bus) and the real
keyring: it reads what keyring wrote as keyring reads it, it is used exactly where keyring would
use the Secret Service, and a keyring-cached session is then served without loading keyring."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from mfa_env import cache, secret_service
from tests.helpers import IamUser, detached, no_tty
from tests.helpers import secret_service as running_secret_service

TEXTS = [
    "", "a", "x" * 15, "y" * 16, "z" * 17, "é" * 700, "😀 \u2028 \x7f\x01 quote' \"",
    json.dumps({"format": 2, "pad": "p" * 60000}),
]  # fmt: skip


def run_keyring(env: dict[str, str], code: str, given: object = None) -> object:
    """`code` run by keyring in its own process, with `given` as `given`; what it prints, as
    JSON."""
    script = f"import json, sys, keyring\ngiven = json.load(sys.stdin)\n{code}"
    done = subprocess.run(
        [sys.executable, "-c", script], input=json.dumps(given), capture_output=True,
        text=True, env=env, timeout=60, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def test_what_keyring_wrote_is_read_as_keyring_reads_it(isolate: Path):
    names = {f"entry-{i}": text for i, text in enumerate(TEXTS)}
    code = (
        "for name, text in given.items(): keyring.set_password('mfa-env', name, text)\n"
        "print(json.dumps({name: keyring.get_password('mfa-env', name) for name in given}))"
    )
    with running_secret_service(isolate) as env:
        theirs = run_keyring(env, code, names)
        connection = secret_service.connect(env)
        assert connection is not None, secret_service.doubt(env)
        ours = {name: secret_service.read(connection, "mfa-env", name) for name in names}
        absent = secret_service.read(connection, "mfa-env", "no-such-entry")
        other_service = secret_service.read(connection, "other", "entry-1")
    assert theirs == names
    assert ours == names
    assert (absent, other_service) == (None, None)


def test_a_locked_keyring_is_left_to_keyring(isolate: Path):
    with running_secret_service(isolate, unlock=False) as env:
        assert secret_service.doubt(env) is None
        assert secret_service.connect(env) is None


PLUGIN = """
from keyring.backend import KeyringBackend

class Ring(KeyringBackend):
    priority = 20
    def get_password(self, service, username): return None
    def set_password(self, service, username, password): pass
    def delete_password(self, service, username): pass
"""

# name: the environment's additions, and whether keyring is then expected to use the Secret
# Service (the cases where it does not are the rules that make the direct read stand aside).
CHOICES = {
    "plain": ({}, True),
    "SecretService named": ({"PYTHON_KEYRING_BACKEND": secret_service.BACKEND}, True),
    "KDE without dbus-python": ({"XDG_CURRENT_DESKTOP": "KDE"}, True),
    "another backend named": ({"PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}, False),
    "keyringrc.cfg": ({}, False),
    "a third-party backend": ({}, False),
}


@pytest.mark.parametrize("case", sorted(CHOICES))
def test_the_direct_read_stands_aside_wherever_keyring_would_not_use_the_secret_service(
    isolate: Path, case: str
):
    extra, secret_service_chosen = CHOICES[case]
    with running_secret_service(isolate) as env:
        env = {**env, **extra}
        if case == "keyringrc.cfg":
            config = isolate / ".config" / "python_keyring"
            config.mkdir(parents=True)
            (config / "keyringrc.cfg").write_text(
                "[backend]\ndefault-keyring = keyring.backends.null.Keyring\n"
            )
            env["XDG_CONFIG_HOME"] = str(isolate / ".config")
        if case == "a third-party backend":
            plugins = isolate / "plugins"
            info = plugins / "keyrings_test_plugin-1.0.dist-info"
            info.mkdir(parents=True)
            (info / "METADATA").write_text("Name: keyrings_test_plugin\nVersion: 1.0\n")
            (info / "entry_points.txt").write_text(
                "[keyring.backends]\nplugin = keyrings_test_plugin\n"
            )
            (plugins / "keyrings_test_plugin.py").write_text(PLUGIN)
            env["PYTHONPATH"] = str(plugins)
        # Both in one process: the same sys.path, the same environment.
        chosen, doubt = run_keyring(env, (
            "from mfa_env import secret_service\nring = keyring.get_keyring()\n"
            "print(json.dumps([f'{type(ring).__module__}.{type(ring).__name__}', "
            "secret_service.doubt()]))"
        ))  # type: ignore[misc]  # fmt: skip
    assert (chosen == secret_service.BACKEND) is secret_service_chosen, chosen
    assert (doubt is None) is secret_service_chosen, doubt


def imported(stderr: str) -> set[str]:
    """The modules `python -X importtime` says a run imported."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


@pytest.mark.parametrize(
    "extra",
    [{}, {"PYTHON_KEYRING_BACKEND": secret_service.BACKEND}, {"KEYRING_PROPERTY_APPID": "other"}],
    ids=["plain", "SecretService named", "a property"],
)
def test_a_keyring_cached_session_is_read_without_keyring_where_keyring_would_read_it_there(
    user: IamUser, isolate: Path, dead_url: str, extra: dict[str, str]
):
    with running_secret_service(isolate) as env:
        env = {**env, "MFA_ENV_CACHE": "keyring", **extra}
        moved = no_tty("--store-keys", "default", env=env)
        assert moved.returncode == 0, moved.stderr
        first = no_tty("--refresh", "--format", "json", user.name, "123456", env=env)
        assert first.returncode == 0, first.stderr
        command = [sys.executable, "-X", "importtime", "-m", "mfa_env", "--format", "json"]
        again = detached([*command, user.name], {**env, "AWS_ENDPOINT_URL": dead_url})
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout  # the cached session, through a dead endpoint
    said = [line for line in again.stderr.splitlines() if not line.startswith("import time:")]
    assert said == []
    modules = imported(again.stderr)
    assert "mfa_env.secret_service" in modules
    direct = "KEYRING_PROPERTY_APPID" not in extra  # a property: keyring decides
    assert ("keyring" not in modules) is direct
    assert ("click" not in modules) is direct  # served before click (mfa_env.main), or a miss
    assert not direct or {"secretstorage", "jeepney", "cryptography"}.isdisjoint(modules)


def test_the_keyring_cache_without_a_session_bus_is_one_line_as_before(user: IamUser):
    env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    done = no_tty("--shell", "bash", user.name, "123456", env={**env, "MFA_ENV_CACHE": "keyring"})
    assert (done.returncode, done.stdout.count("export")) == (1, 0)
    assert done.stderr.count("\n") == 1, done.stderr
    assert "no usable OS keyring" in done.stderr


class Miss(Exception):
    pass


def test_the_cached_paths_store_reads_what_the_command_cached(
    user: IamUser, isolate: Path, monkeypatch: pytest.MonkeyPatch
):
    with running_secret_service(isolate) as env:
        env = {**env, "MFA_ENV_CACHE": "keyring"}
        first = no_tty("--refresh", "--format", "json", user.name, "123456", env=env)
        assert first.returncode == 0, first.stderr
        for name in ("DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR", "XDG_DATA_HOME"):
            monkeypatch.setenv(name, env[name])
        source = cache.source_id(user.access_key_id)
        store = secret_service.Store(Miss)
        serial = store.load_serial(source)  # found through IAM, remembered in the keyring
        found = store.load_session(
            cache.SessionKey(source, user.serial), datetime.now(timezone.utc)
        )
        with pytest.raises(Miss):  # no such entry: the command asks keyring
            store.load_session(cache.SessionKey(source, user.serial, "arn:aws:iam::1:role/r"),
                               datetime.now(timezone.utc))  # fmt: skip
    assert serial == user.serial
    assert found is not None
    assert found.access_key_id == json.loads(first.stdout)["AccessKeyId"]
    assert found.secret_access_key == json.loads(first.stdout)["SecretAccessKey"]


def test_importing_the_direct_read_imports_nothing_else():
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import mfa_env.secret_service"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    before = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "pass"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    added = imported(done.stderr) - imported(before.stderr) - {"__future__"}  # site's, here
    assert added == {"mfa_env", "mfa_env.platform", "mfa_env.record", "mfa_env.secret_service"}
