"""The Secret Service read directly, where keyring itself would read it: a keyring cache hit
without keyring's imports and backend discovery (~120 ms of a ~200 ms hit).

keyring, secretstorage, jeepney and cryptography are too heavy for a cached run. This reads the
entry keyring's SecretService backend reads for get_password, with the least of its machinery:
one D-Bus connection over `_socket` (`socket` imports enum), EXTERNAL auth, and the calls
secretstorage makes (the collection's Locked and SearchItems, the first item's Locked and
GetSecret), through an encrypted session as secretstorage opens it
(dh-ietf1024-sha256-aes128-cbc-pkcs7: RFC 2409's 1024-bit group, HKDF-SHA256, AES-128-CBC).

It only ever answers with the text keyring would return. Where keyring's configuration might
choose another backend (`doubt`), and wherever anything is not exactly as expected (a locked
collection or item, an error reply, no entry, a plain-only session, a slow or odd bus), it
answers None and the caller asks keyring. It never writes, unlocks or prompts.
"""

from __future__ import annotations

import os
import sys

from mfa_env.platform import NONBLOCK  # loaded by then on the cached path: os, stat, sys
from mfa_env.record import TYPE_CHECKING

if TYPE_CHECKING:
    import _socket
    from collections.abc import Iterable, Mapping, Sequence
    from datetime import datetime
    from typing import Any, Literal

    from mfa_env.cache import SessionKey
    from mfa_env.credentials import Credentials

    Order = Literal["little", "big"]

# What keyring loads when PYTHON_KEYRING_BACKEND names the Secret Service (keyring.core.load_env).
BACKEND = "keyring.backends.SecretService.Keyring"
# keyring's own entry points (its dist-info's [keyring.backends]); any other plugin may outrank
# the Secret Service, or make the chainer ask it first.
_OWN_BACKENDS = frozenset(
    f"keyring.backends.{name}"
    for name in ("kwallet", "SecretService", "Windows", "chainer", "libsecret", "macOS")
)
# Without these keyring would not be there, or its SecretService module would not load.
_PACKAGES = ("keyring", "secretstorage", "jeepney", "cryptography")
_LEAST = {"secretstorage": (3, 2), "keyring": (23, 0)}  # SecretService's own floor; our tests'

BUS_NAME = "org.freedesktop.secrets"
SERVICE_PATH = "/org/freedesktop/secrets"
# secretstorage's DEFAULT_COLLECTION: keyring's choice without a preferred_collection (which only
# a KEYRING_PROPERTY_ setting, a doubt here, could give it).
COLLECTION = "/org/freedesktop/secrets/aliases/default"
ALGORITHM = "dh-ietf1024-sha256-aes128-cbc-pkcs7"
_SECRET = "org.freedesktop.Secret."
_PROPERTIES = "org.freedesktop.DBus.Properties"

# Seconds for connecting and for each round trip after: a local daemon answers in milliseconds.
TIMEOUT = 1.0
# The largest message read: a cache entry (64 KiB at most) encrypted, with room for headers.
MAX_MESSAGE = 256 * 1024
MAX_MESSAGES = 64  # messages read for one batch of replies (signals included) before giving up
_MAX_DEPTH = 64  # D-Bus allows 32 arrays and 32 structs nested

# RFC 2409's second Oakley group (1024-bit MODP), generator 2: secretstorage's DH_PRIME_1024.
DH_PRIME = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A0879"
    "8E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B"
    "0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF",
    16,
)


class Doubt(Exception):
    """The direct read will not answer: keyring decides."""


# -- would keyring read the Secret Service? ----------------------------------------------------


