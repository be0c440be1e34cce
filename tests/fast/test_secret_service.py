"""The direct Secret Service read's pieces against the libraries keyring itself reads through:
AES-CBC against cryptography, the session key against secretstorage, D-Bus messages against
jeepney; and each rule of keyring's backend choice that sends a read to keyring instead."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given
from hypothesis import strategies as st
from jeepney import DBusAddress, new_error, new_method_call, new_method_return, new_signal
from jeepney.low_level import Endianness, Header, HeaderFields, Message, MessageType, Parser
from secretstorage.dhcrypto import Session

from mfa_env import cache, keys, secret_service
from mfa_env.secret_service import Doubt
from tests.fast import keyring_doubles as doubles
from tests.fast.keyring_doubles import FaultKeyring, MemoryKeyring
from tests.fast.stubs import creds
from tests.helpers import counted, reached

# -- AES-128-CBC and the session key ------------------------------------------------------------


def _cbc(key: bytes, iv: bytes) -> Cipher[modes.CBC]:
    return Cipher(algorithms.AES(key), modes.CBC(iv))


@pytest.mark.property
@counted(each={"plain": 0.3, "refused": 0.1})
@given(
    key=st.binary(min_size=16, max_size=16),
    iv=st.binary(min_size=16, max_size=16),
    plain=st.binary(max_size=80),
    forged=st.none() | st.binary(min_size=16, max_size=64).filter(lambda b: len(b) % 16 == 0),
)
def test_decryption_is_cryptographys(key: bytes, iv: bytes, plain: bytes, forged: bytes | None):
    # What secretstorage's peer sends: PKCS#7-padded AES-128-CBC; or any blocks at all, which
    # only decrypt where cryptography's unpadder accepts them too.
    if forged is None:
        padder = padding.PKCS7(128).padder()
        encryptor = _cbc(key, iv).encryptor()
        data = encryptor.update(padder.update(plain) + padder.finalize()) + encryptor.finalize()
    else:
        data = forged
    decryptor = _cbc(key, iv).decryptor()
    padded = decryptor.update(data) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        expected: bytes | None = unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        expected = None
    if expected is None:
        reached("refused")
        with pytest.raises(Doubt):
            secret_service.decrypt(key, iv, data)
    else:
        reached("plain")
        assert secret_service.decrypt(key, iv, data) == expected
        assert forged is not None or expected == plain


@pytest.mark.parametrize("shape", [(15, 16, 16), (16, 15, 16), (16, 16, 0), (16, 16, 17)])
def test_an_encrypted_secret_of_the_wrong_shape_is_a_doubt(shape: tuple[int, int, int]):
    key, iv, data = (bytes(size) for size in shape)
    with pytest.raises(Doubt):
        secret_service.decrypt(key, iv, data)


@pytest.mark.property
@counted()
@given(
    private=st.integers(2, 2**256),
    theirs=st.integers(2, secret_service.DH_PRIME - 2),
)
def test_the_session_key_is_secretstorages(private: int, theirs: int):
    session = Session()
    session.my_private_key = private
    session.set_server_public_key(theirs)
    reached()
    ours = secret_service.session_key(private, theirs.to_bytes(128, "big"))
    assert ours == session.aes_key


@pytest.mark.parametrize("theirs", [0, 1, secret_service.DH_PRIME - 1, secret_service.DH_PRIME])
def test_a_public_key_out_of_range_is_a_doubt(theirs: int):
    with pytest.raises(Doubt):
        secret_service.session_key(3, theirs.to_bytes(129, "big").lstrip(b"\0") or b"\0")


# -- D-Bus messages against jeepney --------------------------------------------------------------

_TEXT = st.text(st.characters(exclude_characters="\0", exclude_categories=["Cs"]), max_size=8)
BASIC: dict[str, st.SearchStrategy[Any]] = {
    "y": st.integers(0, 255),
    "b": st.booleans(),
    "n": st.integers(-(2**15), 2**15 - 1),
    "q": st.integers(0, 2**16 - 1),
    "i": st.integers(-(2**31), 2**31 - 1),
    "u": st.integers(0, 2**32 - 1),
    "x": st.integers(-(2**63), 2**63 - 1),
    "t": st.integers(0, 2**64 - 1),
    "d": st.floats(allow_nan=False),
    "s": _TEXT,
    "o": st.from_regex(r"\A(/|(/[A-Za-z0-9_]{1,4}){1,3})\Z"),
    "g": st.sampled_from(["", "s", "ao", "a{sv}", "(oayays)"]),
}
TYPES = st.recursive(
    st.sampled_from(sorted(BASIC)),
    lambda inner: st.one_of(
        inner.map(lambda kind: "a" + kind),
        st.lists(inner, min_size=1, max_size=3).map(lambda kinds: "(" + "".join(kinds) + ")"),
        st.tuples(st.sampled_from("ysu"), inner).map(lambda pair: "a{" + "".join(pair) + "}"),
        st.just("v"),
    ),
    max_leaves=4,
)


def values(kind: str) -> st.SearchStrategy[Any]:
    """Values of a D-Bus type as jeepney holds them."""
    if kind in BASIC:
        return BASIC[kind]
    if kind == "ay":
        return st.binary(max_size=12)
    if kind == "v":
        return st.sampled_from(sorted(BASIC)).flatmap(lambda held: values(held).map(
            lambda value: (held, value)))  # fmt: skip
    if kind.startswith("a{"):
        key, held = secret_service.complete_types(kind[2:-1])
        return st.dictionaries(values(key), values(held), max_size=3)
    if kind.startswith("a"):
        return st.lists(values(kind[1:]), max_size=3)
    return st.tuples(*map(values, secret_service.complete_types(kind[1:-1])))


BODIES = st.lists(TYPES, max_size=3).flatmap(
    lambda kinds: st.tuples(st.just("".join(kinds)), st.tuples(*map(values, kinds)))
)


@pytest.mark.property
@counted()
@given(body=BODIES, serial=st.integers(1, 2**32 - 1))
def test_our_calls_are_what_jeepney_reads(body: tuple[str, tuple[Any, ...]], serial: int):
    signature, content = body
    data = secret_service.method_call(serial, "/a/b", "x.y", "Get", "x.z", signature, content)
    parser = Parser()
    parser.add_data(data)
    message = parser.get_next_message()
    assert message is not None
    assert parser.get_next_message() is None
    reached()
    fields = message.header.fields
    assert (message.header.message_type, message.header.serial) == (MessageType.method_call, serial)
    assert fields[HeaderFields.path] == "/a/b"
    assert (fields[HeaderFields.interface], fields[HeaderFields.member]) == ("x.y", "Get")
    assert fields[HeaderFields.destination] == "x.z"
    assert fields.get(HeaderFields.signature, "") == signature
    assert message.body == content


def _reply(body: tuple[str, tuple[Any, ...]], big: bool) -> bytes:
    """A method return as a peer (jeepney) writes it, in either byte order."""
    signature, content = body
    fields: dict[HeaderFields, Any] = {HeaderFields.reply_serial: 3}
    if signature:
        fields[HeaderFields.signature] = signature
    order = Endianness.big if big else Endianness.little
    header = Header(order, MessageType.method_return, 0, 1, -1, 9, fields)
    return bytes(Message(header, content).serialise())


@pytest.mark.property
@counted()
@given(body=BODIES, big=st.booleans())
def test_replies_read_as_jeepney_wrote_them(body: tuple[str, tuple[Any, ...]], big: bool):
    data = _reply(body, big)
    assert secret_service.message_size(data[:16]) == len(data)
    message = secret_service.parse_message(data)
    reached()
    assert message.kind == secret_service.METHOD_RETURN
    assert message.fields[secret_service.REPLY_SERIAL] == 3
    assert message.body == list(body[1])


@pytest.mark.property
@counted(each={"refused": 0.2})
@given(
    body=BODIES,
    big=st.booleans(),
    flips=st.lists(st.tuples(st.integers(0), st.integers(0, 255)), min_size=1, max_size=3),
)
def test_a_damaged_message_is_a_doubt_or_a_message(
    body: tuple[str, tuple[Any, ...]], big: bool, flips: list[tuple[int, int]]
):
    data = bytearray(_reply(body, big))
    for at, byte in flips:
        data[at % len(data)] = byte
    reached()
    try:
        size = secret_service.message_size(bytes(data[:16]))
        if size != len(data):
            raise Doubt("another length")
        secret_service.parse_message(bytes(data))
    except Doubt:
        reached("refused")


@pytest.mark.parametrize(
    "signature", ["a", "(", "()", "a{vs}", "a{s}", "a{sss}", "{ss}", "z", "a" * 70 + "y", "(s"]
)
def test_a_bad_signature_is_a_doubt(signature: str):
    with pytest.raises(Doubt):
        secret_service.complete_types(signature)


def test_jeepney_agrees_on_a_secret_service_call():
    # The OpenSession call as secretstorage makes it, byte for byte but its serial.
    address = DBusAddress(secret_service.SERVICE_PATH, secret_service.BUS_NAME,
                          "org.freedesktop.Secret.Service")  # fmt: skip
    body = (secret_service.ALGORITHM, ("ay", bytes(range(128))))
    theirs = new_method_call(address, "OpenSession", "sv", body).serialise(serial=4)
    ours = secret_service.method_call(4, secret_service.SERVICE_PATH,
                                      "org.freedesktop.Secret.Service", "OpenSession",
                                      secret_service.BUS_NAME, "sv", body)  # fmt: skip
    assert ours == theirs


# -- keyring's choice of backend ----------------------------------------------------------------


def _site(root: Path, *extra: str, secretstorage: str = "3.5.0") -> Path:
    """A site-packages with what keyring needs to choose the Secret Service, and `extra`."""
    site = root / "site"
    for package in ("keyring", "secretstorage", "jeepney", "cryptography", *extra):
        (site / package).mkdir(parents=True)
    (site / "keyring-25.7.0.dist-info").mkdir()
    (site / "keyring-25.7.0.dist-info" / "entry_points.txt").write_text(
        "[console_scripts]\nkeyring = keyring.cli:main\n\n[keyring.backends]\n"
        "KWallet = keyring.backends.kwallet\nSecretService = keyring.backends.SecretService\n"
        "chainer = keyring.backends.chainer\n"
    )
    (site / f"SecretStorage-{secretstorage}.dist-info").mkdir()
    return site


def _plugin(site: Path) -> None:
    info = site / "keyrings.plugin-1.0.dist-info"
    info.mkdir()
    (info / "entry_points.txt").write_text("[keyring.backends]\nplugin = keyrings.plugin:Ring\n")


RULES: dict[str, tuple[dict[str, str], Any, str | None]] = {
    # name: (environment, what to do to the site or home, the doubt expected)
    "plain": ({}, None, None),
    "SecretService named": ({"PYTHON_KEYRING_BACKEND": secret_service.BACKEND}, None, None),
    "another backend named": (
        {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}, None,
        "PYTHON_KEYRING_BACKEND names another backend",
    ),
    "empty backend named": ({"PYTHON_KEYRING_BACKEND": ""}, None, "PYTHON_KEYRING_BACKEND"),
    "a property": ({"KEYRING_PROPERTY_SCHEME": "KeePassXC"}, None, "KEYRING_PROPERTY_"),
    "a property mid-name": ({"X_KEYRING_PROPERTY_APPID": "a"}, None, "KEYRING_PROPERTY_"),
    "keyringrc.cfg": ({}, "config", "a keyringrc.cfg"),
    "keyringrc.cfg under ~/.config": ({"XDG_CONFIG_HOME": ""}, "home config", "keyringrc"),
    "keyringrc.cfg, but the backend named": (
        {"PYTHON_KEYRING_BACKEND": secret_service.BACKEND}, "config", None,
    ),
    "a third-party backend": ({}, _plugin, "has a keyring backend"),
    "no secretstorage": ({}, "no secretstorage", "secretstorage is not installed"),
    "old secretstorage": ({}, "old secretstorage", "secretstorage is older than 3.2"),
    "KDE, with dbus-python": ({"XDG_CURRENT_DESKTOP": "KDE"}, "dbus", "KWallet on KDE"),
    "KDE, without": ({"XDG_CURRENT_DESKTOP": "KDE"}, None, None),
    "GNOME, with dbus-python": ({"XDG_CURRENT_DESKTOP": "ubuntu:GNOME"}, "dbus", None),
    "HOME relative": ({"HOME": "home"}, None, "HOME is not an absolute path"),
}  # fmt: skip


@pytest.mark.parametrize("rule", sorted(RULES))
def test_each_rule_of_keyrings_choice(rule: str, tmp_path: Path):
    environ, change, expected = RULES[rule]
    home = tmp_path / "home"
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / "xdg"), **environ}
    site = _site(tmp_path, *(["dbus"] if change == "dbus" else []),
                 secretstorage="3.1.2" if change == "old secretstorage" else "3.5.0")  # fmt: skip
    if change in ("config", "home config"):
        config = home / ("xdg" if change == "config" else ".config") / "python_keyring"
        config.mkdir(parents=True)
        (config / "keyringrc.cfg").write_text("[backend]\n")
    elif change == "no secretstorage":
        (site / "secretstorage").rmdir()
    elif callable(change):
        change(site)
    found = secret_service.doubt(env, [str(site), str(tmp_path / "absent")], "linux")
    if expected is None:
        assert found is None
    else:
        assert found is not None
        assert expected in found


def test_not_linux_is_a_doubt(tmp_path: Path):
    site = str(_site(tmp_path))
    assert secret_service.doubt({"HOME": "/h"}, [site], "linux") is None
    assert secret_service.doubt({"HOME": "/h"}, [site], "darwin") == "not Linux"


def test_a_zip_on_the_path_is_a_doubt(tmp_path: Path):
    (tmp_path / "lib.zip").write_bytes(b"PK")
    found = secret_service.doubt({"HOME": "/h"}, [str(tmp_path / "lib.zip")], "linux")
    assert found is not None
    assert "cannot be listed" in found


# -- reading, as far as it goes without a bus ------------------------------------------------------


class _Miss(Exception):
    pass


@pytest.mark.parametrize(
    "address", [None, "", "tcp:host=localhost,port=1", "unix:path=", "unix:path=/no%20such"]
)
def test_no_bus_to_reach_means_keyring_decides(
    address: str | None, monkeypatch: pytest.MonkeyPatch
):
    if address is None:
        monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    else:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    assert secret_service.connect() is None
    with pytest.raises(_Miss):
        secret_service.Store(_Miss)


def test_keyrings_query_is_the_default_schemes():
    from keyring.backends.SecretService import Keyring

    ours = secret_service.attributes("mfa-env", "session-1")
    assert ours == Keyring()._query("mfa-env", "session-1")


# -- KeyringStore: the direct read first, keyring only for the rest --------------------------------


class _Direct:
    """A direct connection that holds `entries` (by username), or doubts when it has none."""

    def __init__(self, entries: dict[str, str]) -> None:
        self.entries = entries

    def read(self, attributes: dict[str, str]) -> str | None:
        assert attributes["service"] == keys.SERVICE
        return self.entries.get(attributes["username"])

    def close(self) -> None:
        pass


NOW = datetime(2026, 12, 6, 12, tzinfo=timezone.utc)
KEY = cache.SessionKey("0" * 32, "arn:aws:iam::123456789012:mfa/alice")


def _document(key_id: str) -> str:
    made = creds(key_id, timedelta(hours=11), timedelta(hours=12), NOW)
    return cache.session_document(KEY, made).decode()


def test_the_keyring_cache_reads_directly_and_builds_keyring_only_for_what_it_cannot_answer(
    monkeypatch: pytest.MonkeyPatch,
):
    direct = _Direct({KEY.name(): _document("ASIADIRECT0000000001")})
    monkeypatch.setattr(secret_service, "connect", lambda: direct)
    with doubles.installed(MemoryKeyring()) as backend:
        backend.entries[(keys.SERVICE, cache.serial_name(KEY.source))] = cache.serial_document(
            KEY.source, KEY.serial
        ).decode()
        store = keys.KeyringStore()
        found = store.load_session(KEY, NOW)
        assert found is not None
        assert found.access_key_id == "ASIADIRECT0000000001"
        assert backend.calls == []  # keyring not even asked for its backend
        # No such entry directly: keyring's own answer.
        assert store.load_serial(KEY.source) == KEY.serial
        assert backend.calls == ["get_keyring", "priority", "get"]
        # Writes are keyring's, always.
        made = creds("ASIAWRITTEN000000001", timedelta(hours=11), timedelta(hours=12), NOW)
        store.store_session(KEY, made)
        assert backend.calls[-1] == "set"
        assert backend.entries[(keys.SERVICE, KEY.name())] == _document("ASIAWRITTEN000000001")


def test_without_a_direct_read_the_keyring_is_built_at_once_as_before(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(secret_service, "connect", lambda: None)
    with doubles.installed(MemoryKeyring()) as backend:
        keys.KeyringStore()
        assert backend.calls == ["get_keyring", "priority"]
    failing = FaultKeyring(1, doubles.raising(RuntimeError("no bus")))
    with (
        doubles.installed(failing),
        pytest.raises(keys.KeyringError, match="no usable OS keyring"),
    ):
        keys.KeyringStore()


@pytest.mark.parametrize("held", ["{not json", '{"format": 2, "key": 1}', "x" * (70 * 1024)])
def test_a_direct_entry_that_is_not_sane_is_distrusted_as_keyrings_would_be(
    held: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(secret_service, "connect", lambda: _Direct({KEY.name(): held}))
    with doubles.installed(MemoryKeyring()) as backend:
        backend.entries[(keys.SERVICE, KEY.name())] = held
        through_keyring = keys.KeyringStore()
        through_keyring.direct = None
        try:
            expected: object = through_keyring.load_session(KEY, NOW)
        except cache.Distrust as exc:
            expected = str(exc)
        try:
            found: object = keys.KeyringStore().load_session(KEY, NOW)
        except cache.Distrust as exc:
            found = str(exc)
    assert found == expected


def test_the_cached_paths_store_answers_only_what_it_can_read(monkeypatch: pytest.MonkeyPatch):
    direct = _Direct({KEY.name(): _document("ASIADIRECT0000000001"),
                      cache.serial_name("f" * 32): "{not json"})  # fmt: skip
    monkeypatch.setattr(secret_service, "connect", lambda: direct)
    store = secret_service.Store(_Miss)
    found = store.load_session(KEY, NOW)
    assert found is not None
    assert found.access_key_id == "ASIADIRECT0000000001"
    for miss in (
        lambda: store.load_session(KEY._replace(role="arn:aws:iam::1:role/r"), NOW),  # no entry
        lambda: store.load_session(KEY, NOW + timedelta(days=-3)),  # absurdly far ahead
        lambda: store.load_serial(KEY.source),  # no entry
        lambda: store.load_serial("f" * 32),  # not JSON: the command warns
        lambda: store.store_session(KEY, found),
        lambda: store.store_serial(KEY.source, KEY.serial),
    ):
        with pytest.raises(_Miss):
            miss()


# -- the conversation, against a Secret Service played here (jeepney writes its messages) ----------

SESSION_PATH = "/org/freedesktop/secrets/session/s1"
ITEM_PATH = "/org/freedesktop/secrets/collection/login/1"


class FakeSecretService:
    """A session bus with a Secret Service behind it, on a Unix socket in a thread: it answers
    as GNOME Keyring does, but for what `odd` changes (a scenario's name)."""

    def __init__(self, tmp_path: Path, odd: str = "", secret: bytes = b"the-secret") -> None:
        self.address = f"unix:path={tmp_path / 'bus'}"
        self.odd = odd
        self.secret = secret
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(tmp_path / "bus"))
        self.server.listen(1)
        self.calls: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError), self.server.accept()[0] as peer:
            self._talk(peer)

    def _talk(self, peer: socket.socket) -> None:
        data = b""
        while b"\r\n" not in data:
            data += peer.recv(4096)
        if self.odd == "rejected":
            peer.sendall(b"REJECTED EXTERNAL\r\n")
            return
        peer.sendall(b"OK 0123456789abcdef0123456789abcdef\r\n")
        if self.odd == "silent":
            time.sleep(1)
            return
        data = data.partition(b"\r\n")[2]
        while not data.startswith(b"BEGIN\r\n"):
            data += peer.recv(4096)
        parser = Parser()
        parser.add_data(data[len(b"BEGIN\r\n") :])
        serial = 100
        while True:
            message = parser.get_next_message()
            if message is None:
                chunk = peer.recv(65536)
                if not chunk:
                    return
                parser.add_data(chunk)
                continue
            for reply in self._replies(message):
                serial += 1
                peer.sendall(reply.serialise(serial=serial))

    def _replies(self, call: Message) -> list[Message]:
        member = call.header.fields[HeaderFields.member]
        self.calls.append(member)
        odd = self.odd
        if member == "Hello":
            bus = "org.freedesktop.DBus"
            name = DBusAddress("/org/freedesktop/DBus", bus, interface=bus)
            acquired = new_signal(name, "NameAcquired", "s", (":1.5",))
            return [acquired, new_method_return(call, "s", (":1.5",))]
        if member == "Get":
            path = call.header.fields[HeaderFields.path]
            locked = odd == ("locked item" if path == ITEM_PATH else "locked collection")
            return [new_method_return(call, "v", (("b", locked),))]
        if member == "OpenSession":
            if odd == "plain only":
                return [new_error(call, "org.freedesktop.DBus.Error.NotSupported")]
            ours = Session()
            ours.set_server_public_key(int.from_bytes(call.body[1][1], "big"))
            self.key = ours.aes_key
            public = ours.my_public_key.to_bytes(128, "big")
            if odd == "wrong type":
                return [new_method_return(call, "vs", (("ay", public), SESSION_PATH))]
            return [new_method_return(call, "vo", (("ay", public), SESSION_PATH))]
        if member == "SearchItems":
            found = [] if odd == "no item" else [ITEM_PATH, ITEM_PATH + "0"]
            return [new_method_return(call, "ao", (found,))]
        if member == "GetSecret":
            if odd == "huge":
                return [new_method_return(call, "ay", (bytes(secret_service.MAX_MESSAGE),))]
            padder = padding.PKCS7(128).padder()
            iv = bytes(range(16))
            assert self.key is not None
            encryptor = _cbc(self.key, iv).encryptor()
            value = encryptor.update(padder.update(self.secret) + padder.finalize())
            session = SESSION_PATH + ("x" if odd == "other session" else "")
            secret = (session, iv, value + encryptor.finalize(), "text/plain")
            return [new_method_return(call, "(oayays)", (secret,))]
        return [new_error(call, "org.freedesktop.DBus.Error.UnknownMethod")]

    def close(self) -> None:
        self.server.close()
        self.thread.join(5)


