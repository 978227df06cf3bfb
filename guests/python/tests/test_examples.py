"""The example guest's contracts (examples/README.md), checked in plain
CPython through the same exports the component uses."""

import importlib.util
import math
import os
import statistics
import unittest
from fractions import Fraction

from _support import SDK_ROOT, ExportsCase

EXAMPLES = os.path.join(SDK_ROOT, "examples", "py_examples.py")
I64_MAX = (1 << 63) - 1


def load_examples():
    spec = importlib.util.spec_from_file_location("py_examples", EXAMPLES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ExamplesTest(ExportsCase):
    def register(self):
        load_examples()

    def test_manifest(self):
        specs = {(s.name, s.arity): (s.kind.name, s.flags) for s in self.g.manifest()}
        F = self.wit.FunctionFlags
        self.assertEqual(specs[("py_similarity", 2)], ("SCALAR", F.DETERMINISTIC))
        self.assertEqual(specs[("py_stdev", 1)], ("AGGREGATE", F.DETERMINISTIC))
        self.assertEqual(specs[("py_mean", 1)], ("WINDOW", F.DETERMINISTIC))
        self.assertEqual(specs[("py_print", 1)], ("SCALAR", F(0)))
        self.assertEqual(specs[("py_join", -1)][0], "SCALAR")

    def test_similarity(self):
        self.assertEqual(self.call("py_similarity", "kitten", "sitting"), ("Real", 8 / 13))
        self.assertEqual(self.call("py_similarity", "abc", "abc"), ("Real", 1.0))
        self.assertEqual(self.call("py_similarity", "", ""), ("Real", 1.0))
        self.assertEqual(self.call("py_similarity", "abc", "xyz"), ("Real", 0.0))
        self.assertEqual(self.call("py_similarity", None, "x"), ("Null", None))
        self.assertIn("TypeError", self.call_error("py_similarity", 1, "x"))

    def test_sleep(self):
        self.assertEqual(self.call("py_sleep", 1), ("Integer", 1))
        self.assertEqual(self.call("py_sleep", None), ("Null", None))
        self.assertIn("must not be negative", self.call_error("py_sleep", -1))
        self.assertIn("TypeError", self.call_error("py_sleep", 1.5))

    def test_add(self):
        self.assertEqual(self.call("py_add", I64_MAX - 1, 1), ("Integer", I64_MAX))
        self.assertEqual(self.call("py_add", -I64_MAX - 1, 0), ("Integer", -I64_MAX - 1))
        self.assertEqual(self.call("py_add", 1.5, 2), ("Real", 3.5))
        self.assertEqual(self.call("py_add", None, 2), ("Null", None))
        self.assertIn("integer out of range", self.call_error("py_add", I64_MAX, 1))
        self.assertEqual(self.call_error("py_add", "1", 2),
                         "TypeError: py_add() takes numbers, got TEXT")

    def test_json_get(self):
        doc = '{"a": 1, "b": [1, 2.5, "x"], "c": null, "d": true, "e": 18446744073709551616}'
        self.assertEqual(self.call("py_json_get", doc, "a"), ("Integer", 1))
        self.assertEqual(self.call("py_json_get", doc, "b"), ("Text", '[1,2.5,"x"]'))
        self.assertEqual(self.call("py_json_get", doc, "c"), ("Null", None))
        self.assertEqual(self.call("py_json_get", doc, "d"), ("Integer", 1))
        self.assertEqual(self.call("py_json_get", doc, "zz"), ("Null", None))
        self.assertIn("integer out of range", self.call_error("py_json_get", doc, "e"))
        self.assertEqual(self.call("py_json_get", "[10, 20]", -1), ("Integer", 20))
        self.assertEqual(self.call("py_json_get", "[10, 20]", 5), ("Null", None))
        self.assertTrue(self.call_error("py_json_get", "{bad", "a")
                        .startswith("json.decoder.JSONDecodeError: "))

    def test_join_and_version(self):
        self.assertEqual(self.call("py_join", "-", 1, None, "b", 2.5), ("Text", "1-b-2.5"))
        self.assertEqual(self.call("py_join", ","), ("Text", ""))
        self.assertEqual(self.call("py_version")[0], "Text")
        self.assertEqual(self.call_error("py_fail", "boom"), "boom")

    def acc(self, name):
        return self.Accumulator.create(self.by_name[name])

    def test_stdev(self):
        xs = [3, None, 1.5, 4, 1, None, 5, 9, 2.25]
        a = self.acc("py_stdev")
        a.step([self.v(x) for x in xs[:4]], 4)
        a.step_integers([4, 1], 2)
        a.step_reals([5.0, 9.0, 2.25], 3)
        want = statistics.stdev([3, 1.5, 4, 4, 1, 5.0, 9.0, 2.25])
        self.assertEqual(self.py(self.Accumulator.finish(a)), ("Real", want))
        one = self.acc("py_stdev")
        one.step_integers([7], 1)
        self.assertEqual(self.py(self.Accumulator.finish(one)), ("Null", None))
        bad = self.acc("py_stdev")
        self.assertEqual(self.error_of(bad.step, [self.v("x")], 1),
                         "TypeError: py_stdev() takes numbers, got TEXT")

    def test_mean_window_is_exact(self):
        xs = [I64_MAX, I64_MAX, None, 0.1, 0.2, 0.3, -I64_MAX, 7]
        w = self.acc("py_mean")
        frame = []
        for x in xs:
            w.step([self.v(x)], 1)
            frame.append(x)
            if len(frame) > 3:
                w.inverse([self.v(frame.pop(0))], 1)
            vals = [Fraction(v) for v in frame if v is not None]
            want = ("Null", None) if not vals else ("Real", float(sum(vals) / len(vals)))
            self.assertEqual(self.py(w.value()), want, frame)
        self.assertEqual(self.py(self.Accumulator.finish(w)), want)
        empty = self.acc("py_mean")
        self.assertEqual(self.py(self.Accumulator.finish(empty)), ("Null", None))
        bad = self.acc("py_mean")
        self.assertIn("finite", self.error_of(bad.step_reals, [math.inf], 1))


if __name__ == "__main__":
    unittest.main()