def doubt(
    environ: Mapping[str, str] | None = None,
    path: Sequence[object] | None = None,
    platform: str | None = None,
) -> str | None:
    """Why keyring might use another backend here (or not load at all), or None when its
    configuration makes the Secret Service its backend. Mirrors keyring.core._detect_backend:
    the environment, then keyringrc.cfg, then the highest priority among the viable backends
    (the chainer's too), each of which a run of keyring would find on `path` (sys.path)."""
    environ = os.environ if environ is None else environ
    path = sys.path if path is None else path
    if not (sys.platform if platform is None else platform).startswith("linux"):
        return "not Linux"
    named = environ.get("PYTHON_KEYRING_BACKEND")
    if named is not None and named != BACKEND:
        return "PYTHON_KEYRING_BACKEND names another backend"
    # keyring's set_properties_from_env finds the prefix anywhere in a name (str.partition).
    if any("KEYRING_PROPERTY_" in name for name in environ):
        return "a KEYRING_PROPERTY_ setting"
    home = environ.get("HOME", "")
    if not home.startswith("/"):
        return "HOME is not an absolute path"
    if named is None:
        config = environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
        if os.path.lexists(os.path.join(config, "python_keyring", "keyringrc.cfg")):
            return "a keyringrc.cfg"
    found: dict[str, str] = {}
    versions: dict[str, tuple[int, ...]] = {}
    for entry in path:
        if not isinstance(entry, str):
            return "a sys.path entry that is not text"
        try:
            names = os.listdir(entry or ".")
        except FileNotFoundError:
            continue
        except OSError:  # a zip file on sys.path, or one we may not list: unknown contents
            return f"sys.path entry {entry!r} cannot be listed"
        for name in names:
            if name in _PACKAGES or name == "dbus":
                found.setdefault(name, entry)
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            project, version = _distribution(name)
            if project in _LEAST:
                versions.setdefault(project, version)
            if named is None and not _own_entry_points(os.path.join(entry, name)):
                return f"{name} has a keyring backend"
    for package in _PACKAGES:
        if package not in found:
            return f"{package} is not installed"
    for project, least in _LEAST.items():
        if versions.get(project, ()) < least:
            return f"{project} is older than {'.'.join(map(str, least))} or has no metadata"
    # keyring's KWallet backend outranks the Secret Service on KDE (5.1 > 5), given dbus-python.
    desktop = environ.get("XDG_CURRENT_DESKTOP", "").split(":")
    if named is None and "KDE" in desktop and "dbus" in found:
        return "KWallet on KDE"
    return None


def _distribution(name: str) -> tuple[str, tuple[int, ...]]:
    """A dist-info or egg-info directory's project (normalized) and leading release numbers."""
    base = name.rpartition(".")[0]
    project, _, rest = base.partition("-")
    numbers: list[int] = []
    for part in rest.partition("-")[0].split("."):
        if not (part.isascii() and part.isdigit()):
            break
        numbers.append(int(part))
    return project.lower().replace("-", "_").replace(".", "_"), tuple(numbers)


def _own_entry_points(directory: str) -> bool:
    """False when a distribution registers a keyring backend other than keyring's own."""
    try:  # os.open, not open(): a text file object costs more than the read, ~80 times a run
        fd = os.open(os.path.join(directory, "entry_points.txt"), os.O_RDONLY | NONBLOCK)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False
    try:
        data = os.read(fd, 1 << 20)
    except OSError:
        return False
    finally:
        os.close(fd)
    if b"keyring.backends" not in data:
        return True
    section = ""
    for line in data.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line.strip("[]").strip()
        elif section == "keyring.backends" and line and not line.startswith(("#", ";")):
            target = line.partition("=")[2].partition(":")[0].strip()
            if target not in _OWN_BACKENDS:
                return False
    return True


# -- D-Bus messages: the marshalling of the types the Secret Service uses -----------------------

_ALIGN = {"y": 1, "b": 4, "n": 2, "q": 2, "i": 4, "u": 4, "x": 8, "t": 8, "d": 8, "h": 4,
          "s": 4, "o": 4, "g": 1, "a": 4, "(": 8, "{": 8, "v": 1}  # fmt: skip
_INTS = {"y": (1, False), "n": (2, True), "q": (2, False), "i": (4, True), "u": (4, False),
         "x": (8, True), "t": (8, False), "h": (4, False)}  # fmt: skip


