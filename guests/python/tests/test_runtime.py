import math
import statistics
import sys
import unittest
from enum import IntEnum

from _support import ExportsCase, _runtime, register_window_sum

from wasmudf_guest import Error, aggregate, scalar

I64_MAX = (1 << 63) - 1
I64_MIN = -(1 << 63)


class Color(IntEnum):
    RED = 1


class MyStr(str):
    def __str__(self):
        return "overridden"


class MyFloat(float):
    pass


class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("no")


class ScalarTest(ExportsCase):
    def register(self):
        scalar(lambda x: x, name="ident", deterministic=True)
        scalar(lambda: 42, name="const")
        scalar(lambda a, b: a + b, name="add")
        scalar(lambda a, b, c: (a, b, c) and c, name="third")
        scalar(lambda *xs: len(xs), name="count")
        scalar(lambda a, b: a / b, name="div")
        scalar(lambda *xs: statistics.stdev(xs), name="sd")

        @scalar
        def recurse(n):
            return recurse(n + 1)

        @scalar
        def ret(kind):
            return RETURNS[kind]

        @scalar
        def throw(kind):
            raise THROWS[kind]

        @aggregate
        class agg:
            def step(self, x):
                pass

            def finalize(self):
                return 0

    # -- value mapping -------------------------------------------------

    def test_arguments_arrive_as_python_values(self):
        for x in [None, 0, -1, I64_MAX, I64_MIN, 1.5, -0.0, "", "straße",
                  b"", b"\x00\xff"]:
            self.assertEqual(self.call("ident", x), (
                {type(None): "Null", int: "Integer", float: "Real", str: "Text",
                 bytes: "Blob"}[type(x)], x))
        kind, value = self.call("ident", math.nan)
        self.assertEqual(kind, "Real")
        self.assertTrue(math.isnan(value))
        self.assertEqual(math.copysign(1, self.call("ident", -0.0)[1]), -1)

    def test_arity_entry_points(self):
        self.assertEqual(self.call("const"), ("Integer", 42))
        self.assertEqual(self.call("add", 2, 3), ("Integer", 5))
        self.assertEqual(self.call("third", 1, 2, "c"), ("Text", "c"))
        for n in range(6):
            self.assertEqual(self.call("count", *range(n)), ("Integer", n))

    def test_results(self):
        cases = {
            "bool_true": ("Integer", 1), "bool_false": ("Integer", 0),
            "intenum": ("Integer", 1), "myfloat": ("Real", 2.5),
            "mystr": ("Text", "abc"), "bytearray": ("Blob", b"ab"),
            "memoryview": ("Blob", b"mv"), "none": ("Null", None),
            "max": ("Integer", I64_MAX), "min": ("Integer", I64_MIN),
        }
        for kind, want in cases.items():
            got = self.call("ret", kind)
            self.assertEqual(got, want, kind)
            self.assertIs(type(got[1]), type(want[1]), kind)

    def test_out_of_range_integers_are_errors(self):
        for kind in ("max+1", "min-1", "huge"):
            self.assertIn("integer out of range", self.call_error("ret", kind))
        self.assertIn("9223372036854775808", self.call_error("ret", "max+1"))
        self.assertIn("integer out of range", self.call_error("add", I64_MAX, 1))

    def test_unsupported_results_name_the_type(self):
        self.assertEqual(
            self.call_error("ret", "list"),
            "cannot return a value of type list: a function returns int, float, str, bytes, bool or None")
        self.assertIn("decimal.Decimal", self.call_error("ret", "decimal"))

    def test_text_with_a_lone_surrogate_is_an_error(self):
        self.assertIn("not valid Unicode", self.call_error("ret", "surrogate"))
        self.assertEqual(self.call("ret", "emoji"), ("Text", "é😀"))

    # -- errors ----------------------------------------------------------

    def test_exceptions_become_sql_errors(self):
        self.assertEqual(self.call_error("div", 1, 0),
                         "ZeroDivisionError: division by zero")
        self.assertEqual(self.call_error("sd", 1.0),
                         "statistics.StatisticsError: stdev requires at least two data points")
        self.assertEqual(self.call_error("add", "a", 1),
                         'TypeError: can only concatenate str (not "int") to str')
        self.assertEqual(self.call_error("throw", "error"), "plain message")
        self.assertEqual(self.call_error("throw", "empty_error"), "wasmudf_guest.Error")
        self.assertEqual(self.call_error("throw", "keyerror"), "KeyError: 'k'")
        self.assertEqual(self.call_error("throw", "bare"), "ValueError")

    def test_base_exceptions_do_not_escape(self):
        self.assertEqual(self.call_error("throw", "exit"), "SystemExit: 3")
        self.assertEqual(self.call_error("throw", "interrupt"), "KeyboardInterrupt")
        self.assertEqual(self.call_error("throw", "memory"), "MemoryError: big")
        self.assertEqual(self.call_error("throw", "generatorexit"), "GeneratorExit")

    def test_odd_exceptions(self):
        self.assertIn("could not be formatted", self.call_error("throw", "unprintable"))
        msg = self.call_error("throw", "surrogate")
        msg.encode("utf-8")  # valid UTF-8
        self.assertIn("\\udc80", msg)
        long = self.call_error("throw", "long")
        self.assertLess(len(long), _runtime.MAX_MESSAGE_CHARS + 100)
        self.assertIn("cut, 1000012 characters", long)

    def test_recursion_is_an_error(self):
        err = self.call_error("recurse", 0)
        self.assertTrue(err.startswith("RecursionError: maximum recursion depth exceeded"), err)
        # The next call works.
        self.assertEqual(self.call("ident", 1), ("Integer", 1))

    def test_unknown_and_wrong_ids(self):
        self.assertEqual(self.error_of(self.g.call1, 99, self.v(1)), "no function with id 99")
        self.assertEqual(self.error_of(self.g.call0, self.by_name["agg"]),
                         "agg is not a scalar function")
        self.assertEqual(self.error_of(self.Accumulator.create, self.by_name["ident"]),
                         "ident is not an aggregate or window function")
        self.assertEqual(self.error_of(self.Accumulator.create, 1000),
                         "no function with id 1000")

    def test_tracebacks_can_be_logged(self):
        import contextlib
        import io
        buf = io.StringIO()
        _runtime.log_tracebacks(True)
        try:
            with contextlib.redirect_stderr(buf):
                self.call_error("div", 1, 0)
        finally:
            _runtime.log_tracebacks(False)
        self.assertIn("Traceback (most recent call last)", buf.getvalue())
        self.assertIn("ZeroDivisionError", buf.getvalue())

    # -- manifest ----------------------------------------------------------

    def test_manifest(self):
        specs = self.g.manifest()
        self.assertEqual([s.name for s in specs],
                         ["ident", "const", "add", "third", "count", "div", "sd",
                          "recurse", "ret", "throw", "agg"])
        self.assertEqual(specs[4].arity, -1)
        self.assertEqual(specs[1].arity, 0)
        self.assertIs(specs[0].kind, self.wit.FunctionKind.SCALAR)
        self.assertIs(specs[-1].kind, self.wit.FunctionKind.AGGREGATE)
        self.assertEqual(specs[0].flags, self.wit.FunctionFlags.DETERMINISTIC)