@pytest.fixture
def bus(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[FakeSecretService]:
    service = FakeSecretService(tmp_path, *getattr(request, "param", ()))
    yield service
    service.close()


def test_the_conversation_reads_the_first_item_as_keyring_does(bus: FakeSecretService):
    connection = secret_service.Connection(bus.address)
    assert secret_service.read(connection, "mfa-env", "entry") == "the-secret"
    assert bus.calls == ["Hello", "Get", "OpenSession", "SearchItems", "Get", "GetSecret"]


@pytest.mark.parametrize(
    ("bus", "why"),
    [
        (("rejected",), "refused EXTERNAL"),
        (("silent",), "timed out"),
        (("locked collection",), "the collection is locked"),
        (("plain only",), "NotSupported"),
        (("wrong type",), "a reply of another type"),
    ],
    indirect=["bus"],
    ids=["rejected", "silent", "locked collection", "plain only", "wrong type"],
)
def test_a_bus_that_will_not_open_an_encrypted_session_is_a_doubt(bus: FakeSecretService, why: str):
    with pytest.raises((Doubt, OSError), match=why):  # OSError: a timeout; connect() takes both
        secret_service.Connection(bus.address, timeout=0.2)


@pytest.mark.parametrize(
    ("bus", "why"),
    [
        (("locked item",), "the item is locked"),
        (("huge",), "a message too large"),
        (("other session",), "a secret for another session"),
        (("", b"\xff\xfe not UTF-8"), "not UTF-8"),
    ],
    indirect=["bus"],
    ids=["locked item", "huge", "other session", "not UTF-8"],
)
def test_an_item_that_cannot_be_read_as_keyring_would_is_left_to_keyring(
    bus: FakeSecretService, why: str
):
    connection = secret_service.Connection(bus.address)
    with pytest.raises(Doubt, match=why):
        connection.read(secret_service.attributes("mfa-env", "entry"))
    assert secret_service.read(connection, "mfa-env", "entry") is None  # keyring decides


@pytest.mark.parametrize("bus", [("no item",)], indirect=True, ids=["no item"])
def test_no_such_entry_is_none(bus: FakeSecretService):
    connection = secret_service.Connection(bus.address)
    assert secret_service.read(connection, "mfa-env", "entry") is None
