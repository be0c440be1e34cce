"""`Record`: typing.NamedTuple to mypy, collections.namedtuple at run time; and TYPE_CHECKING.

A cache hit is mostly imports, and `typing` (plus a NamedTuple build per record, which evaluates
every annotation) is ~4 ms of it. Records declared in a module with `from __future__ import
annotations` keep their annotations as strings, which this reads for the field names only. The
modules on the cached path import TYPE_CHECKING from here, never from `typing`.
"""

from collections import namedtuple

TYPE_CHECKING = False  # mypy takes any name TYPE_CHECKING as true
if TYPE_CHECKING:
    from typing import NamedTuple as Record
else:

    class _RecordType(type):
        def __new__(cls, name, bases, namespace):
            if not bases:  # Record itself
                return super().__new__(cls, name, bases, namespace)
            fields = list(namespace.get("__annotations__", {}))
            given = [field for field in fields if field in namespace]
            if given != fields[len(fields) - len(given) :]:
                raise TypeError(f"{name}: a field without a default follows one with a default")
            defaults = [namespace.pop(field) for field in given]
            base = namedtuple(name, fields, defaults=defaults, module=namespace["__module__"])
            namespace.pop("__annotations__", None)
            return type(name, (base,), {"__slots__": (), **namespace})

    class Record(metaclass=_RecordType):
        """Base of a record: annotated fields, defaults after the fields without one."""


__all__ = ["TYPE_CHECKING", "Record"]