RETURNS = {
    "bool_true": True, "bool_false": False, "intenum": Color.RED,
    "myfloat": MyFloat(2.5), "mystr": MyStr("abc"), "bytearray": bytearray(b"ab"),
    "memoryview": memoryview(b"mv"), "none": None, "max": I64_MAX, "min": I64_MIN,
    "max+1": I64_MAX + 1, "min-1": I64_MIN - 1, "huge": 1 << 1000,
    "list": [1], "surrogate": "a\udc80", "emoji": "é😀",
}
try:
    import decimal
    RETURNS["decimal"] = decimal.Decimal("1.5")
except ImportError:  # pragma: no cover
    pass

THROWS = {
    "error": Error("plain message"), "empty_error": Error(), "keyerror": KeyError("k"),
    "bare": ValueError(), "exit": SystemExit(3), "interrupt": KeyboardInterrupt(),
    "memory": MemoryError("big"), "generatorexit": GeneratorExit(),
    "unprintable": Unprintable(), "surrogate": ValueError("bad \udc80 byte"),
    "long": ValueError("x" * 1000000),
}


class FastTest(ExportsCase):
    def register(self):
        scalar(lambda x: x, name="ident")
        scalar(lambda a, b: a + b, name="add")
        scalar(lambda a, b, c: a * b * c, name="mul3")
        scalar(lambda x: str(x), name="text")
        scalar(lambda x: x > 0, name="positive")
        scalar(lambda x: 1 / x, name="inv")
        scalar(lambda x: [x], name="listify")

    def fast(self, name, *args):
        id = self.by_name[name]
        r = getattr(self.g, f"fast{len(args)}")(id, *[self.n(a) for a in args])
        return self.py(r)

    def test_numbers_cross_once(self):
        self.assertEqual(self.fast("ident", None), ("Null", None))
        self.assertEqual(self.fast("ident", 7), ("Integer", 7))
        self.assertEqual(self.fast("ident", 0.5), ("Real", 0.5))
        self.assertEqual(self.fast("add", I64_MAX - 1, 1), ("Integer", I64_MAX))
        self.assertEqual(self.fast("mul3", 2, 3, 4.0), ("Real", 24.0))
        self.assertEqual(self.fast("positive", 3), ("Integer", 1))

    def test_text_and_errors_are_deferred(self):
        self.assertEqual(self.fast("text", 12), ("Deferred", None))
        self.assertEqual(self.py(self.g.take_result()), ("Text", "12"))
        # Taken once only.
        self.assertEqual(self.error_of(self.g.take_result), "no deferred result to take")

        self.assertEqual(self.fast("inv", 0), ("Deferred", None))
        self.assertEqual(self.error_of(self.g.take_result),
                         "ZeroDivisionError: division by zero")

        self.assertEqual(self.fast("add", I64_MAX, 1), ("Deferred", None))
        self.assertIn("integer out of range", self.error_of(self.g.take_result))

        self.assertEqual(self.fast("listify", 1), ("Deferred", None))
        self.assertIn("cannot return a value of type list", self.error_of(self.g.take_result))

        self.assertEqual(self.py(self.g.fast1(77, self.n(1))), ("Deferred", None))
        self.assertEqual(self.error_of(self.g.take_result), "no function with id 77")

    def test_a_later_fast_call_replaces_nothing_it_does_not_defer(self):
        self.fast("text", 1)
        self.fast("ident", 2)  # numeric: leaves the deferred value alone
        self.assertEqual(self.py(self.g.take_result()), ("Text", "1"))


