"""The cyclic garbage collector, paused where a run builds many objects that live to its end.

Parsing 10,000 profiles, or loading botocore and its service models, makes the collector rescan
the new objects again and again while they pile up (ten full passes over a 10,000-profile
parse; ~30 ms of a new session). None of them is garbage: a short-lived command keeps them to
its end. So the collector is off meanwhile, and what was built is then set aside from it
(gc.freeze). A caller that had turned the collector off finds it off.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.freeze()
            gc.enable()