def complete_types(signature: str) -> list[str]:
    """A signature split into its complete types; Doubt for one that is not valid."""
    types = []
    start = 0
    while start < len(signature):
        end = _type_end(signature, start, 0)
        types.append(signature[start:end])
        start = end
    return types


def _type_end(signature: str, start: int, depth: int) -> int:
    if depth > _MAX_DEPTH or start >= len(signature):
        raise Doubt("a bad signature")
    code = signature[start]
    if code == "a":
        if signature[start + 1 : start + 2] == "{":
            key = start + 2
            if key >= len(signature) or signature[key] not in "ynqiuxthbdsog":
                raise Doubt("a bad dict key")
            end = _type_end(signature, _type_end(signature, key, depth + 1), depth + 1)
            if signature[end : end + 1] != "}":
                raise Doubt("a bad dict entry")
            return end + 1
        return _type_end(signature, start + 1, depth + 1)
    if code == "(":
        end = start + 1
        while signature[end : end + 1] != ")":
            end = _type_end(signature, end, depth + 1)
        if end == start + 1:
            raise Doubt("an empty struct")
        return end + 1
    if code in _ALIGN and code not in "{":
        return start + 1
    raise Doubt("a bad signature")


class Writer:
    """A message body or header being marshalled, little-endian."""

    def __init__(self) -> None:
        self.data = bytearray()

    def pad(self, alignment: int) -> None:
        self.data += bytes(-len(self.data) % alignment)

    def write(self, signature: str, values: Sequence[object]) -> None:
        for kind, value in zip(complete_types(signature), values, strict=True):
            self.value(kind, value)

    def value(self, kind: str, value: Any) -> None:
        code = kind[0]
        self.pad(_ALIGN[code])
        if code in _INTS:
            size, signed = _INTS[code]
            self.data += int(value).to_bytes(size, "little", signed=signed)
        elif code == "b":
            self.data += (1 if value else 0).to_bytes(4, "little")
        elif code == "d":
            import struct  # only the tests marshal doubles

            self.data += struct.pack("<d", value)
        elif code in "sog":
            raw = str(value).encode()
            self.data += len(raw).to_bytes(1 if code == "g" else 4, "little") + raw + b"\0"
        elif code == "v":
            inner, held = value
            self.value("g", inner)
            self.value(inner, held)
        elif code == "(":
            self.write(kind[1:-1], value)
        else:  # an array
            element = kind[1:]
            self.value("u", 0)
            at = len(self.data)
            self.pad(_ALIGN[element[0]])
            start = len(self.data)
            if element == "y":
                self.data += bytes(value)
            elif element[0] == "{":
                key, held = complete_types(element[1:-1])
                for entry_key, entry_value in value.items():
                    self.pad(8)
                    self.value(key, entry_key)
                    self.value(held, entry_value)
            else:
                for item in value:
                    self.value(element, item)
            self.data[at - 4 : at] = (len(self.data) - start).to_bytes(4, "little")


