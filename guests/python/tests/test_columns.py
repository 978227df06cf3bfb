"""Batches of columns: `call_columns`, `step_columns`, `inverse_columns`.

Every check compares a batch with what the row-at-a-time entry points do for
the same rows, or with the column layout of the WIT (Arrow-style offsets and
validity bitmaps, LSB first, bit set when the row is not NULL)."""

import math
import unittest

from _support import ExportsCase, register_window_sum
from test_runtime import RETURNS, THROWS

from wasmudf_guest import Error, aggregate, scalar

I64_MAX = (1 << 63) - 1
I64_MIN = -(1 << 63)


def bitmap(present):
    """The validity bitmap for `present` (True: the row is not NULL), built
    bit by bit here, independently of the SDK."""
    out = bytearray((len(present) + 7) // 8)
    for i, p in enumerate(present):
        if p:
            out[i // 8] |= 1 << (i % 8)
    return bytes(out)


class Columns:
    """Builds WIT columns from Python values, as a host would send them."""

    def __init__(self, wit):
        self.w = wit

    def ints(self, data, valid=None):
        return self.w.Column_Integers(self.w.IntegerColumn(data=list(data), valid=valid))

    def reals(self, data, valid=None):
        return self.w.Column_Reals(self.w.RealColumn(data=list(data), valid=valid))

    def texts(self, strs, valid=None, offsets=None, data=None):
        if offsets is None:
            offsets = [0]
            for s in strs:
                offsets.append(offsets[-1] + len(s.encode("utf-8")))
        return self.w.Column_Texts(self.w.TextColumn(
            offsets=offsets, data="".join(strs) if data is None else data, valid=valid))

    def blobs(self, bs, valid=None, offsets=None, data=None):
        if offsets is None:
            offsets = [0]
            for b in bs:
                offsets.append(offsets[-1] + len(b))
        return self.w.Column_Blobs(self.w.BlobColumn(
            offsets=offsets, data=b"".join(bs) if data is None else data, valid=valid))

    def values(self, vals, v):
        return self.w.Column_Values([v(x) for x in vals])

    def of(self, vals, v):
        """The column a host would build for Python values `vals`: typed
        when every non-NULL value has one class, else `values`."""
        classes = {type(x) for x in vals if x is not None}
        if len(classes) != 1:
            return self.values(vals, v)
        (cls,) = classes
        present = [x is not None for x in vals]
        valid = None if all(present) else bitmap(present)
        if cls is int:
            return self.ints([0 if x is None else x for x in vals], valid)
        if cls is float:
            # Garbage at NULL rows: the bitmap alone says NULL.
            return self.reals([123.0 if x is None else x for x in vals], valid)
        if cls is str:
            return self.texts(["junk" if x is None else x for x in vals], valid)
        return self.blobs([b"junk" if x is None else x for x in vals], valid)


class ColumnsCase(ExportsCase):
    def setUp(self):
        super().setUp()
        self.c = Columns(self.wit)

    def unpack(self, column):
        """A result column as (kind, [Python values]), checking its layout."""
        w = self.wit
        t = type(column)
        if t is w.Column_Values:
            return "values", [getattr(v, "value", None) for v in column.value]
        c = column.value
        if t in (w.Column_Integers, w.Column_Reals):
            data = list(c.data)
            kind = "integers" if t is w.Column_Integers else "reals"
            want = int if kind == "integers" else float
            for x in data:
                self.assertIs(type(x), want)
        else:
            kind = "texts" if t is w.Column_Texts else "blobs"
            offsets = list(c.offsets)
            self.assertEqual(offsets[0], 0)
            self.assertEqual(offsets, sorted(offsets))
            raw = c.data.encode("utf-8") if kind == "texts" else c.data
            self.assertIs(type(raw), bytes)
            self.assertEqual(offsets[-1], len(raw))
            data = [raw[a:b] for a, b in zip(offsets, offsets[1:])]
            if kind == "texts":
                data = [d.decode("utf-8") for d in data]
        if c.valid is None:
            return kind, data
        self.assertIs(type(c.valid), bytes)
        self.assertGreaterEqual(len(c.valid), (len(data) + 7) // 8)
        return kind, [x if c.valid[i // 8] >> (i % 8) & 1 else None
                      for i, x in enumerate(data)]

    def columns(self, name, cols, rows):
        return self.g.call_columns(self.by_name[name], cols, rows)

    def rows_of(self, name, *cols):
        """call_columns over Python value lists (one per argument), as
        (kind, values)."""
        rows = len(cols[0]) if cols else 0
        return self.unpack(self.columns(name, [self.c.of(col, self.v) for col in cols], rows))

    def row_by_row(self, name, *cols):
        """The same rows through the row entry points: a list of results as
        (case, payload), or the first error as a str."""
        out = []
        for row in zip(*cols):
            try:
                out.append(self.call(name, *row))
            except self.Err as e:
                return e.value
        return out


class CallColumnsTest(ColumnsCase):
    def register(self):
        self.seen = seen = []

        @scalar
        def record(*xs):
            seen.append(xs)
            return len(xs)

        scalar(lambda x: x, name="ident")
        scalar(lambda a, b: None if a is None or b is None else a + b, name="add")
        scalar(lambda x: None if x is None else x * 2, name="double")

        @scalar
        def ret(kind):
            return RETURNS[kind]

        @scalar
        def throw(kind):
            raise THROWS[kind]

        calls = self.calls = []

        @scalar
        def fail_at(i):
            calls.append(i)
            if i == 2:
                raise ValueError(f"row {i} is bad")
            return i

        @scalar
        def mixed(i):
            calls.append(i)
            if i == 1:
                return [i]  # not a value: a conversion error on row 1
            if i == 3:
                raise ValueError("later")
            return i

        counter = self.counter = [0]

        @scalar
        def tick():
            counter[0] += 1
            return counter[0]

        scalar(lambda: None, name="nothing")
        scalar(lambda *xs: "-".join(map(str, xs)), name="joined")

        @aggregate
        class agg:
            def step(self, x):
                pass

            def finalize(self):
                return 0

    # -- decoding --------------------------------------------------------

    def test_every_kind_arrives_as_the_row_call_would_pass_it(self):
        c = self.c
        cols = [
            c.ints([1, -2, I64_MAX, I64_MIN]),
            c.reals([0.5, -0.0, math.inf, 1e300]),
            c.texts(["a", "", "straße", "é😀"]),
            c.blobs([b"", b"\x00\xff", b"x", b"yz"]),
            c.values([None, 7, "t", b"b"], self.v),
        ]
        r = self.unpack(self.columns("record", cols, 4))
        self.assertEqual(r, ("integers", [5, 5, 5, 5]))
        self.assertEqual(self.seen, [
            (1, 0.5, "a", b"", None),
            (-2, -0.0, "", b"\x00\xff", 7),
            (I64_MAX, math.inf, "straße", b"x", "t"),
            (I64_MIN, 1e300, "é😀", b"yz", b"b"),
        ])
        self.assertEqual(math.copysign(1, self.seen[1][1]), -1)
        for row in self.seen:
            self.assertEqual([type(x) for x in row[:4]], [int, float, str, bytes])

    def test_validity_bitmaps_make_nulls_whatever_the_data(self):
        c = self.c
        present = [True, False, True, True, False, False, True, True, False, True]
        valid = bitmap(present)
        self.assertEqual(len(valid), 2)  # 10 rows need 2 bytes
        n = len(present)
        cols = [
            c.ints(range(n), valid),
            c.reals([float(i) for i in range(n)], valid),
            c.texts([f"t{i}" for i in range(n)], valid),
            c.blobs([bytes([i]) for i in range(n)], valid),
        ]
        self.columns("record", cols, n)
        want = [(i, float(i), f"t{i}", bytes([i])) if p else (None,) * 4
                for i, p in enumerate(present)]
        self.assertEqual(self.seen, want)

    def test_bitmap_bits_are_least_significant_first(self):
        # 0b00000010: only row 1 is present.
        self.columns("record", [self.c.ints([10, 11, 12], b"\x02")], 3)
        self.assertEqual(self.seen, [(None,), (11,), (None,)])

    def test_a_longer_bitmap_is_fine_and_its_extra_bits_ignored(self):
        self.columns("record", [self.c.ints([1, 2], b"\xff\xff\xff")], 2)
        self.assertEqual(self.seen, [(1,), (2,)])

    def test_offsets_need_not_start_at_zero(self):
        col = self.c.texts([], offsets=[2, 3, 5], data="xxabc")
        self.columns("record", [col], 2)
        self.assertEqual(self.seen, [("a",), ("bc",)])
        col = self.c.blobs([], offsets=[1, 1, 3], data=b"\x00yz")
        self.seen.clear()
        self.columns("record", [col], 2)
        self.assertEqual(self.seen, [(b"",), (b"yz",)])

    def test_non_ascii_text_uses_byte_offsets(self):
        strs = ["é", "😀x", "", "ß"]
        col = self.c.texts(strs)
        self.assertEqual(col.value.offsets, [0, 2, 7, 7, 9])
        self.columns("record", [col], 4)
        self.assertEqual(self.seen, [(s,) for s in strs])

    # -- malformed columns -------------------------------------------------

    def malformed(self, col, rows, position=1):
        """The error of a batch whose column `position` is `col`; the
        other columns are fine. Nothing runs."""
        cols = [self.c.ints([0] * rows) for _ in range(3)]
        cols[position - 1] = col
        err = self.error_of(self.columns, "record", cols, rows)
        self.assertEqual(self.seen, [], "a malformed batch runs no row")
        return err

    def test_malformed_columns(self):
        c = self.c
        cases = [
            (c.ints([1, 2]), 3, "column 1: 2 values for 3 rows"),
            (c.reals([1.0, 2.0, 3.0, 4.0]), 3, "column 1: 4 values for 3 rows"),
            (c.values([1], self.v), 3, "column 1: 1 values for 3 rows"),
            (c.texts(["a", "b"]), 3, "column 1: 2 values for 3 rows"),
            (c.blobs([b"a"] * 4), 3, "column 1: 4 values for 3 rows"),
            (c.texts([], offsets=[], data=""), 0,
             "column 1: no offsets (a column of n rows has n + 1)"),
            (c.blobs([], offsets=[], data=b""), 0,
             "column 1: no offsets (a column of n rows has n + 1)"),
            (c.texts([], offsets=[0, 1, 2], data="abc"), 2,
             "column 1: the last offset is 2 but the data has 3 bytes"),
            (c.texts([], offsets=[0, 1, 4], data="abc"), 2,
             "column 1: the last offset is 4 but the data has 3 bytes"),
            (c.blobs([], offsets=[0, 2, 1, 3], data=b"abc"), 3,
             "column 1: offsets decrease at row 2"),
            (c.texts([], offsets=[0, 3, 1, 3], data="abc"), 3,
             "column 1: offsets decrease at row 2"),
            # "é" is 2 bytes: offset 1 splits it.
            (c.texts([], offsets=[0, 1, 2], data="é"), 2,
             "column 1: offset 1 is inside a character"),
            (c.texts([], offsets=[0, 2, 3, 5, 7], data="éa😀"), 4,
             "column 1: offset 5 is inside a character"),
            # An empty row inside a character is still off a boundary.
            (c.texts([], offsets=[0, 1, 1, 2], data="é"), 3,
             "column 1: offset 1 is inside a character"),
            (c.ints(range(9), b"\xff"), 9,
             "column 1: a validity bitmap of 1 bytes for 9 rows"),
            (c.texts(["a"] * 8, b""), 8,
             "column 1: a validity bitmap of 0 bytes for 8 rows"),
            ("not a column", 1, "column 1: not a column: str"),
        ]
        for col, rows, want in cases:
            with self.subTest(want=want):
                self.assertEqual(self.malformed(col, rows), want)

    def test_the_error_names_the_malformed_column(self):
        self.assertEqual(self.malformed(self.c.ints([1]), 2, position=3),
                         "column 3: 1 values for 2 rows")
        self.assertEqual(self.malformed(self.c.ints([1, 2], b""), 2, position=2),
                         "column 2: a validity bitmap of 0 bytes for 2 rows")

    def test_a_malformed_column_fails_before_any_row_runs(self):
        # Row 1 alone would fail with a TypeError ("a" + 1), but column 2
        # is malformed: the whole batch fails on that, before any row.
        self.assertIn("TypeError", self.row_by_row("add", ["a"], [1]))
        err = self.error_of(self.columns, "add", [self.c.texts(["a"]), self.c.ints([])], 1)
        self.assertEqual(err, "column 2: 0 values for 1 rows")
        err = self.error_of(self.columns, "fail_at",
                            [self.c.ints([0, 1, 2], b"")], 3)
        self.assertEqual(err, "column 1: a validity bitmap of 0 bytes for 3 rows")
        self.assertEqual(self.calls, [])

    # -- results -----------------------------------------------------------

    def test_typed_results_match_row_calls(self):
        cases = {
            "ident": [
                [[1, 2, I64_MAX, I64_MIN]],
                [[1.5, -0.0, math.inf]],
                [["a", "é😀", ""]],
                [[b"", b"\x00", b"xyz"]],
            ],
            "double": [[[1, None, 3]], [[None, 0.25]], [["ab", None, "é"]],
                       [[b"x", None]]],
            "add": [[[1, 2, None], [10, None, 30]], [["a", "é"], ["b", "ü"]]],
        }
        kinds = {"Integer": "integers", "Real": "reals", "Text": "texts", "Blob": "blobs"}
        for name, batches in cases.items():
            for cols in batches:
                with self.subTest(name=name, cols=cols):
                    rows = self.row_by_row(name, *cols)
                    self.assertIsInstance(rows, list)
                    classes = {k for k, _ in rows if k != "Null"}
                    (cls,) = classes
                    kind, got = self.rows_of(name, *cols)
                    self.assertEqual(kind, kinds[cls])
                    self.assertEqual(got, [p for _, p in rows])

    def test_validity_is_none_without_nulls_and_a_bitmap_with_them(self):
        col = self.columns("double", [self.c.ints([1, 2, 3])], 3)
        self.assertIs(type(col), self.wit.Column_Integers)
        self.assertIsNone(col.value.valid)
        self.assertEqual(col.value.data, [2, 4, 6])

        vals = [None if i % 3 == 0 else i for i in range(11)]
        col = self.columns("double", [self.c.of(vals, self.v)], 11)
        self.assertIs(type(col), self.wit.Column_Integers)
        self.assertEqual(col.value.valid, bitmap([v is not None for v in vals]))

        col = self.columns("double", [self.c.of(["a", None, "é"], self.v)], 3)
        self.assertIs(type(col), self.wit.Column_Texts)
        self.assertEqual(col.value.valid, b"\x05")
        self.assertEqual(col.value.data, "aaéé")
        self.assertEqual(col.value.offsets, [0, 2, 2, 6])

        col = self.columns("double", [self.c.of([None, b"\x01"], self.v)], 2)
        self.assertIs(type(col), self.wit.Column_Blobs)
        self.assertEqual((col.value.offsets, col.value.data, col.value.valid),
                         ([0, 0, 2], b"\x01\x01", b"\x02"))

    def test_mixed_all_null_and_empty_batches_are_values(self):
        col = self.columns("ident", [self.c.values([1, 2.5, None, "x", b"y"], self.v)], 5)
        self.assertEqual(self.unpack(col), ("values", [1, 2.5, None, "x", b"y"]))
        self.assertEqual([self.py(v)[0] for v in col.value],
                         ["Integer", "Real", "Null", "Text", "Blob"])
        self.assertEqual(self.rows_of("ident", [None, None]), ("values", [None, None]))
        self.assertEqual(self.rows_of("double", [1, None]), ("integers", [2, None]))
        col = self.columns("ident", [self.c.ints([])], 0)
        self.assertEqual(self.unpack(col), ("values", []))
        # An INTEGER and a REAL are two classes.
        self.assertEqual(self.rows_of("ident", [1, 2.0]), ("values", [1, 2.0]))

    def test_result_conversions_are_the_row_calls(self):
        kinds = list(RETURNS)
        for kind in kinds:
            with self.subTest(kind=kind):
                want = self.row_by_row("ret", [kind])
                try:
                    got = self.rows_of("ret", [kind])
                except self.Err as e:
                    self.assertEqual(e.value, want)
                    continue
                self.assertIsInstance(want, list)
                self.assertEqual(got[1], [want[0][1]])
                self.assertEqual([type(x) for x in got[1]], [type(want[0][1])])

    def test_errors_are_the_row_calls_without_a_prefix(self):
        for kind in THROWS:
            with self.subTest(kind=kind):
                want = self.row_by_row("throw", [kind])
                self.assertIsInstance(want, str)
                self.assertEqual(self.error_of(self.rows_of, "throw", [kind]), want)
        self.assertEqual(self.error_of(self.rows_of, "add", [I64_MAX], [1]),
                         self.row_by_row("add", [I64_MAX], [1]))

    def test_the_first_failing_row_fails_the_batch(self):
        err = self.error_of(self.rows_of, "fail_at", [0, 1, 2, 3, 2])
        self.assertEqual(err, "ValueError: row 2 is bad")
        self.assertEqual(self.calls, [0, 1, 2], "rows after the failing one do not run")

    def test_a_conversion_error_is_its_rows_failure(self):
        err = self.error_of(self.rows_of, "mixed", [0, 1, 2, 3])
        self.assertEqual(err, self.row_by_row("mixed", [1]))
        self.assertTrue(err.startswith("cannot return a value of type list"), err)
        self.assertEqual(self.calls, [0, 1, 1])  # the batch stopped at row 1

    def test_zero_argument_functions(self):
        col = self.columns("tick", [], 3)
        self.assertEqual(self.unpack(col), ("integers", [1, 2, 3]))
        self.assertEqual(self.counter, [3])
        self.assertEqual(self.unpack(self.columns("tick", [], 0)), ("values", []))
        self.assertEqual(self.unpack(self.columns("nothing", [], 2)), ("values", [None, None]))
        # A variadic function with no columns: `rows` calls with no arguments.
        self.assertEqual(self.unpack(self.columns("joined", [], 2)), ("texts", ["", ""]))
        self.assertEqual(self.seen, [])
        self.assertEqual(self.unpack(self.columns("record", [], 2)), ("integers", [0, 0]))
        self.assertEqual(self.seen, [(), ()])

    def test_variadic_functions_take_any_number_of_columns(self):
        c = self.c
        cols = [c.ints([1, 2]), c.texts(["a", "b"]), c.reals([0.5, 1.5]),
                c.blobs([b"x", b"y"]), c.ints([7, 8])]
        self.assertEqual(self.unpack(self.columns("joined", cols, 2)),
                         ("texts", ["1-a-0.5-b'x'-7", "2-b-1.5-b'y'-8"]))

    def test_the_arity_is_checked_like_a_row_call(self):
        id = self.by_name["add"]
        want = self.error_of(self.g.call, id, [self.v(1)])
        self.assertEqual(want, "expected 2 arguments, got 1")
        self.assertEqual(self.error_of(self.g.call_columns, id, [self.c.ints([1])], 1), want)
        # Also with no rows, and before the columns are looked at.
        self.assertEqual(self.error_of(self.g.call_columns, id, ["junk"], 0), want)
        self.assertEqual(self.error_of(self.g.call_columns, self.by_name["ident"], [], 0),
                         "expected 1 argument, got 0")
        self.assertEqual(self.error_of(self.g.call_columns, self.by_name["tick"],
                                       [self.c.ints([1])], 1),
                         "expected 0 arguments, got 1")

    def test_unknown_and_non_scalar_ids_are_the_row_calls_errors(self):
        agg = self.by_name["agg"]
        self.assertEqual(self.error_of(self.g.call_columns, agg, [self.c.ints([1])], 1),
                         self.error_of(self.g.call1, agg, self.v(1)))
        self.assertEqual(self.error_of(self.g.call_columns, agg, [], 0),
                         "agg is not a scalar function")
        self.assertEqual(self.error_of(self.g.call_columns, 99, [], 0),
                         self.error_of(self.g.call0, 99))
        self.assertEqual(self.error_of(self.g.call_columns, 99, [], 0), "no function with id 99")

    def test_the_instance_stays_usable_after_a_failed_batch(self):
        self.error_of(self.rows_of, "fail_at", [2])
        self.assertEqual(self.rows_of("double", [4]), ("integers", [8]))


class RowCallArityTest(ExportsCase):
    """The row entry points check the arity as call_columns does."""

    def register(self):
        scalar(lambda a, b=0: a, name="one", arity=1)
        scalar(lambda *xs: len(xs), name="any")

    def test_wrong_counts(self):
        one = self.by_name["one"]
        self.assertEqual(self.error_of(self.g.call2, one, self.v(1), self.v(2)),
                         "expected 1 argument, got 2")
        self.assertEqual(self.error_of(self.g.call0, one), "expected 1 argument, got 0")
        self.assertEqual(self.error_of(self.g.call, one, [self.v(1)] * 4),
                         "expected 1 argument, got 4")
        self.assertEqual(self.py(self.g.call1(one, self.v(5))), ("Integer", 5))
        self.assertEqual(self.py(self.g.call(one, [self.v(5)])), ("Integer", 5))
        self.assertEqual(self.py(self.g.fast2(one, self.n(1), self.n(2))), ("Deferred", None))
        self.assertEqual(self.error_of(self.g.take_result), "expected 1 argument, got 2")
        any_ = self.by_name["any"]
        for n in range(5):
            self.assertEqual(self.call("any", *range(n)), ("Integer", n))
        self.assertEqual(self.py(self.g.fast3(any_, self.n(1), self.n(2), self.n(3))),
                         ("Integer", 3))


class StepColumnsTest(ColumnsCase):
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
        class nothing:
            def __init__(self):
                self.n = 0

            def step(self):
                self.n += 1

            def finalize(self):
                return self.n

        @aggregate
        class window_rows:
            def __init__(self):
                self.rows = []

            def step(self, a, b):
                self.rows.append((a, b))

            def inverse(self, a, b):
                if self.rows[0] != (a, b):
                    raise Error(f"inverse of {(a, b)!r}, but the oldest row is "
                                f"{self.rows[0]!r}")
                del self.rows[0]

            def value(self):
                return repr(self.rows)

            finalize = value

        register_window_sum("winsum")

    def acc(self, name):
        return self.Accumulator.create(self.by_name[name])

    def finish(self, acc):
        return self.py(self.Accumulator.finish(acc))

    def test_step_columns_equals_step(self):
        c = self.c
        a_vals = [1, None, "é", b"\x00", 2.5, None]
        b_vals = ["x", "y", None, "", "zz", "é😀"]
        by_rows = self.acc("collect")
        flat = [self.v(x) for row in zip(a_vals, b_vals) for x in row]
        by_rows.step(flat, 6)
        by_cols = self.acc("collect")
        by_cols.step_columns([c.of(a_vals, self.v), c.of(b_vals, self.v)], 6)
        want = self.finish(by_rows)
        self.assertEqual(self.finish(by_cols), want)
        self.assertIn("(None, 'y')", want[1])

    def test_every_kind_with_nulls(self):
        c = self.c
        present = [True, False, True]
        valid = bitmap(present)
        a = self.acc("collect")
        a.step_columns([c.ints([1, 2, 3], valid), c.reals([1.0, 2.0, 3.0], valid),
                        c.texts(["a", "b", "c"], valid), c.blobs([b"a", b"b", b"c"], valid),
                        c.values([None, 1, "v"], self.v)], 3)
        self.assertEqual(self.finish(a), ("Text", repr([
            (1, 1.0, "a", b"a", None), (None,) * 4 + (1,), (3, 3.0, "c", b"c", "v")])))

    def test_mixed_with_other_batches(self):
        a = self.acc("total")
        a.step_columns([self.c.ints([1, 2, 3], bitmap([True, False, True]))], 3)
        a.step_integers([10], 1)
        a.step_columns([self.c.reals([0.5])], 1)
        a.step_columns([self.c.ints([])], 0)
        self.assertEqual(self.finish(a), ("Real", 14.5))

    def test_zero_arity(self):
        a = self.acc("nothing")
        a.step_columns([], 3)
        a.step_columns([], 0)
        self.assertEqual(self.finish(a), ("Integer", 3))

    def test_inverse_columns(self):
        c = self.c
        w = self.acc("window_rows")
        w.step_columns([c.ints([1, 2, 3]), c.texts(["a", "b", "c"])], 3)
        w.inverse_columns([c.ints([1, 2]), c.texts(["a", "b"])], 2)
        self.assertEqual(self.py(w.value()), ("Text", "[(3, 'c')]"))
        # Oldest first: inverting (1, 'a') now is the author's error.
        self.assertEqual(
            self.error_of(w.inverse_columns, [c.ints([1]), c.texts(["a"])], 1),
            "inverse of (1, 'a'), but the oldest row is (3, 'c')")
        s = self.acc("winsum")
        s.step_columns([c.ints([5, 6, 7])], 3)
        s.inverse_columns([c.values([5], self.v)], 1)
        self.assertEqual(self.finish(s), ("Integer", 13))

    def test_an_aggregate_has_no_inverse_columns(self):
        a = self.acc("total")
        self.assertEqual(self.error_of(a.inverse_columns, [self.c.ints([1])], 1),
                         self.error_of(a.inverse, [self.v(1)], 1))
        self.assertEqual(self.error_of(a.inverse_columns, [self.c.ints([1])], 1),
                         "total is not a window function")

    def test_errors_are_step_errors(self):
        a, b = self.acc("total"), self.acc("total")
        want = self.error_of(a.step, [self.v(1), self.v("x"), self.v(2)], 3)
        got = self.error_of(b.step_columns, [self.c.values([1, "x", 2], self.v)], 3)
        self.assertEqual(got, want)
        self.assertEqual(got, "TypeError: unsupported operand type(s) for +=: 'int' and 'str'")
        # The row before the failing one was stepped; the one after was not.
        self.assertEqual(self.finish(a), self.finish(b))

    def test_malformed_columns(self):
        a = self.acc("total")
        self.assertEqual(self.error_of(a.step_columns, [self.c.ints([1, 2])], 3),
                         "column 1: 2 values for 3 rows")
        self.assertEqual(self.error_of(a.step_columns, [self.c.ints([1, 2], b"")], 2),
                         "column 1: a validity bitmap of 0 bytes for 2 rows")
        w = self.acc("window_rows")
        w.step_columns([self.c.ints([1]), self.c.texts(["a"])], 1)
        self.assertEqual(
            self.error_of(w.inverse_columns,
                          [self.c.ints([1]), self.c.texts([], offsets=[0, 1], data="é")], 1),
            "column 2: the last offset is 1 but the data has 2 bytes")
        self.assertEqual(self.py(w.value()), ("Text", "[(1, 'a')]"), "nothing was inverted")
        self.assertEqual(self.finish(a), ("Integer", 0), "nothing was stepped")

    def test_finished(self):
        a = self.acc("total")
        self.finish(a)
        self.assertEqual(self.error_of(a.step_columns, [self.c.ints([1])], 1),
                         "accumulator already finished")


if __name__ == "__main__":
    unittest.main()
