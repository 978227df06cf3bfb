"""Example wasmudf guest in Python: one component, several SQL functions.

Build:

    guests/python/.venv/bin/python -m wasmudf_guest build \
        guests/python/examples/py_examples.py -o guests/target/python/py_examples.wasm

Contracts and known answers are in README.md next to this file.
"""

import difflib
import json
import math
import statistics
import struct
import sys
import time
from fractions import Fraction

from wasmudf_guest import Error, aggregate, scalar, table


def _number(x, fn):
    """`x` if it is an SQL INTEGER or REAL, else a TypeError naming `fn`."""
    if type(x) is int or type(x) is float:
        return x
    kind = {str: "TEXT", bytes: "BLOB"}.get(type(x), type(x).__name__)
    raise TypeError(f"{fn}() takes numbers, got {kind}")


@scalar(deterministic=True, returns="real")
def py_similarity(a, b):
    """How alike two TEXT (or BLOB) values are: difflib's ratio, 0.0..1.0."""
    if a is None or b is None:
        return None
    if type(a) is not type(b) or type(a) not in (str, bytes):
        raise TypeError("py_similarity() compares two TEXT or two BLOB values")
    return difflib.SequenceMatcher(None, a, b).ratio()


@scalar(returns="integer", params=["integer"])
def py_sleep(ms):
    """The seed's function in Python: sleeps `ms` milliseconds on the WASI
    monotonic clock (the host can cut the sleep short at the call's deadline
    or on cancel) and returns `ms`."""
    if ms is None:
        return None
    if type(ms) is not int:
        raise TypeError("py_sleep() takes an INTEGER number of milliseconds")
    if ms < 0:
        raise ValueError("ms must not be negative")
    time.sleep(ms / 1000)
    return ms


@scalar(deterministic=True)
def py_add(a, b):
    """a + b, exact for 64-bit integers; the SDK turns a sum outside the
    INTEGER range into the error `integer out of range`."""
    if a is None or b is None:
        return None
    return _number(a, "py_add") + _number(b, "py_add")


@scalar(deterministic=True, params=["text", "any"])
def py_json_get(doc, key):
    """The member `key` of a JSON object (or element `key` of an array):
    JSON strings, numbers, booleans as TEXT, INTEGER/REAL, 0/1; objects and
    arrays as compact JSON TEXT; null or a missing key as NULL."""
    if doc is None or key is None:
        return None
    if type(doc) is not str:
        raise TypeError("py_json_get() needs the JSON document as TEXT")
    value = json.loads(doc)
    if isinstance(value, dict):
        value = value.get(str(key))
    elif isinstance(value, list) and type(key) is int:
        value = value[key] if -len(value) <= key < len(value) else None
    else:
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return value


@scalar
def py_print(x):
    """Prints its argument (repr) to stdout, which the host captures, and
    returns it unchanged."""
    print(f"py_print: {x!r}")
    return x


@scalar(deterministic=True, returns="text")
def py_join(sep, *parts):
    """Variadic: the non-NULL parts joined with `sep`, as TEXT."""
    if sep is None:
        return None
    return str(sep).join(str(p) for p in parts if p is not None)


@scalar(deterministic=True, returns="text", params=[])
def py_version():
    """The Python inside the component."""
    return sys.version


@scalar(deterministic=True)
def py_fail(message):
    """Always fails: `py_fail('boom')` is the SQL error `py_fail: boom`."""
    raise Error(str(message))


@table(columns=["ordinal", "part"], deterministic=True, params=["text", "text"])
def py_split(text, sep):
    """One row per part of `text` between occurrences of `sep`, as Python's
    `text.split(sep)` cuts it: `ordinal` (from 1) and `part`. No rows when
    an argument is NULL."""
    if text is None or sep is None:
        return None
    if type(text) is not str or type(sep) is not str:
        raise TypeError("py_split() takes TEXT arguments")
    if not sep:
        raise Error("the separator must not be empty")
    # Any iterable of tuples serves; a generator would too. The checks
    # above run when the function is called, before any row is read.
    return enumerate(text.split(sep), 1)


