"""`Record`: typing.NamedTuple to mypy, a plain tuple subclass at run time; and TYPE_CHECKING.

A cache hit is mostly imports: `typing` (plus a NamedTuple build per record, which evaluates
every annotation) is ~4 ms of it, and collections.namedtuple ~1 ms more (collections, and a
class built from source text per record). Records declared in a module with `from __future__
import annotations` keep their annotations as strings, which this reads for the field names
only. The modules on the cached path import TYPE_CHECKING from here, never from `typing`; main
and clock, which answer `--status --brief` alone, set their own.

A record keeps a named tuple's manners that the code and its tests use: positional and keyword
construction with defaults, fields by name, tuple equality, iteration and hashing, `_fields`,
`_replace`, `_asdict`, and a repr that names the fields.
"""

TYPE_CHECKING = False  # mypy takes any name TYPE_CHECKING as true
if TYPE_CHECKING:
    from typing import NamedTuple as Record
else:

    class _Tuple(tuple):
        __slots__ = ()

        def __new__(cls, *args, **kwargs):
            fields = cls._fields
            if not kwargs and len(args) == len(fields):  # every field given, in order
                return tuple.__new__(cls, args)
            if len(args) > len(fields):
                raise TypeError(f"{cls.__name__} takes at most {len(fields)} arguments")
            values = list(args)
            for field in fields[len(args) :]:
                if field in kwargs:
                    values.append(kwargs.pop(field))
                elif field in cls._defaults:
                    values.append(cls._defaults[field])
                else:
                    raise TypeError(f"{cls.__name__} needs {field!r}")
            if kwargs:
                raise TypeError(f"{cls.__name__} has no field {next(iter(kwargs))!r}")
            return tuple.__new__(cls, values)

        def __repr__(self):
            shown = ", ".join(f"{f}={v!r}" for f, v in zip(self._fields, self, strict=True))
            return f"{type(self).__name__}({shown})"

        def __getnewargs__(self):  # copy and pickle, as a named tuple's
            return tuple(self)

        def _asdict(self):
            return dict(zip(self._fields, self, strict=True))

        def _replace(self, **changes):
            return type(self)(**{**self._asdict(), **changes})

    # The accessor of field N, one for every record: each record class is built on a cache hit,
    # and a loop (no comprehensions, no new functions) is the cheapest build.
    _GETTERS: list[property] = []

    class _RecordType(type):
        def __new__(cls, name, bases, namespace):
            if not bases:  # Record itself
                return super().__new__(cls, name, bases, namespace)
            fields = tuple(namespace.pop("__annotations__", ()))
            defaults = {}
            for index, field in enumerate(fields):
                if field in namespace:
                    defaults[field] = namespace[field]
                elif defaults:
                    raise TypeError(f"{name}: a field without a default follows one with a default")
                if index == len(_GETTERS):
                    _GETTERS.append(property(lambda self, index=index: self[index]))
                namespace[field] = _GETTERS[index]
            namespace.update(__slots__=(), _fields=fields, _defaults=defaults)
            return type(name, (_Tuple,), namespace)

    class Record(metaclass=_RecordType):
        """Base of a record: annotated fields, defaults after the fields without one."""


__all__ = ["TYPE_CHECKING", "Record"]