class AccumulatorTest(ExportsCase):
    def register(self):
        @aggregate
        class collect:
            def __init__(self):
                self.rows = []

            def step(self, *args):
                self.rows.append(args)

            def finalize(self):
                return repr(self.rows)

        @aggregate
        class total:
            def __init__(self):
                self.t = 0

            def step(self, x):
                if x is not None:
                    self.t += x

            def finalize(self):
                return self.t

        @aggregate
        class pairs:
            def __init__(self):
                self.t = 0

            def step(self, a, b):
                self.t += a * b

            def finalize(self):
                return self.t

        @aggregate
        class nothing:
            def __init__(self):
                self.n = 0

            def step(self):
                self.n += 1

            def finalize(self):
                return self.n

        register_window_sum("winsum")

        @aggregate
        class broken_init:
            def __init__(self):
                raise RuntimeError("no state")

            def step(self, x):
                pass

            def finalize(self):
                pass

        @aggregate
        class bad_result:
            def step(self, x):
                pass

            def finalize(self):
                return {1: 2}

    def acc(self, name):
        return self.Accumulator.create(self.by_name[name])

    def finish(self, acc):
        return self.py(self.Accumulator.finish(acc))

    def test_batched_values(self):
        a = self.acc("total")
        a.step([self.v(x) for x in [1, None, 2, 3]], 4)
        a.step([], 0)
        a.step_integers([10, 20], 2)
        a.step_reals([0.5], 1)
        self.assertEqual(self.finish(a), ("Real", 36.5))

    def test_rows_split_by_width(self):
        a = self.acc("pairs")
        a.step([self.v(x) for x in [1, 2, 3, 4]], 2)
        a.step_integers([5, 6, 7, 8], 2)
        a.step_reals([0.5, 2.0], 1)
        self.assertEqual(self.finish(a), ("Real", 2 + 12 + 30 + 56 + 1.0))

        c = self.acc("collect")
        c.step([self.v(x) for x in ["a", None, b"b", "c", 1, 2.0]], 2)
        self.assertEqual(self.finish(c), ("Text", "[('a', None, b'b'), ('c', 1, 2.0)]"))

    def test_zero_arity_rows(self):
        a = self.acc("nothing")
        a.step([], 3)
        a.step_integers([], 2)
        self.assertEqual(self.finish(a), ("Integer", 5))

    def test_bad_batches(self):
        a = self.acc("pairs")
        self.assertEqual(self.error_of(a.step, [self.v(1)] * 3, 2),
                         "3 arguments do not split into 2 rows")
        self.assertEqual(self.error_of(a.step_integers, [1, 2], 0),
                         "2 arguments for 0 rows")

    def test_empty_group(self):
        self.assertEqual(self.finish(self.acc("total")), ("Integer", 0))
        self.assertEqual(self.finish(self.acc("collect")), ("Text", "[]"))

    def test_window(self):
        w = self.acc("winsum")
        w.step_integers([1, 2, 3], 3)
        self.assertEqual(self.py(w.value()), ("Integer", 6))
        w.inverse([self.v(1), self.v(2)], 2)
        self.assertEqual(self.py(w.value()), ("Integer", 3))
        w.step([self.v(10)], 1)
        self.assertEqual(self.finish(w), ("Integer", 13))

    def test_aggregate_is_not_a_window(self):
        a = self.acc("total")
        self.assertEqual(self.error_of(a.inverse, [self.v(1)], 1),
                         "total is not a window function")
        self.assertEqual(self.error_of(a.value), "total is not a window function")

    def test_step_errors(self):
        a = self.acc("total")
        self.assertEqual(self.error_of(a.step, [self.v("x")], 1),
                         "TypeError: unsupported operand type(s) for +=: 'int' and 'str'")
        self.assertEqual(self.error_of(self.Accumulator.create, self.by_name["broken_init"]),
                         "RuntimeError: no state")
        b = self.acc("bad_result")
        self.assertIn("cannot return a value of type dict", self.error_of(self.Accumulator.finish, b))

    def test_finished_state_is_gone(self):
        a = self.acc("total")
        self.finish(a)
        self.assertEqual(self.error_of(self.Accumulator.finish, a),
                         "accumulator already finished")
        self.assertEqual(self.error_of(a.step_integers, [1], 1),
                         "accumulator already finished")

    def test_finished_objects_are_reused(self):
        a = self.acc("total")
        a.step_integers([5], 1)
        self.finish(a)
        b = self.acc("winsum")
        self.assertIs(b, a)  # the same resource object, with a fresh state
        self.assertEqual(self.py(b.value()), ("Integer", 0))
        self.assertIsNot(self.acc("total"), a)

    def test_independent_groups(self):
        a, b = self.acc("total"), self.acc("total")
        a.step_integers([1, 2], 2)
        b.step_integers([100], 1)
        self.assertEqual(self.finish(a), ("Integer", 3))
        self.assertEqual(self.finish(b), ("Integer", 100))


if __name__ == "__main__":
    unittest.main()
