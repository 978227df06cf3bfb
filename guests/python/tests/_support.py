"""Shared test helpers: puts the SDK on the path and provides stand-ins for
the modules componentize-py generates, so the tests run in plain CPython."""

import os
import sys
import unittest
from dataclasses import dataclass
from enum import Enum, Flag, auto
from types import SimpleNamespace
from typing import Generic, TypeVar

HERE = os.path.dirname(os.path.abspath(__file__))
SDK_ROOT = os.path.dirname(HERE)
REPO_ROOT = os.path.dirname(os.path.dirname(SDK_ROOT))
if SDK_ROOT not in sys.path:
    sys.path.insert(0, SDK_ROOT)

from wasmudf_guest import _registry, _runtime  # noqa: E402

E = TypeVar("E")


@dataclass(frozen=True)
class Err(Generic[E], Exception):
    """Like componentize_py_types.Err."""
    value: E


def _fake_wit():
    """The shapes of `wit_world.exports.guest` as componentize-py 0.25.1
    generates them."""
    ns = SimpleNamespace()

    def case(name, payload):
        if payload:
            cls = dataclass(type(name, (), {"__annotations__": {"value": object}}))
        else:
            cls = dataclass(type(name, (), {}))
        setattr(ns, name, cls)

    for n in ("Null", "Integer", "Real", "Text", "Blob"):
        case(f"Value_{n}", n != "Null")
    for n in ("Null", "Integer", "Real"):
        case(f"Number_{n}", n != "Null")
    for n in ("Null", "Integer", "Real", "Deferred"):
        case(f"FastResult_{n}", n not in ("Null", "Deferred"))

    class FunctionKind(Enum):
        SCALAR = 0
        AGGREGATE = 1
        WINDOW = 2
        TABLE = 3

    class FunctionFlags(Flag):
        DETERMINISTIC = auto()
        INNOCUOUS = auto()
        DIRECT_ONLY = auto()

    class ValueType(Enum):
        INTEGER = 0
        REAL = 1
        TEXT = 2
        BLOB = 3
        ANY = 4

    @dataclass
    class FunctionSpec:
        name: str
        arity: int
        kind: FunctionKind
        flags: FunctionFlags
        returns: object
        params: object
        mergeable: bool
        columns: list

    @dataclass
    class IntegerColumn:
        data: list
        valid: object

    @dataclass
    class RealColumn:
        data: list
        valid: object

    @dataclass
    class TextColumn:
        offsets: list
        data: str
        valid: object

    @dataclass
    class BlobColumn:
        offsets: list
        data: bytes
        valid: object

    for n in ("Integers", "Reals", "Texts", "Blobs", "Values"):
        case(f"Column_{n}", True)

    ns.FunctionKind = FunctionKind
    ns.FunctionFlags = FunctionFlags
    ns.ValueType = ValueType
    ns.FunctionSpec = FunctionSpec
    ns.IntegerColumn = IntegerColumn
    ns.RealColumn = RealColumn
    ns.TextColumn = TextColumn
    ns.BlobColumn = BlobColumn
    return ns


WIT = _fake_wit()


class ExportsCase(unittest.TestCase):
    """Registers functions in `register()` and builds the exports from them
    with the stand-in types; `self.wit`/`self.Err` may be overridden."""

    wit = WIT
    Err = Err

    def setUp(self):
        _registry.reset()
        self.register()
        entries = _registry.freeze()
        self.Guest, self.Accumulator, self.Cursor = _runtime.make_exports(
            self.wit, self.Err, entries)
        self.g = self.Guest()
        self.ids = {(d.name, d.arity): i for i, d in enumerate(entries)}
        self.by_name = {d.name: i for i, d in enumerate(entries)}

    def tearDown(self):
        _registry.reset()

    def register(self):
        raise NotImplementedError

    # Python value -> WIT value / number, as the host would send it.
    def v(self, x):
        w = self.wit
        if x is None:
            return w.Value_Null()
        if type(x) is int:
            return w.Value_Integer(x)
        if type(x) is float:
            return w.Value_Real(x)
        if type(x) is str:
            return w.Value_Text(x)
        if type(x) is bytes:
            return w.Value_Blob(x)
        raise TypeError(x)

    def n(self, x):
        w = self.wit
        if x is None:
            return w.Number_Null()
        if type(x) is int:
            return w.Number_Integer(x)
        return w.Number_Real(x)

    def py(self, value):
        """WIT value -> (case name, payload)."""
        name = type(value).__name__.split("_", 1)[1]
        return name, getattr(value, "value", None)

    def call(self, name, *args):
        """Calls scalar `name` through the call0..3/call entry points as the
        host does: the result as (case, payload), or raises self.Err."""
        id = self.by_name[name]
        vals = [self.v(a) for a in args]
        if len(vals) <= 3:
            return self.py(getattr(self.g, f"call{len(vals)}")(id, *vals))
        return self.py(self.g.call(id, vals))

    def error_of(self, fn, *args):
        with self.assertRaises(self.Err) as cm:
            fn(*args)
        self.assertIs(type(cm.exception), self.Err)
        self.assertIsInstance(cm.exception.value, str)
        return cm.exception.value

    def call_error(self, name, *args):
        return self.error_of(self.call, name, *args)


def register_window_sum(name):
    """Registers `name(x)`: a window function summing `x`."""

    class WindowSum:
        def __init__(self):
            self.t = 0

        def step(self, x):
            self.t += x

        def inverse(self, x):
            self.t -= x

        def value(self):
            return self.t

        def finalize(self):
            return self.t

    _registry.aggregate(WindowSum, name=name)
