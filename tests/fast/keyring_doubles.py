"""Keyring backends for the tests: real `keyring.backend.KeyringBackend` subclasses that keep
their entries in memory and, on demand, fail at a chosen call in a chosen way.

In-process, `installed` makes one the keyring: keyring.get_keyring answers with it, and that
call is counted (and can fail) like the backend's own. A subprocess names one with
PYTHON_KEYRING_BACKEND. keyring registers every subclass for its own detection, so their priority
is visible to it only where PYTHON_KEYRING_BACKEND names them: keyring never picks one by itself.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from unittest import mock

import keyring.errors
from keyring.backend import KeyringBackend


@dataclass(frozen=True)
class Call:
    """One call into the backend: its kind (get_keyring, priority, get, set, delete), the real
    work, and for a set, a way to store some other text instead."""

    kind: str
    real: Callable[[], Any]
    store: Callable[[str], None] | None = None


# What a fault does instead of (or around) the call's real work; it answers for the call.
Fault = Callable[[Call], Any]


class _Priority:
    """The priority: read on the class (keyring's detection) it raises, as a backend's does where
    it cannot work, unless PYTHON_KEYRING_BACKEND names the class; read on a backend in use, it
    is one more call, where a fault can strike."""

    def __get__(self, backend: Any, owner: type) -> Any:
        if backend is None:
            if os.environ.get("PYTHON_KEYRING_BACKEND") == f"{owner.__module__}.{owner.__name__}":
                return 1
            raise RuntimeError("a test double: only where it is set")
        return backend.call(Call("priority", lambda: 1))


class MemoryKeyring(KeyringBackend):
    """Entries in a dict; every call counted and passed through `call`, where faults go."""

    priority = _Priority()  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}
        self.calls: list[str] = []

    def call(self, call: Call) -> Any:
        self.calls.append(call.kind)
        return call.real()

    def get_password(self, service: str, username: str) -> str | None:
        return self.call(Call("get", lambda: self.entries.get((service, username))))  # type: ignore[no-any-return]

    def set_password(self, service: str, username: str, password: str) -> None:
        def store(text: str) -> None:
            self.entries[(service, username)] = text

        self.call(Call("set", lambda: store(password), store))

    def delete_password(self, service: str, username: str) -> None:
        def real() -> None:
            if (service, username) not in self.entries:
                raise keyring.errors.PasswordDeleteError("no such entry")
            del self.entries[(service, username)]

        self.call(Call("delete", real))


class FaultKeyring(MemoryKeyring):
    """Fails at call number `at` (1-based, counted over every kind) with `fault`; the calls
    before and after it work. `plan` instead gives a fault (or None) for each call in turn."""

    def __init__(
        self, at: int | None = None, fault: Fault | None = None, plan: Sequence[Fault | None] = ()
    ) -> None:
        super().__init__()
        self.plan: list[Fault | None] = list(plan)
        if at is not None:
            self.plan = [None] * (at - 1) + [fault]
        self.faulted: list[str] = []  # the kinds of call a fault was applied to

    def call(self, call: Call) -> Any:
        index = len(self.calls)
        self.calls.append(call.kind)
        fault = self.plan[index] if index < len(self.plan) else None
        if fault is None:
            return call.real()
        self.faulted.append(call.kind)
        return fault(call)


# -- faults ---------------------------------------------------------------------------------------


def raising(error: BaseException) -> Fault:
    """The call fails before doing anything."""

    def fault(_call: Call) -> Any:
        raise error

    return fault


def raising_after(error: BaseException) -> Fault:
    """The call does its work, then reports a failure anyway."""

    def fault(call: Call) -> Any:
        call.real()
        raise error

    return fault


def answering(value: Any) -> Fault:
    """A get, a priority or the backend itself answers with `value`; a set or delete does its
    work and answers with `value` (which nobody should read)."""

    def fault(call: Call) -> Any:
        if call.kind in ("set", "delete"):
            call.real()
        return value

    return fault


def dropping(call: Call) -> Any:
    """A set that stores nothing and says nothing; a get that finds nothing."""
    return None


OTHER_KEYS = '{"aws_access_key_id": "AKIAOTHER", "aws_secret_access_key": "other"}'


def corrupting(call: Call) -> Any:
    """A set that stores something else; a get that reads something else."""
    if call.store is not None:
        call.store(OTHER_KEYS)
        return None
    return OTHER_KEYS if call.kind == "get" else call.real()


class _BadStr(Exception):
    def __str__(self) -> str:
        raise RuntimeError("a __str__ that fails")


class _WeirdText(str):
    """Text whose own methods lie: only str's may be used on it."""

    def encode(self, *args: Any, **kwargs: Any) -> bytes:  # type: ignore[override]
        raise RuntimeError("encode")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    __hash__ = str.__hash__


class _PosingAsText:
    """An object that claims str as its class."""

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return str


class _NoComparison:
    def __gt__(self, other: object) -> bool:
        raise TypeError("cannot compare")


DEEP_JSON = "[" * 100_000 + "]" * 100_000  # json.loads: RecursionError
HUGE = "x" * 2_000_000

ERRORS: list[BaseException] = [
    keyring.errors.PasswordSetError("the collection refused the item"),
    keyring.errors.KeyringLocked("locked"),
    keyring.errors.InitError("no collection"),
    keyring.errors.KeyringError(""),
    OSError(errno.EIO, "Input/output error"),
    ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
    RuntimeError("a backend bug"),
    ValueError("bad value"),
    TypeError("bad type"),
    KeyError("item"),
    AttributeError("'NoneType' object has no attribute 'unlock'"),
    RecursionError("maximum recursion depth exceeded"),
    MemoryError(),
    UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
    _BadStr(),
    RuntimeError("hostile \x1b]0;owned\x07\u202e text\nsecond line"),
    RuntimeError("y" * 10_000),
]

ANSWERS: list[Any] = [
    b'{"aws_access_key_id": "AKIA", "aws_secret_access_key": "s"}',
    42,
    3.5,
    [],
    {"aws_access_key_id": "AKIA"},
    object(),
    _PosingAsText(),
    _WeirdText("{}"),
    DEEP_JSON,
    "[" * 500 + "]" * 500,
    HUGE,
    '{"aws_access_key_id": 1, "aws_secret_access_key": null}',
    "null",
    "\ud800",
    '"\\ud800"',
    "",
    float("nan"),
    0,
    -1,
    _NoComparison(),
    None,
]


@dataclass(frozen=True)
class Named:
    """A fault with a name for test ids and messages."""

    name: str
    fault: Fault


def every_fault() -> list[Named]:
    """Every way a call can go wrong, each once."""
    faults = [Named(f"raise {type(e).__name__}#{i}", raising(e)) for i, e in enumerate(ERRORS)]
    faults += [
        Named(f"raise after the work {type(e).__name__}", raising_after(e))
        for e in (keyring.errors.PasswordSetError("timed out"), RuntimeError("late"))
    ]
    faults += [Named(f"answer {type(v).__name__}#{i}", answering(v)) for i, v in enumerate(ANSWERS)]
    faults += [Named("drop", dropping), Named("corrupt", corrupting)]
    return faults


# -- for PYTHON_KEYRING_BACKEND in a subprocess ------------------------------------------------


class RaisingKeyring(MemoryKeyring):
    """Every get and set raises an exception keyring does not know."""

    def call(self, call: Call) -> Any:
        if call.kind in ("get", "set"):
            raise RuntimeError("a backend bug")
        return call.real()


class BytesKeyring(MemoryKeyring):
    """Every get answers with bytes."""

    def call(self, call: Call) -> Any:
        return b"{}" if call.kind == "get" else call.real()


class DeepKeyring(MemoryKeyring):
    """Every get answers with JSON nested too deep to read."""

    def call(self, call: Call) -> Any:
        return DEEP_JSON if call.kind == "get" else call.real()


def document(key_id: str, secret: str) -> str:
    return json.dumps({"aws_access_key_id": key_id, "aws_secret_access_key": secret})


@contextlib.contextmanager
def installed(backend: MemoryKeyring) -> Iterator[MemoryKeyring]:
    """`backend` as the keyring for the block, every call counted: keyring.get_keyring too, so
    that a fault can strike there as well."""
    import keyring

    def get_keyring() -> Any:
        return backend.call(Call("get_keyring", lambda: backend))

    # Not pytest's monkeypatch: a subprocess imports this module as its keyring backend. No
    # session bus either: a Secret Service there would be read directly, past the double.
    with (
        mock.patch.object(keyring, "get_keyring", get_keyring),
        mock.patch.dict(os.environ),
    ):
        os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
        yield backend
