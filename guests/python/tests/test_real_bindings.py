"""The runtime over the bindings componentize-py 0.25.1 really generates for
the carried WIT. Skipped where componentize-py is not installed (plain
CPython); runs in the SDK's virtual environment."""

import inspect
import subprocess
import sys
import tempfile
import unittest

import struct

from _support import ExportsCase, register_window_sum
from test_columns import Columns, bitmap

from wasmudf_guest import _build, aggregate, scalar, table


def generate():
    """(wit module, Err) from freshly generated bindings, or None."""
    if not _build.componentize_py_available() or sys.version_info < (3, 11):
        return None
    out = tempfile.mkdtemp(prefix="wasmudf-py-bindings-")
    cmd = [sys.executable, "-c", _build.LAUNCHER, "-d", str(_build.WIT_DIR),
           "-w", _build.WORLD, "bindings", out]
    subprocess.run(cmd, check=True, capture_output=True)
    sys.path.insert(0, out)
    try:
        from componentize_py_types import Err
        from wit_world.exports import guest
    finally:
        sys.path.remove(out)
    return guest, Err


REAL = generate()


@unittest.skipIf(REAL is None, "componentize-py is not installed in this Python")
class RealBindingsTest(ExportsCase):
    if REAL is not None:
        wit, Err = REAL

    def register(self):
        scalar(lambda a, b: None if a is None or b is None else a + b, name="add",
               deterministic=True,
               returns="integer", params=["integer", "integer"])
        scalar(lambda x: x, name="ident")

        register_window_sum("total")

        @aggregate(returns="integer", params=["any"])
        class msum:
            def __init__(self):
                self.t = 0

            def step(self, x):
                self.t += x or 0

            def finalize(self):
                return self.t

            def serialize(self):
                return struct.pack("<q", self.t)

            def merge(self, data):
                self.t += struct.unpack("<q", data)[0]

        @table(columns=["ordinal", "part"], deterministic=True, params=["text", "text"])
        def split(text, sep):
            for i, part in enumerate(text.split(sep), 1):
                yield (i, part)

    def test_round_trip(self):
        self.assertEqual(self.call("add", 2, 3), ("Integer", 5))
        for x in [None, 1.5, "t", b"b"]:
            self.assertEqual(self.call("ident", x)[1], x)
        self.assertIn("integer out of range", self.call_error("add", (1 << 63) - 1, 1))
        r = self.g.fast2(self.by_name["add"], self.n(1), self.n(2.5))
        self.assertIsInstance(r, self.wit.FastResult_Real)
        r = self.g.fast1(self.by_name["ident"], self.wit.Number_Null())
        self.assertIsInstance(r, self.wit.FastResult_Null)

    def test_manifest_types(self):
        (add, ident, total, msum, split) = self.g.manifest()
        self.assertIsInstance(add, self.wit.FunctionSpec)
        self.assertIs(total.kind, self.wit.FunctionKind.WINDOW)
        self.assertEqual(add.flags, self.wit.FunctionFlags.DETERMINISTIC)
        T = self.wit.ValueType
        self.assertEqual((add.returns, add.params, add.mergeable),
                         (T.INTEGER, [T.INTEGER, T.INTEGER], False))
        self.assertEqual((ident.returns, ident.params, ident.mergeable), (None, None, False))
        self.assertEqual((total.mergeable, msum.mergeable), (False, True))
        self.assertEqual(msum.params, [T.ANY])
        self.assertIs(split.kind, self.wit.FunctionKind.TABLE)
        self.assertEqual((split.arity, split.columns, split.returns, split.params,
                          split.mergeable), (2, ["ordinal", "part"], None, [T.TEXT, T.TEXT],
                                             False))
        self.assertEqual([s.columns for s in (add, ident, total, msum)], [[]] * 4)

    def test_cursor(self):
        # componentize-py binds resource `cursor` as the protocol `Cursor`
        # with a classmethod `open(id, args)` and a method `next(max_rows)`;
        # ours has the same shape.
        for cls in (self.wit.Cursor, self.Cursor):
            self.assertIsInstance(inspect.getattr_static(cls, "open"), classmethod)
            self.assertTrue(inspect.isfunction(inspect.getattr_static(cls, "next")))
        self.assertEqual(list(inspect.signature(self.wit.Cursor.next).parameters),
                         ["self", "max_rows"])
        self.assertEqual(list(inspect.signature(self.wit.Cursor.open).parameters),
                         ["id", "args"])
        id = self.by_name["split"]
        c = self.Cursor.open(id, [self.wit.Value_Text("a,b,,c"), self.wit.Value_Text(",")])
        self.assertIsInstance(c, self.Cursor)
        rows = c.next(3)
        self.assertEqual([type(v) for v in rows],
                         [self.wit.Value_Integer, self.wit.Value_Text] * 3)
        self.assertEqual([v.value for v in rows], [1, "a", 2, "b", 3, ""])
        self.assertEqual([v.value for v in c.next(3)], [4, "c"])
        self.assertEqual(c.next(3), [])
        with self.assertRaises(self.Err) as cm:
            self.Cursor.open(self.by_name["add"], [])
        self.assertEqual(cm.exception.value,
                         f"function {self.by_name['add']} (add) is not a table function")

    def test_call_columns(self):
        c = Columns(self.wit)
        col = self.g.call_columns(self.by_name["add"],
                                  [c.ints([1, 2, 3], bitmap([True, False, True])),
                                   c.ints([10, 20, 30])], 3)
        self.assertIsInstance(col, self.wit.Column_Integers)
        self.assertIsInstance(col.value, self.wit.IntegerColumn)
        self.assertEqual((col.value.data[0], col.value.data[2], col.value.valid),
                         (11, 33, b"\x05"))
        col = self.g.call_columns(self.by_name["ident"], [c.texts(["é", "x"])], 2)
        self.assertIsInstance(col.value, self.wit.TextColumn)
        self.assertEqual((col.value.offsets, col.value.data, col.value.valid),
                         ([0, 2, 3], "éx", None))
        col = self.g.call_columns(self.by_name["ident"], [c.blobs([b"a", b"bc"])], 2)
        self.assertIsInstance(col.value, self.wit.BlobColumn)
        col = self.g.call_columns(self.by_name["ident"], [c.values([1, "x"], self.v)], 2)
        self.assertIsInstance(col, self.wit.Column_Values)
        self.assertEqual([type(v) for v in col.value],
                         [self.wit.Value_Integer, self.wit.Value_Text])
        with self.assertRaises(self.Err) as cm:
            self.g.call_columns(self.by_name["ident"], [c.ints([1])], 2)
        self.assertEqual(cm.exception.value, "column 1: 1 values for 2 rows")

    def test_step_columns_and_merge(self):
        c = Columns(self.wit)
        a = self.Accumulator.create(self.by_name["msum"])
        b = self.Accumulator.create(self.by_name["msum"])
        a.step_columns([c.ints([1, 2])], 2)
        b.step_columns([c.ints([5, 9], b"\x01")], 2)
        a.merge(b.serialize())
        self.assertEqual(self.py(self.Accumulator.finish(a)), ("Integer", 8))
        w = self.Accumulator.create(self.by_name["total"])
        w.step_columns([c.ints([1, 2, 3])], 3)
        w.inverse_columns([c.ints([1])], 1)
        self.assertEqual(self.py(w.value()), ("Integer", 5))
        with self.assertRaises(self.Err) as cm:
            w.serialize()
        self.assertEqual(cm.exception.value, "function total is not mergeable")

    def test_accumulator(self):
        a = self.Accumulator.create(self.by_name["total"])
        a.step_integers([1, 2, 3], 3)
        a.inverse([self.wit.Value_Integer(1)], 1)
        self.assertEqual(self.py(a.value()), ("Integer", 5))
        self.assertEqual(self.py(self.Accumulator.finish(a)), ("Integer", 5))


if __name__ == "__main__":
    unittest.main()
