"""Table-valued functions: `@table` registration and the `Cursor` export."""

import unittest

from _support import ExportsCase, _registry, _runtime, register_window_sum

from wasmudf_guest import Error, RegistrationError, aggregate, scalar, table

I64_MAX = (1 << 63) - 1


class TableRegistrationTest(unittest.TestCase):
    def setUp(self):
        _registry.reset()

    def tearDown(self):
        _registry.reset()

    def only(self):
        (d,) = _registry.entries()
        return d

    def test_defaults_and_options(self):
        @table(columns=["ordinal", "part"])
        def py_split(text, sep):
            yield (1, text)

        d = self.only()
        self.assertEqual((d.name, d.arity, d.kind, d.columns),
                         ("py_split", 2, "table", ("ordinal", "part")))
        self.assertEqual((d.deterministic, d.innocuous, d.direct_only),
                         (False, False, False))
        self.assertEqual((d.returns, d.params, d.mergeable), (None, None, False))
        self.assertIs(d.target, py_split)
        # The decorator returns the function unchanged.
        self.assertEqual(list(py_split("a", ",")), [(1, "a")])
        self.assertIn("columns=['ordinal', 'part']", repr(d))

        _registry.reset()
        table(lambda n=3: range(n), name="Counter", columns=("value",), arity=0,
              deterministic=True, direct_only=True, params=[])
        d = self.only()
        self.assertEqual((d.name, d.arity, d.columns, d.params),
                         ("Counter", 0, ("value",), ()))
        self.assertEqual((d.deterministic, d.direct_only), (True, True))

    def test_other_kinds_have_no_columns(self):
        scalar(lambda x: x, name="s")
        register_window_sum("w")
        self.assertEqual([d.columns for d in _registry.entries()], [(), ()])

    def test_columns_are_required_and_checked(self):
        def f(a, b):
            return ()

        for columns, why in [
            (None, "needs columns="),
            ("part", "must be a list"),
            ({"a": 1}, "must be a list"),
            ([], "is empty"),
            ([1], "column 1 must be named by a str"),
            (["a", ""], r"column 2 \(''\) must be a non-empty name"),
            (["a\0b"], "without NUL"),
            (["\udc80"], "not valid Unicode"),
            (["x" * 256], "256 bytes"),
            (["a", "A"], r"'A' is declared twice \(as 'a'\)"),
            (["arg1"], "name of an argument column"),
            (["ARG2"], "arg1..arg2"),
        ]:
            _registry.reset()
            with self.assertRaisesRegex(RegistrationError, why, msg=repr(columns)):
                table(f, columns=columns)
        # arg3 is not an argument of a function of two; non-ASCII case is
        # not folded (SQLite folds ASCII only).
        _registry.reset()
        table(f, columns=["arg3", "x" * 255, "é", "É"])
        self.assertEqual(self.only().columns, ("arg3", "x" * 255, "é", "É"))
        # Bare @table has no columns.
        _registry.reset()
        with self.assertRaisesRegex(RegistrationError, "needs columns="):
            table(f)

    def test_at_most_1000_columns_with_the_arguments(self):
        def f(a, b):
            return ()

        names = [f"c{i}" for i in range(999)]
        with self.assertRaisesRegex(RegistrationError, "999 columns and 2 arguments"):
            table(f, columns=names)
        table(f, columns=names[:998])
        self.assertEqual(len(self.only().columns), 998)

    def test_arity_is_fixed(self):
        def variadic(*xs):
            return ()

        def first_then_rest(a, *rest):
            return ()

        for fn in (variadic, first_then_rest):
            _registry.reset()
            with self.assertRaisesRegex(RegistrationError, "cannot be variadic"):
                table(fn, columns=["x"])
        with self.assertRaisesRegex(RegistrationError, "cannot be variadic"):
            table(lambda a: (), name="t", columns=["x"], arity=-1)
        # An explicit arity fixes a variadic signature.
        table(first_then_rest, columns=["x"], arity=2)
        self.assertEqual(self.only().arity, 2)
        with self.assertRaisesRegex(RegistrationError, "cannot be called with 3"):
            table(lambda a, b: (), name="t2", columns=["x"], arity=3)

    def test_params_and_other_checks(self):
        table(lambda a, b: (), name="t", columns=["x"], params=["text", "integer"])
        self.assertEqual(self.only().params, ("text", "integer"))
        with self.assertRaisesRegex(RegistrationError, "declares 1 type"):
            table(lambda a, b: (), name="t2", columns=["x"], params=["text"])
        with self.assertRaisesRegex(RegistrationError, "needs a callable"):
            table(42, columns=["x"])
        with self.assertRaisesRegex(RegistrationError, "pass name="):
            table(lambda: (), columns=["x"])
        with self.assertRaisesRegex(RegistrationError, "both innocuous and direct_only"):
            table(lambda: (), name="t3", columns=["x"], innocuous=True, direct_only=True)
        with self.assertRaises(TypeError):
            table(lambda: (), name="t4", columns=["x"], returns="text")

    def test_names(self):
        table(lambda a: (), name="split", columns=["x"])
        # (name, arity) twice, whatever the kinds.
        with self.assertRaisesRegex(RegistrationError, "registered twice"):
            scalar(lambda a: a, name="SPLIT")
        # SQLite tells table functions apart by name only.
        with self.assertRaisesRegex(RegistrationError, "by name only"):
            table(lambda a, b: (), name="Split", columns=["x"])
        # A scalar of the same name and another arity is fine: SQLite keeps
        # functions and virtual tables apart.
        scalar(lambda a, b: a, name="split")
        self.assertEqual([(d.name, d.kind) for d in _registry.entries()],
                         [("split", "table"), ("split", "scalar")])
        _registry.reset()
        table(lambda a: (), name="split", columns=["x"])  # reset forgets the name

    def test_frozen(self):
        _registry.freeze(require_functions=False)
        with self.assertRaisesRegex(RegistrationError, "at build time"):
            table(lambda: (), name="late", columns=["x"])


