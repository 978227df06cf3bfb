import unittest

from _support import _registry

from wasmudf_guest import RegistrationError, aggregate, scalar


class RegistryTest(unittest.TestCase):
    def setUp(self):
        _registry.reset()

    def tearDown(self):
        _registry.reset()

    def only(self):
        (d,) = _registry.entries()
        return d

    def test_defaults_from_the_function(self):
        @scalar
        def py_two(a, b):
            return a

        d = self.only()
        self.assertEqual((d.name, d.arity, d.kind), ("py_two", 2, "scalar"))
        # No flags unless asked for, as in the Rust and JavaScript SDKs.
        self.assertEqual((d.deterministic, d.innocuous, d.direct_only),
                         (False, False, False))
        self.assertIs(d.target, py_two)
        # The decorator returns the function unchanged.
        self.assertEqual(py_two(1, 2), 1)

    def test_options(self):
        @scalar(name="Other", deterministic=False, direct_only=True)
        def f(a):
            return a

        d = self.only()
        self.assertEqual((d.name, d.arity), ("Other", 1))
        self.assertEqual((d.deterministic, d.innocuous, d.direct_only),
                         (False, False, True))

    def test_arity_inference(self):
        def none():
            pass

        def variadic(*args):
            pass

        def first_then_rest(sep, *parts):
            pass

        def defaults(a, b=1):
            pass

        def kw_default(a, *, k=1):
            pass

        for fn, want in [(none, 0), (variadic, -1), (first_then_rest, -1),
                         (defaults, 2), (kw_default, 1)]:
            _registry.reset()
            scalar(fn)
            self.assertEqual(self.only().arity, want, fn.__name__)

    def test_explicit_arity_is_checked_against_the_signature(self):
        def defaults(a, b=1):
            pass

        scalar(defaults, arity=1)
        self.assertEqual(self.only().arity, 1)
        with self.assertRaisesRegex(RegistrationError, "cannot be called with 3"):
            scalar(defaults, name="d3", arity=3)
        with self.assertRaisesRegex(RegistrationError, r"needs a \*args"):
            scalar(defaults, name="dv", arity=-1)
        for bad in (-2, 128, True, 1.0):
            with self.assertRaises(RegistrationError):
                scalar(lambda *a: 0, name="bad", arity=bad)

    def test_builtins_need_an_arity_only_without_a_signature(self):
        scalar(str.title, name="py_title")
        self.assertEqual(self.only().arity, 1)

    def test_stacked_decorators_register_several_entries(self):
        @scalar(name="g", arity=1)
        @scalar(name="g", arity=2)
        def g(a, b=None):
            return a

        self.assertEqual([(d.name, d.arity) for d in _registry.entries()],
                         [("g", 2), ("g", 1)])

    def test_required_keyword_only_is_refused(self):
        def f(a, *, k):
            pass

        with self.assertRaisesRegex(RegistrationError, "keyword-only"):
            scalar(f)

    def test_names(self):
        with self.assertRaisesRegex(RegistrationError, "name="):
            scalar(lambda x: x)
        with self.assertRaisesRegex(RegistrationError, "empty"):
            scalar(lambda x: x, name="")
        with self.assertRaisesRegex(RegistrationError, "NUL"):
            scalar(lambda x: x, name="a\0b")
        with self.assertRaisesRegex(RegistrationError, "256 bytes"):
            scalar(lambda x: x, name="n" * 256)
        with self.assertRaisesRegex(RegistrationError, "must be a str"):
            scalar(lambda x: x, name=3)
        scalar(lambda x: x, name="n" * 255)
        with self.assertRaisesRegex(RegistrationError, "callable"):
            scalar(3)

    def test_duplicates_are_refused_case_insensitively(self):
        @scalar
        def f(a):
            pass

        with self.assertRaisesRegex(RegistrationError, r"F \(arity 1\) is registered twice"):
            scalar(lambda a: a, name="F")
        # Another arity is another SQLite function.
        scalar(lambda a, b: a, name="F")

        # An aggregate clashes with a scalar of the same name and arity.
        class f_agg:
            def step(self, x):
                pass

            def finalize(self):
                pass

        with self.assertRaises(RegistrationError):
            aggregate(f_agg, name="f")
        # Only ASCII letters fold, as in SQLite.
        scalar(lambda a: a, name="\u00c9")
        scalar(lambda a: a, name="\u00e9")

    def test_innocuous_and_direct_only_conflict(self):
        with self.assertRaisesRegex(RegistrationError, "innocuous and direct_only"):
            scalar(lambda a: a, name="x", innocuous=True, direct_only=True)

    def test_aggregate_and_window(self):
        @aggregate
        class total:
            def __init__(self):
                self.t = 0

            def step(self, x):
                self.t += x

            def finalize(self):
                return self.t

        @aggregate(name="w", deterministic=False)
        class Win:
            def step(self, a, b):
                pass

            def inverse(self, a, b):
                pass

            def value(self):
                pass

            def finalize(self):
                pass

        a, w = _registry.entries()
        self.assertEqual((a.name, a.arity, a.kind), ("total", 1, "aggregate"))
        self.assertEqual((w.name, w.arity, w.kind, w.deterministic),
                         ("w", 2, "window", False))
        self.assertIs(a.target, total)

    def test_aggregate_variadic_and_static_step(self):
        @aggregate
        class v:
            def step(self, *xs):
                pass

            def finalize(self):
                pass

        self.assertEqual(self.only().arity, -1)

    def test_aggregate_mistakes(self):
        with self.assertRaisesRegex(RegistrationError, "decorates a class"):
            aggregate(lambda: 0)

        class no_finalize:
            def step(self, x):
                pass

        with self.assertRaisesRegex(RegistrationError, "no finalize"):
            aggregate(no_finalize)

        class half_window:
            def step(self, x):
                pass

            def inverse(self, x):
                pass

            def finalize(self):
                pass

        with self.assertRaisesRegex(RegistrationError, "not value"):
            aggregate(half_window)

        class needs_args:
            def __init__(self, start):
                pass

            def step(self, x):
                pass

            def finalize(self):
                pass

        with self.assertRaisesRegex(RegistrationError, "no arguments"):
            aggregate(needs_args)

        class inverse_arity:
            def step(self, x):
                pass

            def inverse(self, x, y):
                pass

            def value(self):
                pass

            def finalize(self):
                pass

        with self.assertRaisesRegex(RegistrationError, "inverse cannot be called with 1"):
            aggregate(inverse_arity)

    def test_declared_types(self):
        @scalar(returns="real", params=["integer", "text"])
        def f(a, b):
            pass

        @scalar(params=("any",), returns="blob")
        def v(*xs):
            pass

        @aggregate(returns="integer", params=["real"])
        class a:
            def step(self, x):
                pass

            def finalize(self):
                pass

        scalar(lambda: 0, name="z", params=[])
        scalar(lambda x: x, name="undeclared")
        f_, v_, a_, z_, u_ = _registry.entries()
        self.assertEqual((f_.returns, f_.params), ("real", ("integer", "text")))
        self.assertEqual((v_.returns, v_.params), ("blob", ("any",)))
        self.assertEqual((a_.returns, a_.params), ("integer", ("real",)))
        self.assertEqual((z_.returns, z_.params), (None, ()))
        self.assertEqual((u_.returns, u_.params), (None, None))
        for d in _registry.entries():
            self.assertFalse(d.mergeable)
        self.assertIn("returns='real'", repr(f_))

    def test_declared_types_are_validated(self):
        one_of = "use one of 'integer', 'real', 'text', 'blob', 'any'"
        cases = [
            (dict(returns="float"), f"returns='float' is not a value type; {one_of}$"),
            (dict(returns="INTEGER"), "write 'integer', in lower case"),
            (dict(returns=int), "for int, write 'integer'"),
            (dict(returns=float), "for float, write 'real'"),
            (dict(returns=3), "returns=3 is not a value type"),
            (dict(params=["text", "string"]), "the params= entry 'string' is not a value type"),
            (dict(params=[["text"], "text"]), r"the params= entry \['text'\] is not"),
            (dict(params="text"), r"params= must be a list with one type per argument.*got str 'text'"),
            (dict(params={"a": "text"}), "params= must be a list"),
            (dict(params=["text"]), "params= declares 1 type, but the function takes 2 arguments"),
            (dict(params=["text"] * 3), "params= declares 3 types, but the function takes 2"),
        ]
        for options, pattern in cases:
            with self.subTest(options=options):
                with self.assertRaisesRegex(RegistrationError, pattern):
                    scalar(lambda a, b: a, name="f", **options)
        self.assertEqual(_registry.entries(), ())
        with self.assertRaisesRegex(RegistrationError, "takes 1 argument$"):
            scalar(lambda a: a, name="g", params=[])
        with self.assertRaisesRegex(RegistrationError,
                                    r"variadic function \(arity -1\) declares params= as one type "
                                    r"for all its arguments, e.g. params=\['any'\]; got 2"):
            scalar(lambda *a: a, name="g", params=["text", "text"])
        with self.assertRaisesRegex(RegistrationError, "variadic.*got 0"):
            scalar(lambda *a: a, name="g", params=[])

        class a:
            def step(self, x):
                pass

            def finalize(self):
                pass

        with self.assertRaisesRegex(RegistrationError, "is not a value type"):
            aggregate(a, returns="number")
        with self.assertRaisesRegex(RegistrationError, "declares 2 types, but the function takes 1"):
            aggregate(a, params=["real", "real"])
        self.assertEqual(_registry.entries(), ())

    def test_mergeable(self):
        @aggregate
        class m:
            def step(self, x):
                pass

            def finalize(self):
                pass

            def serialize(self):
                return b""

            def merge(self, data):
                pass

        @aggregate
        class w(m):
            def inverse(self, x):
                pass

            def value(self):
                pass

        @aggregate
        class plain:
            def step(self, x):
                pass

            def finalize(self):
                pass

        self.assertEqual([(d.name, d.kind, d.mergeable) for d in _registry.entries()],
                         [("m", "aggregate", True), ("w", "window", True),
                          ("plain", "aggregate", False)])
        self.assertIn("mergeable=True", repr(_registry.entries()[0]))

    def test_mergeable_mistakes(self):
        class only_serialize:
            def step(self, x):
                pass

            def finalize(self):
                pass

            def serialize(self):
                return b""

        with self.assertRaisesRegex(RegistrationError,
                                    r"defines serialize\(\) but not merge\(\); a mergeable"):
            aggregate(only_serialize)

        class only_merge:
            def step(self, x):
                pass

            def finalize(self):
                pass

            def merge(self, data):
                pass

        with self.assertRaisesRegex(RegistrationError, r"defines merge\(\) but not serialize\(\)"):
            aggregate(only_merge)

        class merge_arity(only_merge):
            def serialize(self):
                return b""

            def merge(self, a, b):
                pass

        with self.assertRaisesRegex(RegistrationError, "merge cannot be called with 1 argument"):
            aggregate(merge_arity)

        class serialize_arity(only_merge):
            def serialize(self, x):
                return b""

        with self.assertRaisesRegex(RegistrationError, "serialize cannot be called with 0"):
            aggregate(serialize_arity)
        self.assertEqual(_registry.entries(), ())

    def test_freeze(self):
        with self.assertRaisesRegex(RegistrationError, "no SQL functions"):
            _registry.freeze()
        _registry.reset()
        scalar(lambda: 1, name="one")
        entries = _registry.freeze()
        self.assertEqual([d.name for d in entries], ["one"])
        with self.assertRaisesRegex(RegistrationError, "at build time"):
            scalar(lambda: 2, name="two")


if __name__ == "__main__":
    unittest.main()
