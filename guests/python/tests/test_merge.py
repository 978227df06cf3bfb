"""Mergeable aggregates (`serialize`/`merge`) and the manifest's declared
types."""

import struct
import unittest

from _support import ExportsCase, register_window_sum

from wasmudf_guest import Error, aggregate, scalar


class MergeTest(ExportsCase):
    def register(self):
        @aggregate(returns="integer", params=["integer"])
        class msum:
            """A sum whose state is 8 bytes, little-endian."""

            def __init__(self):
                self.t = 0

            def step(self, x):
                if x is not None:
                    self.t += x

            def finalize(self):
                return self.t

            def serialize(self):
                return struct.pack("<q", self.t)

            def merge(self, data):
                if type(data) is not bytes:
                    raise TypeError(f"merge got {type(data).__name__}")
                (t,) = struct.unpack("<q", data)
                self.t += t

        @aggregate
        class mwin:
            """A window function that keeps its rows; mergeable too."""

            def __init__(self):
                self.rows = []

            def step(self, x):
                self.rows.append(x)

            def inverse(self, x):
                self.rows.remove(x)

            def value(self):
                return ",".join(map(str, self.rows))

            finalize = value

            def serialize(self):
                return bytearray(",".join(map(str, self.rows)).encode())

            def merge(self, data):
                self.rows.extend(int(x) for x in data.decode().split(",") if x)

        out = self.serialized = {"value": b""}

        @aggregate
        class odd:
            def step(self, x):
                pass

            def finalize(self):
                return None

            def serialize(self):
                return out["value"]

            def merge(self, data):
                raise Error(f"cannot merge {len(data)} bytes")

        @aggregate
        class plain_total:
            def __init__(self):
                self.t = 0

            def step(self, x):
                self.t += x

            def finalize(self):
                return self.t

        register_window_sum("plain_window")

    def acc(self, name):
        return self.Accumulator.create(self.by_name[name])

    def finish(self, acc):
        return self.py(self.Accumulator.finish(acc))

    def test_round_trip(self):
        a, b = self.acc("msum"), self.acc("msum")
        a.step_integers([1, 2, 3], 3)
        b.step([self.v(100), self.v(None)], 2)
        data = b.serialize()
        self.assertIs(type(data), bytes)
        self.assertEqual(data, struct.pack("<q", 100))
        a.merge(data)
        self.assertEqual(self.finish(a), ("Integer", 106))
        # serialize leaves the state usable.
        b.step_integers([5], 1)
        self.assertEqual(self.finish(b), ("Integer", 105))

    def test_merging_an_empty_state_changes_nothing(self):
        a = self.acc("msum")
        a.step_integers([7], 1)
        a.merge(self.acc("msum").serialize())
        self.assertEqual(self.finish(a), ("Integer", 7))

    def test_partials_combine_like_one_pass(self):
        rows = list(range(-50, 51, 3))
        whole = self.acc("msum")
        whole.step_integers(rows, len(rows))
        parts = [self.acc("msum") for _ in range(4)]
        for i, p in enumerate(parts):
            chunk = rows[i::4]
            p.step_integers(chunk, len(chunk))
        target = self.acc("msum")
        for p in parts:
            target.merge(p.serialize())
        self.assertEqual(self.finish(target), self.finish(whole))

    def test_window_functions_can_be_mergeable(self):
        w, other = self.acc("mwin"), self.acc("mwin")
        w.step_integers([1, 2], 2)
        other.step_integers([3, 4], 2)
        data = other.serialize()
        self.assertEqual(data, b"3,4")
        self.assertIs(type(data), bytes)  # the bytearray is copied out
        w.merge(data)
        w.inverse([self.v(1)], 1)
        self.assertEqual(self.py(w.value()), ("Text", "2,3,4"))

    def test_not_mergeable(self):
        for name in ("plain_total", "plain_window"):
            a = self.acc(name)
            self.assertEqual(self.error_of(a.serialize), f"function {name} is not mergeable")
            self.assertEqual(self.error_of(a.merge, b"\x00" * 8),
                             f"function {name} is not mergeable")
            # The state is untouched and usable.
            a.step_integers([2], 1)
            self.assertEqual(self.finish(a), ("Integer", 2))

    def test_author_errors(self):
        a = self.acc("odd")
        self.assertEqual(self.error_of(a.merge, b"abc"), "cannot merge 3 bytes")
        self.assertEqual(a.serialize(), b"")
        m = self.acc("msum")
        self.assertEqual(self.error_of(m.merge, b"\x01\x02"),
                         "struct.error: unpack requires a buffer of 8 bytes")
        m.step_integers([1], 1)
        self.assertEqual(self.finish(m), ("Integer", 1))

    def test_serialize_must_return_bytes(self):
        a = self.acc("odd")
        for bad, name in [("text", "str"), (None, "NoneType"), ([1], "list")]:
            self.serialized["value"] = bad
            self.assertEqual(self.error_of(a.serialize),
                             f"serialize() returned a value of type {name}; it must "
                             "return bytes, bytearray or memoryview")
        self.serialized["value"] = memoryview(b"mv")
        self.assertEqual(a.serialize(), b"mv")
        self.assertIs(type(a.serialize()), bytes)

    def test_finished(self):
        a = self.acc("msum")
        self.finish(a)
        self.assertEqual(self.error_of(a.serialize), "accumulator already finished")
        self.assertEqual(self.error_of(a.merge, b""), "accumulator already finished")

    def test_manifest_says_mergeable(self):
        specs = {s.name: s for s in self.g.manifest()}
        self.assertEqual({n: s.mergeable for n, s in specs.items()},
                         {"msum": True, "mwin": True, "odd": True,
                          "plain_total": False, "plain_window": False})
        for s in specs.values():
            self.assertIs(type(s.mergeable), bool)


class DeclaredTypesTest(ExportsCase):
    def register(self):
        scalar(lambda a, b: a, name="typed", returns="real", params=["integer", "text"])
        scalar(lambda *xs: 0, name="var", returns="integer", params=["any"])
        scalar(lambda: b"", name="none_declared")
        scalar(lambda: b"", name="zero", returns="blob", params=[])
        scalar(lambda x: x, name="params_only", params=("blob",))

        @aggregate(returns="text", params=["real", "any"])
        class agg:
            def step(self, a, b):
                pass

            def finalize(self):
                return ""

    def test_manifest(self):
        T = self.wit.ValueType
        specs = {s.name: (s.returns, s.params, s.mergeable) for s in self.g.manifest()}
        self.assertEqual(specs, {
            "typed": (T.REAL, [T.INTEGER, T.TEXT], False),
            "var": (T.INTEGER, [T.ANY], False),
            "none_declared": (None, None, False),
            "zero": (T.BLOB, [], False),
            "params_only": (None, [T.BLOB], False),
            "agg": (T.TEXT, [T.REAL, T.ANY], False),
        })
        for s in self.g.manifest():
            if s.params is not None:
                self.assertIs(type(s.params), list)

    def test_declarations_do_not_change_calls(self):
        # Declared types are for the host; the SDK passes values as they come.
        self.assertEqual(self.call("typed", "not an integer", 1), ("Text", "not an integer"))


if __name__ == "__main__":
    unittest.main()
