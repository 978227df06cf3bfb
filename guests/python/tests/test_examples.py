"""The example guest's contracts (examples/README.md), checked in plain
CPython through the same exports the component uses."""

import importlib.util
import math
import os
import statistics
import unittest
from fractions import Fraction

from _support import SDK_ROOT, ExportsCase
from test_columns import Columns

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
        self.assertEqual(specs[("py_split", 2)], ("TABLE", F.DETERMINISTIC))
        columns = {s.name: s.columns for s in self.g.manifest()}
        self.assertEqual(columns.pop("py_split"), ["ordinal", "part"])
        self.assertEqual(set(map(tuple, columns.values())), {()})

    def test_manifest_declarations(self):
        T = self.wit.ValueType
        specs = {s.name: (s.returns, s.params, s.mergeable) for s in self.g.manifest()}
        self.assertEqual(specs, {
            "py_similarity": (T.REAL, None, False),
            "py_sleep": (T.INTEGER, [T.INTEGER], False),
            "py_add": (None, None, False),
            "py_json_get": (None, [T.TEXT, T.ANY], False),
            "py_print": (None, None, False),
            "py_join": (T.TEXT, None, False),
            "py_version": (T.TEXT, [], False),
            "py_fail": (None, None, False),
            "py_stdev": (T.REAL, None, True),
            "py_mean": (T.REAL, None, True),
            "py_split": (None, [T.TEXT, T.TEXT], False),
        })

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

    def split(self, text, sep, batch=16):
        """All the rows of `py_split(text, sep)` as (ordinal, part) tuples,
        read `batch` rows at a time as the host does."""
        cursor = self.Cursor.open(self.by_name["py_split"], [self.v(text), self.v(sep)])
        values = []
        while True:
            got = cursor.next(batch)
            if not got:
                break
            self.assertLessEqual(len(got), 2 * batch)
            values.extend(self.py(v) for v in got)
        self.assertTrue(all(k == "Integer" for k, _ in values[0::2]), values)
        self.assertTrue(all(k == "Text" for k, _ in values[1::2]), values)
        payloads = [p for _, p in values]
        return list(zip(payloads[0::2], payloads[1::2]))

    def split_error(self, text, sep):
        try:
            cursor = self.Cursor.open(self.by_name["py_split"], [self.v(text), self.v(sep)])
            cursor.next(16)
        except self.Err as e:
            return e.value
        self.fail("no error")

    def test_split(self):
        self.assertEqual(self.split("a,b,,c", ","), [(1, "a"), (2, "b"), (3, ""), (4, "c")])
        self.assertEqual(self.split("", ","), [(1, "")])
        self.assertEqual(self.split("a,", ","), [(1, "a"), (2, "")])
        self.assertEqual(self.split("abc", ","), [(1, "abc")])
        self.assertEqual(self.split("a<>b<><>", "<>"), [(1, "a"), (2, "b"), (3, ""), (4, "")])
        self.assertEqual(self.split("é–x–", "–"), [(1, "é"), (2, "x"), (3, "")])
        for text, sep in [("a,b,,c", ","), ("x" * 100, "x"), (",".join(map(str, range(50))), ",")]:
            for batch in (1, 2, 16, 1024):
                self.assertEqual(self.split(text, sep, batch),
                                 list(enumerate(text.split(sep), 1)))
        self.assertEqual(self.split(None, ","), [])
        self.assertEqual(self.split("a", None), [])
        self.assertEqual(self.split_error("a,b", ""), "the separator must not be empty")
        self.assertEqual(self.split_error("", ""), "the separator must not be empty")
        self.assertEqual(self.split_error(1, ","),
                         "TypeError: py_split() takes TEXT arguments")
        self.assertEqual(self.split_error("a", b","),
                         "TypeError: py_split() takes TEXT arguments")

    def test_batches_equal_row_calls(self):
        c = Columns(self.wit)
        doc = '{"a": 1, "b": [1, 2.5], "c": null}'
        batches = {
            "py_similarity": [["kitten", "abc", None, "é"], ["sitting", "abc", "x", "e"]],
            "py_add": [[1, 2.5, None, I64_MAX - 1], [2, 2, 3, 1]],
            "py_json_get": [[doc, doc, doc, "[10, 20]"], ["a", "b", "c", -1]],
            "py_join": [["-", ",", None], [1, "x", 2], [None, b"b", 3.5]],
            "py_version": [],
            "py_fail": [["boom", "other"]],
        }
        for name, cols in batches.items():
            with self.subTest(name=name):
                rows = len(cols[0]) if cols else 2
                want = []
                for r in range(rows):
                    try:
                        want.append(self.call(name, *[col[r] for col in cols]))
                    except self.Err as e:
                        want = e.value
                        break
                args = [c.of(col, self.v) for col in cols]
                try:
                    col = self.g.call_columns(self.by_name[name], args, rows)
                except self.Err as e:
                    self.assertEqual(e.value, want)
                    continue
                self.assertIsInstance(want, list)
                kinds = {k for k, _ in want if k != "Null"}
                if len(kinds) == 1:
                    self.assertIsNot(type(col), self.wit.Column_Values)
                    data = col.value.data
                    if type(col) in (self.wit.Column_Texts, self.wit.Column_Blobs):
                        raw = data.encode() if isinstance(data, str) else data
                        o = col.value.offsets
                        data = [raw[o[i]:o[i + 1]] for i in range(rows)]
                        if isinstance(col.value.data, str):
                            data = [d.decode() for d in data]
                    valid = col.value.valid
                    got = [x if valid is None or valid[i // 8] >> (i % 8) & 1 else None
                           for i, x in enumerate(data)]
                else:
                    self.assertIs(type(col), self.wit.Column_Values)
                    got = [getattr(v, "value", None) for v in col.value]
                self.assertEqual(got, [p for _, p in want])

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

    def merged(self, name, rows, parts):
        """The result of `name` over `rows` stepped in `parts` accumulators,
        each serialised and merged into a fresh one."""
        accs = [self.acc(name) for _ in range(parts)]
        for i, x in enumerate(rows):
            accs[i % parts].step([self.v(x)], 1)
        target = self.acc(name)
        for a in accs:
            target.merge(a.serialize())
        return self.py(self.Accumulator.finish(target))

    def one_pass(self, name, rows):
        a = self.acc(name)
        a.step([self.v(x) for x in rows], len(rows))
        return self.py(self.Accumulator.finish(a))

    def test_stdev_merges_bit_for_bit(self):
        rows = [3, None, 1.5, 4, I64_MAX, -I64_MAX - 1, 0.1, 1e300, -7, 2.25, 0.3]
        for parts in (1, 2, 3, 5):
            self.assertEqual(self.merged("py_stdev", rows, parts),
                             self.one_pass("py_stdev", rows), parts)
        self.assertEqual(self.one_pass("py_stdev", rows)[0], "Real")
        # One value on each side: neither part alone has a result.
        self.assertEqual(self.merged("py_stdev", [1, 3], 2),
                         ("Real", statistics.stdev([1, 3])))
        a = self.acc("py_stdev")
        a.step_reals([math.nan, -0.0], 2)
        b = self.acc("py_stdev")
        b.merge(a.serialize())
        self.assertEqual(b.serialize(), a.serialize())
        self.assertEqual(self.acc("py_stdev").serialize(), b"\0" * 8)

    def test_stdev_refuses_malformed_states(self):
        a = self.acc("py_stdev")
        self.assertEqual(self.error_of(a.merge, b"\1\0\0"),
                         "ValueError: py_stdev() cannot merge a truncated state")
        self.assertEqual(self.error_of(a.merge, b"\1\0\0\0\0\0\0\0" + b"\0" * 7),
                         "ValueError: py_stdev() cannot merge a state of 15 bytes holding "
                         "1 + 0 values")
        a.step_integers([1, 2], 2)
        self.assertEqual(self.py(self.Accumulator.finish(a)),
                         ("Real", statistics.stdev([1, 2])))

    def test_mean_merges_exactly(self):
        rows = [I64_MAX, I64_MAX, None, 0.1, 0.2, 0.3, -I64_MAX, 7, 1e-300]
        vals = [Fraction(x) for x in rows if x is not None]
        want = ("Real", float(sum(vals) / len(vals)))
        for parts in (1, 2, 4):
            self.assertEqual(self.merged("py_mean", rows, parts), want, parts)
        self.assertEqual(self.one_pass("py_mean", rows), want)
        self.assertEqual(self.merged("py_mean", [None, None], 2), ("Null", None))
        # A window's state merges too, and the frame can still slide.
        w = self.acc("py_mean")
        w.step_integers([1, 2], 2)
        other = self.acc("py_mean")
        other.step_reals([0.5], 1)
        w.merge(other.serialize())
        w.inverse([self.v(1)], 1)
        self.assertEqual(self.py(w.value()), ("Real", 1.25))
        bad = self.acc("py_mean")
        self.assertEqual(self.error_of(bad.merge, b"\x05"),
                         "ValueError: py_mean() cannot merge a truncated state")
        self.assertEqual(self.error_of(bad.merge, other.serialize() + b"x"),
                         "ValueError: py_mean() cannot merge a malformed state")

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