def _pack_int(n):
    """An unbounded int as 4 bytes of length, then that many bytes of
    two's complement, little-endian."""
    size = (n.bit_length() + 8) // 8  # room for the sign bit
    return struct.pack("<I", size) + n.to_bytes(size, "little", signed=True)


def _unpack_int(data, at, fn):
    """The int `_pack_int` wrote at `data[at:]`, and where the next field
    starts."""
    if len(data) < at + 4:
        raise ValueError(f"{fn}() cannot merge a truncated state")
    (size,) = struct.unpack_from("<I", data, at)
    at += 4
    if len(data) < at + size:
        raise ValueError(f"{fn}() cannot merge a truncated state")
    return int.from_bytes(data[at:at + size], "little", signed=True), at + size


@aggregate(deterministic=True, returns="real")
class py_stdev:
    """Sample standard deviation (statistics.stdev) of the non-NULL values;
    NULL for fewer than two; TEXT or BLOB is an error. Mergeable: its state
    (every value) serialises as the INTEGERs, then the REALs, exactly."""

    def __init__(self):
        self.values = []

    def step(self, x):
        if x is not None:
            self.values.append(_number(x, "py_stdev"))

    def finalize(self):
        if len(self.values) < 2:
            return None
        return statistics.stdev(self.values)

    # statistics.stdev sums exactly, so the order of the values does not
    # change the result: a merged state gives the one-pass answer bit for
    # bit.

    def serialize(self):
        ints = [x for x in self.values if type(x) is int]
        reals = [x for x in self.values if type(x) is not int]
        return (struct.pack("<II", len(ints), len(reals))
                + struct.pack(f"<{len(ints)}q", *ints)
                + struct.pack(f"<{len(reals)}d", *reals))

    def merge(self, data):
        if len(data) < 8:
            raise ValueError("py_stdev() cannot merge a truncated state")
        n_ints, n_reals = struct.unpack_from("<II", data)
        if len(data) != 8 + 8 * (n_ints + n_reals):
            raise ValueError(f"py_stdev() cannot merge a state of {len(data)} bytes "
                             f"holding {n_ints} + {n_reals} values")
        self.values.extend(struct.unpack_from(f"<{n_ints}q", data, 8))
        self.values.extend(struct.unpack_from(f"<{n_reals}d", data, 8 + 8 * n_ints))


@aggregate(deterministic=True, returns="real")
class py_mean:
    """Arithmetic mean of the non-NULL values, as REAL; NULL when there are
    none. Window-capable. Exact: integers are summed in an unbounded int and
    REALs as exact fractions, so removing rows leaves no rounding residue and
    the result is the exact mean rounded once. Mergeable: the state is the
    count, the integer sum and the REAL sum's numerator and denominator,
    all exact."""

    def __init__(self):
        self.count = 0
        self.ints = 0
        self.reals = Fraction(0)

    def _add(self, x, sign):
        x = _number(x, "py_mean")
        if type(x) is int:
            self.ints += sign * x
        else:
            if not math.isfinite(x):
                raise ValueError("py_mean() takes finite numbers")
            self.reals += sign * Fraction(x)
        self.count += sign

    def step(self, x):
        if x is not None:
            self._add(x, 1)

    def inverse(self, x):
        if x is not None:
            self._add(x, -1)

    def value(self):
        if self.count == 0:
            return None
        if not self.reals:
            return self.ints / self.count  # int / int rounds correctly
        return float((self.ints + self.reals) / self.count)

    finalize = value

    def serialize(self):
        return b"".join(map(_pack_int, (self.count, self.ints, self.reals.numerator,
                                         self.reals.denominator)))

    def merge(self, data):
        count, at = _unpack_int(data, 0, "py_mean")
        ints, at = _unpack_int(data, at, "py_mean")
        num, at = _unpack_int(data, at, "py_mean")
        den, at = _unpack_int(data, at, "py_mean")
        if at != len(data) or den <= 0 or count < 0:
            raise ValueError("py_mean() cannot merge a malformed state")
        self.count += count
        self.ints += ints
        self.reals += Fraction(num, den)