class Reader:
    """A message being unmarshalled, in its sender's byte order; Doubt for anything amiss."""

    def __init__(self, data: bytes, order: Order, start: int = 0) -> None:
        self.data = data
        self.order = order
        self.at = start

    def take(self, size: int) -> bytes:
        end = self.at + size
        if end > len(self.data):
            raise Doubt("a truncated message")
        chunk = self.data[self.at : end]
        self.at = end
        return chunk

    def pad(self, alignment: int) -> None:
        if any(self.take(-self.at % alignment)):
            raise Doubt("padding that is not zero")

    def read(self, signature: str) -> list[Any]:
        return [self.value(kind, 0) for kind in complete_types(signature)]

    def value(self, kind: str, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise Doubt("values nested too deep")
        code = kind[0]
        self.pad(_ALIGN[code])
        if code in _INTS:
            size, signed = _INTS[code]
            return int.from_bytes(self.take(size), self.order, signed=signed)
        if code == "b":
            flag = int.from_bytes(self.take(4), self.order)
            if flag > 1:
                raise Doubt("a boolean that is neither 0 nor 1")
            return flag == 1
        if code == "d":
            raw = self.take(8)
            return memoryview(raw if self.order == sys.byteorder else raw[::-1]).cast("d")[0]
        if code in "sog":
            size = self.take(1)[0] if code == "g" else self.length()
            raw = self.take(size)
            if self.take(1) != b"\0" or b"\0" in raw:
                raise Doubt("a string that is not terminated")
            try:
                return raw.decode()
            except UnicodeDecodeError:
                raise Doubt("a string that is not UTF-8") from None
        if code == "v":
            inner = str(self.value("g", depth))
            if len(complete_types(inner)) != 1:
                raise Doubt("a variant of other than one type")
            return (inner, self.value(inner, depth + 1))
        if code == "(":
            return tuple(self.value(item, depth + 1) for item in complete_types(kind[1:-1]))
        element = kind[1:]
        size = self.length()
        self.pad(_ALIGN[element[0]])
        end = self.at + size
        if end > len(self.data):
            raise Doubt("a truncated array")
        if element == "y":
            return self.take(size)
        entries: list[Any] = []
        while self.at < end:
            if element[0] == "{":
                self.pad(8)
                key, held = complete_types(element[1:-1])
                entries.append((self.value(key, depth + 1), self.value(held, depth + 1)))
            else:
                entries.append(self.value(element, depth + 1))
        if self.at != end:
            raise Doubt("an array that overruns its length")
        return dict(entries) if element[0] == "{" else entries

    def length(self) -> int:
        return int.from_bytes(self.take(4), self.order)


# Header fields by code (the D-Bus specification's table).
PATH, INTERFACE, MEMBER, ERROR_NAME, REPLY_SERIAL, DESTINATION, SENDER, SIGNATURE = range(1, 9)
_FIELD_TYPES = {PATH: "o", INTERFACE: "s", MEMBER: "s", ERROR_NAME: "s", REPLY_SERIAL: "u",
                DESTINATION: "s", SENDER: "s", SIGNATURE: "g", 9: "u"}  # fmt: skip
METHOD_CALL, METHOD_RETURN, ERROR = 1, 2, 3


def method_call(
    serial: int,
    path: str,
    interface: str,
    member: str,
    destination: str,
    signature: str = "",
    body: Sequence[object] = (),
) -> bytes:
    """A method call message, little-endian."""
    content = Writer()
    content.write(signature, body)
    fields: dict[int, tuple[str, object]] = {
        PATH: ("o", path), INTERFACE: ("s", interface), MEMBER: ("s", member),
        DESTINATION: ("s", destination),
    }  # fmt: skip
    if signature:
        fields[SIGNATURE] = ("g", signature)
    header = Writer()
    header.write("yyyyuua{yv}", [ord("l"), METHOD_CALL, 0, 1, len(content.data), serial, fields])
    header.pad(8)
    return bytes(header.data + content.data)


class Message:
    """A message received: its type, header fields and body."""

    def __init__(self, kind: int, fields: dict[int, object], body: list[object]) -> None:
        self.kind = kind
        self.fields = fields
        self.body = body


def message_size(head: bytes) -> int:
    """The whole length of the message whose first 16 bytes are `head`."""
    order = _order(head)
    if head[3] != 1:
        raise Doubt("a D-Bus protocol version other than 1")
    body = int.from_bytes(head[4:8], order)
    fields = int.from_bytes(head[12:16], order)
    size = 16 + fields + -fields % 8 + body
    if size > MAX_MESSAGE:
        raise Doubt("a message too large")
    return size


def _order(head: bytes) -> Order:
    if head[:1] == b"l":
        return "little"
    if head[:1] == b"B":
        return "big"
    raise Doubt("a message in neither byte order")


def parse_message(data: bytes) -> Message:
    """One whole message (as long as message_size says)."""
    reader = Reader(data, _order(data))
    _endian, kind, _flags, _version, body_size, _serial = reader.read("yyyyuu")
    fields: dict[int, object] = {}
    for code, (signature, value) in reader.read("a(yv)")[0]:
        if code in _FIELD_TYPES and signature != _FIELD_TYPES[code]:
            raise Doubt("a header field of the wrong type")
        fields[code] = value
    reader.pad(8)
    start = reader.at
    body = reader.read(str(fields.get(SIGNATURE, "")))
    if reader.at - start != body_size or reader.at != len(data):
        raise Doubt("a body of another length than its header says")
    return Message(kind, fields, body)


# -- the encrypted session: DH, HKDF-SHA256 and AES-128-CBC --------------------------------------


def session_key(private: int, server_public: bytes) -> bytes:
    """The AES key secretstorage's Session derives: HKDF-SHA256, no salt, empty info, 16 bytes."""
    theirs = int.from_bytes(server_public, "big")
    if not (len(server_public) <= 128 and 1 < theirs < DH_PRIME - 1):
        raise Doubt("a Diffie-Hellman public key out of range")
    shared = pow(theirs, private, DH_PRIME).to_bytes(128, "big")
    pseudo_random = _hmac(bytes(32), shared)
    return _hmac(pseudo_random, b"\x01")[:16]


def _hmac(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 (RFC 2104) for a key of at most one block, without hmac's hashlib import."""
    from mfa_env.cache import sha256  # the stdlib's own, as the cache uses it

    block = key.ljust(64, b"\0")
    inner = sha256(bytes(byte ^ 0x36 for byte in block) + message).digest()
    return bytes(sha256(bytes(byte ^ 0x5C for byte in block) + inner).digest())


_TABLES: list[list[int]] = []  # S, inverse S, and the four decryption tables, built once


def _tables() -> list[list[int]]:
    if not _TABLES:
        exp, log = [0] * 255, [0] * 256
        x = 1
        for power in range(255):  # 3 generates GF(2^8)'s multiplicative group
            exp[power], log[x] = x, power
            x ^= ((x << 1) ^ (0x11B if x & 0x80 else 0)) & 0x1FF

        def times(a: int, b: int) -> int:
            return 0 if a == 0 or b == 0 else exp[(log[a] + log[b]) % 255]

        sbox, inverse = [0] * 256, [0] * 256
        for a in range(256):
            q = 0 if a == 0 else exp[-log[a] % 255]
            s = q
            for _ in range(4):
                q = ((q << 1) | (q >> 7)) & 0xFF
                s ^= q
            sbox[a], inverse[s ^ 0x63] = s ^ 0x63, a
        td0 = [
            times(0x0E, s) << 24 | times(0x09, s) << 16 | times(0x0D, s) << 8 | times(0x0B, s)
            for s in inverse
        ]
        rotated = [
            [(t >> shift | t << (32 - shift)) & 0xFFFFFFFF for t in td0] for shift in (8, 16, 24)
        ]
        _TABLES.extend([sbox, inverse, td0, *rotated])
    return _TABLES


def _round_keys(key: bytes) -> list[list[int]]:
    """AES-128's decryption round keys (the equivalent inverse cipher's), last round first."""
    sbox, _inverse, td0, td1, td2, td3 = _tables()
    words = [int.from_bytes(key[i : i + 4], "big") for i in range(0, 16, 4)]
    rcon = 1
    for i in range(4, 44):
        t = words[i - 1]
        if i % 4 == 0:
            t = (sbox[t >> 16 & 255] << 24 | sbox[t >> 8 & 255] << 16 | sbox[t & 255] << 8
                 | sbox[t >> 24]) ^ rcon << 24  # fmt: skip
            rcon = (rcon << 1) ^ (0x11B if rcon & 0x80 else 0)
        words.append(words[i - 4] ^ t)
    rounds = [words[i : i + 4] for i in range(40, -1, -4)]
    for middle in rounds[1:10]:
        for j, w in enumerate(middle):
            middle[j] = (td0[sbox[w >> 24]] ^ td1[sbox[w >> 16 & 255]] ^ td2[sbox[w >> 8 & 255]]
                         ^ td3[sbox[w & 255]])  # fmt: skip
    return rounds


def decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    """AES-128-CBC with PKCS#7 padding; Doubt for anything but a well-formed message."""
    if len(key) != 16 or len(iv) != 16 or not data or len(data) % 16:
        raise Doubt("an encrypted secret of the wrong shape")
    _sbox, inv, td0, td1, td2, td3 = _tables()
    rounds = _round_keys(key)
    first, last = rounds[0], rounds[10]
    out = bytearray()
    previous = int.from_bytes(iv, "big")
    for at in range(0, len(data), 16):
        block = int.from_bytes(data[at : at + 16], "big")
        s0 = (block >> 96) ^ first[0]
        s1 = (block >> 64 & 0xFFFFFFFF) ^ first[1]
        s2 = (block >> 32 & 0xFFFFFFFF) ^ first[2]
        s3 = (block & 0xFFFFFFFF) ^ first[3]
        for k in rounds[1:10]:
            s0, s1, s2, s3 = (
                td0[s0 >> 24] ^ td1[s3 >> 16 & 255] ^ td2[s2 >> 8 & 255] ^ td3[s1 & 255] ^ k[0],
                td0[s1 >> 24] ^ td1[s0 >> 16 & 255] ^ td2[s3 >> 8 & 255] ^ td3[s2 & 255] ^ k[1],
                td0[s2 >> 24] ^ td1[s1 >> 16 & 255] ^ td2[s0 >> 8 & 255] ^ td3[s3 & 255] ^ k[2],
                td0[s3 >> 24] ^ td1[s2 >> 16 & 255] ^ td2[s1 >> 8 & 255] ^ td3[s0 & 255] ^ k[3],
            )
        plain = (
            (inv[s0 >> 24] << 24 | inv[s3 >> 16 & 255] << 16 | inv[s2 >> 8 & 255] << 8
             | inv[s1 & 255]) ^ last[0]) << 96 | (
            (inv[s1 >> 24] << 24 | inv[s0 >> 16 & 255] << 16 | inv[s3 >> 8 & 255] << 8
             | inv[s2 & 255]) ^ last[1]) << 64 | (
            (inv[s2 >> 24] << 24 | inv[s1 >> 16 & 255] << 16 | inv[s0 >> 8 & 255] << 8
             | inv[s3 & 255]) ^ last[2]) << 32 | (
            (inv[s3 >> 24] << 24 | inv[s2 >> 16 & 255] << 16 | inv[s1 >> 8 & 255] << 8
             | inv[s0 & 255]) ^ last[3])  # fmt: skip
        out += (plain ^ previous).to_bytes(16, "big")
        previous = block
    padding = out[-1]
    if not 1 <= padding <= 16 or out[-padding:] != bytes([padding]) * padding:
        raise Doubt("bad padding")
    return bytes(out[:-padding])


# -- the conversation --------------------------------------------------------------------------


def _socket_path(address: str) -> str:
    """Where the session bus listens, from DBUS_SESSION_BUS_ADDRESS: the first unix address
    with a path or an abstract name, as jeepney takes it."""
    for one in address.split(";"):
        transport, _, rest = one.partition(":")
        if transport != "unix":
            continue
        options = dict(pair.partition("=")[::2] for pair in rest.split(","))
        for name, prefix in (("abstract", "\0"), ("path", "")):
            value = options.get(name)
            if value is not None:
                if not value or "%" in value:  # escaped bytes: rare, and a doubt
                    raise Doubt("a D-Bus address this does not read")
                return prefix + value
    raise Doubt("no unix D-Bus address")


class Connection:
    """One connection to the session bus, with an encrypted Secret Service session on it."""

    sock: _socket.socket

    def __init__(self, address: str, timeout: float = TIMEOUT) -> None:
        import _socket
        import time

        self._clock = time.monotonic
        self.timeout = timeout
        self.deadline = self._clock() + timeout
        self.buffer = b""
        self.serial = 0
        self.key = b""  # the session's AES key
        self.session = ""  # its object path
        if sys.platform == "win32":  # doubt() says so first; this tells mypy
            raise Doubt("not Linux")
        self.sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            self.sock.settimeout(timeout)
            self.sock.connect(_socket_path(address))
            self.sock.sendall(
                b"\0AUTH EXTERNAL " + str(os.getuid()).encode().hex().encode() + b"\r\n"
            )
            if not self._line().startswith(b"OK "):
                raise Doubt("the bus refused EXTERNAL authentication")
            self._open()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self.sock.close()

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            if len(self.buffer) > 512:
                raise Doubt("an authentication line too long")
            self._receive()
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def _receive(self) -> None:
        left = self.deadline - self._clock()
        if left <= 0:
            raise Doubt("the bus is too slow")
        self.sock.settimeout(left)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise Doubt("the bus hung up")
        self.buffer += chunk

    def _call(
        self,
        path: str,
        interface: str,
        member: str,
        signature: str = "",
        body: Sequence[object] = (),
        destination: str = BUS_NAME,
    ) -> tuple[int, bytes]:
        self.serial += 1
        return self.serial, method_call(
            self.serial, path, interface, member, destination, signature, body
        )

    def _get(self, path: str, interface: str, name: str) -> tuple[int, bytes]:
        return self._call(path, _PROPERTIES, "Get", "ss", [_SECRET + interface, name])

    def _exchange(
        self, calls: Iterable[tuple[tuple[int, bytes], str]], prefix: bytes = b""
    ) -> dict[int, list[Any]]:
        """Send the calls at once, each with the signature its reply must have; the replies'
        bodies by serial. Doubt for an error or any other reply."""
        expected = {serial: signature for (serial, _data), signature in calls}
        self.deadline = self._clock() + self.timeout
        self.sock.sendall(prefix + b"".join(data for (_serial, data), _signature in calls))
        replies: dict[int, list[Any]] = {}
        for _ in range(MAX_MESSAGES):
            if len(replies) == len(expected):
                return replies
            message = self._message()
            serial = message.fields.get(REPLY_SERIAL)
            if message.kind not in (METHOD_RETURN, ERROR) or serial not in expected:
                continue  # a signal (NameAcquired), or anything else not ours
            if message.kind == ERROR:
                raise Doubt(f"the bus answered {message.fields.get(ERROR_NAME)}")
            if message.fields.get(SIGNATURE, "") != expected[serial]:
                raise Doubt("a reply of another type")
            replies[serial] = message.body
        raise Doubt("too many messages that are not replies")

    def _message(self) -> Message:
        while len(self.buffer) < 16:
            self._receive()
        size = message_size(self.buffer[:16])
        while len(self.buffer) < size:
            self._receive()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return parse_message(data)

    def _open(self) -> None:
        """Hello, the collection's Locked and an encrypted session, in one round trip."""
        # 256 random bits, not secretstorage's 1024: the group is worth ~80 bits of security, so
        # twice that is the usual floor (NIST SP 800-56A), and each pow() costs a quarter.
        private = int.from_bytes(os.urandom(32), "big")
        public = pow(2, private, DH_PRIME).to_bytes(128, "big")
        bus = "org.freedesktop.DBus"
        hello = self._call("/org/freedesktop/DBus", bus, "Hello", destination=bus)
        locked = self._get(COLLECTION, "Collection", "Locked")
        session = self._call(
            SERVICE_PATH, _SECRET + "Service", "OpenSession", "sv", [ALGORITHM, ("ay", public)]
        )
        calls = [(hello, "s"), (locked, "v"), (session, "vo")]
        replies = self._exchange(calls, prefix=b"BEGIN\r\n")
        if replies[locked[0]] != [("b", False)]:
            raise Doubt("the collection is locked")
        (kind, theirs), self.session = replies[session[0]]
        if kind != "ay":  # "s" is a plain session: never here
            raise Doubt("an OpenSession reply without a public key")
        self.key = session_key(private, theirs)

    def read(self, attributes: Mapping[str, str]) -> str | None:
        """The secret of the collection's first item with these attributes, as keyring's
        get_password decodes it; None when there is none."""
        search = self._call(
            COLLECTION, _SECRET + "Collection", "SearchItems", "a{ss}", [dict(attributes)]
        )
        (items,) = self._exchange([(search, "ao")])[search[0]]
        if not items:
            return None
        item = items[0]  # keyring's: the first
        locked = self._get(item, "Item", "Locked")
        secret = self._call(item, _SECRET + "Item", "GetSecret", "o", [self.session])
        replies = self._exchange([(locked, "v"), (secret, "(oayays)")])
        if replies[locked[0]] != [("b", False)]:
            raise Doubt("the item is locked")
        ((session, iv, value, _content_type),) = replies[secret[0]]
        if session != self.session:
            raise Doubt("a secret for another session")
        try:
            return decrypt(self.key, iv, value).decode("utf-8")
        except UnicodeDecodeError:  # keyring raises; its own read says how
            raise Doubt("a secret that is not UTF-8") from None


def attributes(service: str, username: str) -> dict[str, str]:
    """keyring's query for (service, username) under its default scheme (SchemeSelectable)."""
    return {"username": username, "service": service}


def connect(environ: Mapping[str, str] | None = None) -> Connection | None:
    """A connection for reading as keyring would, or None: keyring decides."""
    environ = os.environ if environ is None else environ
    address = environ.get("DBUS_SESSION_BUS_ADDRESS")
    if not address or doubt(environ) is not None:
        return None
    try:
        return Connection(address)
    except Exception:  # Doubt, OSError, or anything a hostile peer could cause: keyring decides
        return None


def read(connection: Connection, service: str, username: str) -> str | None:
    """keyring's get_password(service, username) through `connection`, or None where it has no
    answer (or its answer would be None): keyring decides."""
    try:
        return connection.read(attributes(service, username))
    except Exception:  # as connect(); the tests drive Connection itself, where a bug shows
        connection.close()
        return None


# -- the keyring cache for a run that only reads ------------------------------------------------

SERVICE = "mfa-env"  # the keyring's name for every entry of ours (mfa_env.keys writes them)


def entry(raw: str, shown: str) -> dict[str, object] | None:
    """A keyring cache entry's document, checked as a file's (cache.Distrust otherwise)."""
    from mfa_env import cache

    if len(raw) > cache.MAX_ENTRY:
        raise cache.Distrust(f"{shown} is too large to be a cache entry")
    # surrogatepass: a lone surrogate is not JSON's UTF-8, and parse says so as for a file.
    return cache.parse(raw.encode("utf-8", "surrogatepass"), shown)


class Store:
    """The keyring cache (MFA_ENV_CACHE=keyring) read directly, for the cached path: `miss`
    (an exception class) is raised wherever this has no answer, and nothing is written, so the
    command, through keyring, decides everything else (and warns of what it distrusts)."""

    def __init__(self, miss: type[Exception]) -> None:
        self.miss = miss
        connection = connect()
        if connection is None:
            raise miss
        self.connection = connection

    def _document(self, name: str) -> dict[str, object] | None:
        raw = read(self.connection, SERVICE, name)
        if raw is None:
            raise self.miss
        return entry(raw, f"the keyring entry {name}")

    def load_session(self, key: SessionKey, now: datetime) -> Credentials | None:
        from mfa_env import cache

        try:
            document = self._document(key.name())
            return cache.session_from(document, key, now, f"the keyring entry {key.name()}")
        except cache.Distrust:
            raise self.miss from None

    def load_serial(self, source: str) -> str | None:
        from mfa_env import cache

        name = cache.serial_name(source)
        try:
            return cache.serial_from(self._document(name), source, f"the keyring entry {name}")
        except cache.Distrust:
            raise self.miss from None

    def store_session(self, key: SessionKey, creds: Credentials) -> None:
        raise self.miss

    def store_serial(self, source: str, serial: str) -> None:
        raise self.miss