class Boom(Exception):
    pass


class CursorTest(ExportsCase):
    def register(self):
        @table(columns=["ordinal", "part"], deterministic=True)
        def split(text, sep):
            for i, part in enumerate(text.split(sep), 1):
                yield (i, part)

        @table(columns=["value"])
        def series(n):
            return ([i] for i in range(n))

        @table(columns=["a", "b"])
        def rows(which):
            return ROWS[which]

        @table(columns=["x"])
        def fails_after(n):
            for i in range(n):
                yield (i,)
            raise Boom("after the rows")

        @table(columns=["x"])
        def fails_at_once(kind):
            raise THROWS[kind]

        @table(columns=["v"])
        def echo(a, b, c):
            yield (a,)
            yield (b,)
            yield (c,)

        @table(columns=["x"])
        def nothing():
            return None

        scalar(lambda x: x, name="ident")
        register_window_sum("total")

        @aggregate
        class agg:
            def step(self, x):
                pass

            def finalize(self):
                return 0

    def open(self, name, *args):
        return self.Cursor.open(self.by_name[name], [self.v(a) for a in args])

    def read(self, cursor, max_rows):
        return [self.py(v)[1] for v in cursor.next(max_rows)]

    def all_rows(self, name, *args, batch=1000):
        c = self.open(name, *args)
        out = []
        while True:
            vals = self.read(c, batch)
            if not vals:
                return out
            out.extend(vals)

    def test_manifest(self):
        specs = {s.name: s for s in self.g.manifest()}
        K = self.wit.FunctionKind
        split = specs["split"]
        self.assertIs(split.kind, K.TABLE)
        self.assertEqual((split.arity, split.columns, split.returns, split.params,
                          split.mergeable), (2, ["ordinal", "part"], None, None, False))
        self.assertIsInstance(split.columns, list)
        self.assertEqual(split.flags, self.wit.FunctionFlags.DETERMINISTIC)
        self.assertEqual(specs["nothing"].arity, 0)
        # Every other kind declares no columns.
        for name in ("ident", "total", "agg"):
            self.assertEqual(specs[name].columns, [], name)
            self.assertIsNot(specs[name].kind, K.TABLE)

    def test_rows_come_in_batches(self):
        c = self.open("split", "a,b,,c,d", ",")
        first = c.next(2)
        self.assertEqual([type(v) for v in first],
                         [self.wit.Value_Integer, self.wit.Value_Text] * 2)
        self.assertEqual([self.py(v)[1] for v in first], [1, "a", 2, "b"])
        self.assertEqual(self.read(c, 2), [3, "", 4, "c"])
        # Fewer rows than asked: the last ones.
        self.assertEqual(self.read(c, 2), [5, "d"])
        # Then no rows, and no rows again.
        self.assertEqual(self.read(c, 2), [])
        self.assertEqual(self.read(c, 1024), [])
        # A batch ending exactly at the last row: the next one is empty.
        c = self.open("series", 3)
        self.assertEqual(self.read(c, 3), [0, 1, 2])
        self.assertEqual(self.read(c, 3), [])
        self.assertEqual(self.read(c, 0), [])

    def test_rows_are_read_lazily(self):
        seen = []

        def gen():
            for i in range(100):
                seen.append(i)
                yield (i, None)

        ROWS["lazy"] = gen()
        c = self.open("rows", "lazy")
        self.assertEqual(seen, [])
        self.assertEqual(len(c.next(3)), 6)
        self.assertEqual(seen, [0, 1, 2])

    def test_the_iterator_is_freed_at_the_end(self):
        c = self.open("series", 2)
        self.assertIsNotNone(c.rows)
        c.next(5)
        self.assertIsNone(c.rows)

    def test_cursors_are_independent(self):
        a = self.open("series", 5)
        b = self.open("series", 5)
        self.assertEqual(self.read(a, 2), [0, 1])
        self.assertEqual(self.read(b, 3), [0, 1, 2])
        self.assertEqual(self.read(a, 10), [2, 3, 4])

    def test_arguments_and_values_convert_as_for_scalars(self):
        self.assertEqual(self.all_rows("echo", None, 1.5, b"\x00"), [None, 1.5, b"\x00"])
        self.assertEqual(self.all_rows("echo", I64_MAX, "é", -0.0), [I64_MAX, "é", -0.0])
        ROWS["mixed"] = [(True, bytearray(b"x")), [None, memoryview(b"yz")]]
        c = self.open("rows", "mixed")
        vals = c.next(10)
        self.assertEqual([self.py(v) for v in vals],
                         [("Integer", 1), ("Blob", b"x"), ("Null", None), ("Blob", b"yz")])
        # Tuple subclasses (named tuples) are rows too.
        from collections import namedtuple
        Row = namedtuple("Row", "a b")
        ROWS["named"] = [Row(1, 2)]
        self.assertEqual(self.all_rows("rows", "named"), [1, 2])
        # Any iterable of rows.
        ROWS["dict"] = {(1, 2): None, (3, 4): None}
        self.assertEqual(self.all_rows("rows", "dict"), [1, 2, 3, 4])
        self.assertEqual(self.all_rows("nothing"), [])
        ROWS["empty"] = []
        self.assertEqual(self.all_rows("rows", "empty"), [])

    def test_a_row_of_the_wrong_width_is_an_error(self):
        ROWS["short"] = [(1, 2), (3,)]
        c = self.open("rows", "short")
        self.assertEqual(self.error_of(c.next, 10),
                         "row 2 has 1 value; the function declares 2 columns")
        ROWS["long"] = [(1, 2), (3, 4), (5, 6, 7)]
        c = self.open("rows", "long")
        self.assertEqual(self.read(c, 2), [1, 2, 3, 4])
        self.assertEqual(self.error_of(c.next, 2),
                         "row 3 has 3 values; the function declares 2 columns")
        ROWS["bare"] = [5]
        c = self.open("rows", "bare")
        self.assertEqual(self.error_of(c.next, 1),
                         "row 1 is a value of type int; a row is a tuple or list "
                         "with one value per column (2 columns)")
        ROWS["str"] = ["ab"]
        c = self.open("rows", "str")
        self.assertIn("row 1 is a value of type str", self.error_of(c.next, 1))

    def test_an_unconvertible_value_names_its_row_and_column(self):
        ROWS["big"] = [(1, 2), (3, I64_MAX + 1)]
        c = self.open("rows", "big")
        self.assertEqual(self.error_of(c.next, 5),
                         "row 2, column b: integer out of range: 9223372036854775808 "
                         "does not fit in a signed 64-bit INTEGER")
        ROWS["dict_value"] = [({}, 1)]
        c = self.open("rows", "dict_value")
        self.assertEqual(self.error_of(c.next, 5),
                         "row 1, column a: cannot return a value of type dict: a function "
                         "returns int, float, str, bytes, bool or None")
        ROWS["surrogate"] = [("x", "\udc80")]
        c = self.open("rows", "surrogate")
        self.assertIn("row 1, column b: TEXT result is not valid Unicode",
                      self.error_of(c.next, 5))

    def test_errors_the_iterator_raises(self):
        c = self.open("fails_after", 3)
        self.assertEqual(self.read(c, 2), [0, 1])
        # The row before the error is lost with its batch.
        self.assertEqual(self.error_of(c.next, 2), "test_table.Boom: after the rows")
        # A failed cursor keeps failing; it does not look finished.
        self.assertEqual(self.error_of(c.next, 2), "test_table.Boom: after the rows")
        self.assertIsNone(c.rows)
        self.assertEqual(self.error_of(self.open("fails_after", 0).next, 1),
                         "test_table.Boom: after the rows")

    def test_errors_the_function_raises(self):
        for kind, want in [("error", "exactly this"),
                           ("zero", "ZeroDivisionError: division by zero"),
                           ("exit", "SystemExit: 2"),
                           ("keyboard", "KeyboardInterrupt")]:
            self.assertEqual(self.error_of(self.open, "fails_at_once", kind), want)
        # A generator's body runs at the first `next`.
        c = self.open("split", 1, ",")
        self.assertEqual(self.error_of(c.next, 1),
                         "AttributeError: 'int' object has no attribute 'split'")
        # What is returned must be an iterable of rows.
        ROWS["int"] = 5
        self.assertEqual(self.error_of(self.open, "rows", "int"),
                         "returned a value of type int, which is not iterable; a table "
                         "function returns an iterable of rows (a generator, list, ...), "
                         "each a tuple or list")
        ROWS["text"] = "ab"
        self.assertIn("returned a value of type str; a table function returns",
                      self.error_of(self.open, "rows", "text"))
        # Later calls work.
        self.assertEqual(self.all_rows("series", 2), [0, 1])

    def test_ids_kinds_and_arity(self):
        self.assertEqual(self.error_of(self.Cursor.open, 99, []), "no function with id 99")
        self.assertEqual(self.error_of(self.Cursor.open, -1, []), "no function with id -1")
        ident = self.by_name["ident"]
        self.assertEqual(self.error_of(self.Cursor.open, ident, [self.v(1)]),
                         f"function {ident} (ident) is not a table function")
        total = self.by_name["total"]
        self.assertEqual(self.error_of(self.Cursor.open, total, [self.v(1)]),
                         f"function {total} (total) is not a table function")
        self.assertEqual(self.error_of(self.open, "split", "a"), "expected 2 arguments, got 1")
        self.assertEqual(self.error_of(self.open, "series"), "expected 1 argument, got 0")
        # The scalar and aggregate entry points refuse a table function.
        split = self.by_name["split"]
        self.assertEqual(self.error_of(self.g.call2, split, self.v("a"), self.v(",")),
                         "split is not a scalar function")
        self.assertEqual(self.error_of(self.g.call, split, [self.v("a"), self.v(",")]),
                         "split is not a scalar function")
        self.assertIsInstance(self.g.fast2(split, self.n(1), self.n(2)),
                              self.wit.FastResult_Deferred)
        self.assertEqual(self.error_of(self.g.take_result), "split is not a scalar function")
        self.assertEqual(self.error_of(self.g.call_columns, split, [], 0),
                         "split is not a scalar function")
        self.assertEqual(self.error_of(self.Accumulator.create, split),
                         "split is not an aggregate or window function")

    def test_error_texts_are_valid_and_cut(self):
        ROWS["long_error"] = _raising(Error("x" * (_runtime.MAX_MESSAGE_CHARS + 10)))
        c = self.open("rows", "long_error")
        err = self.error_of(c.next, 1)
        self.assertTrue(err.endswith("characters)"), err[-40:])
        ROWS["bad_text"] = _raising(Error("bad \udc80"))
        self.assertEqual(self.error_of(self.open("rows", "bad_text").next, 1),
                         "bad \\udc80")


def _raising(exc):
    raise exc
    yield  # a generator


ROWS = {}
THROWS = {"error": Error("exactly this"), "zero": ZeroDivisionError("division by zero"),
          "exit": SystemExit(2), "keyboard": KeyboardInterrupt()}


if __name__ == "__main__":
    unittest.main()
