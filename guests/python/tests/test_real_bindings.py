"""The runtime over the bindings componentize-py 0.25.1 really generates for
the carried WIT. Skipped where componentize-py is not installed (plain
CPython); runs in the SDK's virtual environment."""

import subprocess
import sys
import tempfile
import unittest

from _support import ExportsCase, register_window_sum

from wasmudf_guest import _build, scalar


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
        scalar(lambda a, b: a + b, name="add", deterministic=True)
        scalar(lambda x: x, name="ident")

        register_window_sum("total")

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
        (add, ident, total) = self.g.manifest()
        self.assertIsInstance(add, self.wit.FunctionSpec)
        self.assertIs(total.kind, self.wit.FunctionKind.WINDOW)
        self.assertEqual(add.flags, self.wit.FunctionFlags.DETERMINISTIC)

    def test_accumulator(self):
        a = self.Accumulator.create(self.by_name["total"])
        a.step_integers([1, 2, 3], 3)
        a.inverse([self.wit.Value_Integer(1)], 1)
        self.assertEqual(self.py(a.value()), ("Integer", 5))
        self.assertEqual(self.py(self.Accumulator.finish(a)), ("Integer", 5))


if __name__ == "__main__":
    unittest.main()
