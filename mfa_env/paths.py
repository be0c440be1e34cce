"""Where the AWS files and the cache live, and the one way mfa-env writes a private file.

Paths are plain strings: pathlib costs the cached path ~2 ms of imports; what only a write
needs (tempfile, contextlib) is imported by the write. Environment variables
are read at call time, so a test (or a user) can move every file with the environment alone.
"""

import os

from mfa_env import platform

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def _aws_path(variable: str, default: str) -> str:
    """As botocore finds an AWS file: the variable when it is set, even to nothing (its
    configprovider reads the environment with `name in os.environ`), expanded as
    configloader.raw_config_parse expands it. An empty one names no file: botocore reads none
    (os.path.isfile("") is False), and neither does mfa-env."""
    value = os.environ.get(variable)
    return os.path.expanduser(os.path.expandvars(default if value is None else value))


def credentials_file() -> str:
    """The shared credentials file; "" when AWS_SHARED_CREDENTIALS_FILE is set but empty."""
    return _aws_path("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")


def config_file() -> str:
    """The config file; "" when AWS_CONFIG_FILE is set but empty."""
    return _aws_path("AWS_CONFIG_FILE", "~/.aws/config")


def shown_aws_file(path: str, variable: str) -> str:
    """An AWS file as messages name it: ~ for home, or what stands for none (a variable set but
    empty names no file, as botocore reads it)."""
    return home_path(path) if path else f"no file ({variable} is empty)"


def shown_credentials_file() -> str:
    return shown_aws_file(credentials_file(), "AWS_SHARED_CREDENTIALS_FILE")


def shown_config_file() -> str:
    return shown_aws_file(config_file(), "AWS_CONFIG_FILE")


def cache_dir() -> str:
    """${XDG_CACHE_HOME:-~/.cache}/mfa-env; on Windows %LOCALAPPDATA%\\mfa-env."""
    return os.path.join(platform.cache_home(), "mfa-env")


def home_path(path: str | os.PathLike[str]) -> str:
    """A path as the user would type it, for messages: ~ for the home directory."""
    home = os.path.expanduser("~").rstrip(os.sep)
    text = os.fspath(path)
    # Windows paths may mix separators: expanduser("~/.aws/credentials") is C:\Users\me/.aws/…
    if home and (text == home or text.startswith((home + os.sep, home + "/"))):
        return "~" + text[len(home) :]
    return text


def private_dirs(directory: str) -> None:
    """Create `directory` and its missing parents, each 0700 whatever the umask.

    Existing directories are left as they are: whether to trust one is the reader's decision.
    Raises OSError."""
    missing: list[str] = []
    while not os.path.lexists(directory):
        missing.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, PRIVATE_DIR)
        except FileExistsError:
            continue  # another writer made it first, and set its mode itself
        os.chmod(folder, PRIVATE_DIR)  # mkdir's mode passes through the umask, which may be 000
        platform.adopt_owner(folder)


def write_private(
    path: str, data: bytes, mode: int = PRIVATE_FILE, owner: tuple[int, int] | None = None
) -> None:
    """Replace `path` with `data` atomically: a reader sees the old file or the new one.

    The temporary file is created 0600 (mkstemp, O_EXCL) beside `path`, given `mode` and `owner`
    (the replaced file's, when kept) or the directory's owner under sudo, written, fsynced and
    renamed; then the directory is fsynced. On failure nothing is left behind and OSError is
    raised."""
    import tempfile  # only on a write: the cached path never needs it

    directory = os.path.dirname(path)
    prefix = f".{os.path.basename(path)}."
    _sweep(directory, prefix)
    fd, temp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=directory)
    try:
        try:
            platform.set_mode(fd, mode)
            if owner is None:
                platform.adopt_owner(path, fd)
            else:
                platform.keep_owner(fd, owner)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        import contextlib

        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    platform.fsync_dir(directory)


# A writer keeps its temporary file for milliseconds; one this old was left by a writer that was
# killed (kill -9, a power cut) between mkstemp and the rename, and nothing will ever use it.
STALE_TEMP = 10.0


def _sweep(directory: str, prefix: str) -> None:
    """Remove what killed writers of this file left: our temporary files (PREFIX…XXXX.tmp),
    regular, ours, and older than STALE_TEMP. Anything else is left alone."""
    import time

    now = time.time()
    try:
        names = [n for n in os.listdir(directory or ".") if n.startswith(prefix)]
    except OSError:
        return
    for name in names:
        if not name.endswith(".tmp"):
            continue
        leftover = os.path.join(directory, name)
        import contextlib

        with contextlib.suppress(OSError):
            status = os.lstat(leftover)
            if platform.made_by_us(status) and now - status.st_mtime > STALE_TEMP:
                os.unlink(leftover)
