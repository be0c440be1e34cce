"""`python tests/network_clock.py LOG ARGS…` runs `python -m mfa_env ARGS…` and notes, from
inside the process, when it opened each connection and when it finished: lines `connect T` and
`exit T` appended to LOG, T on the monotonic clock. The time from the first connection to the
end is how long the run spent on the network and on failing, without the start-up before it or
the interpreter's teardown after it, which a busy machine stretches and no deadline covers."""

from __future__ import annotations

import atexit
import runpy
import socket
import sys
import time
from typing import Any

log = open(sys.argv[1], "a", buffering=1)  # noqa: SIM115  # open for the process's life
real_connect = socket.socket.connect


def connect(self: socket.socket, address: Any) -> None:
    log.write(f"connect {time.monotonic()}\n")
    real_connect(self, address)


socket.socket.connect = connect  # type: ignore[method-assign]
atexit.register(lambda: log.write(f"exit {time.monotonic()}\n"))  # runs last: registered first
del sys.argv[1]
runpy.run_module("mfa_env", run_name="__main__", alter_sys=True)
