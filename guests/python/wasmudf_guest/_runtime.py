"""The component's exports: the `Guest` class and the `Accumulator` and
`Cursor` resources that componentize-py calls, built over the registered
functions.

Pure Python. The WIT types are injected: `make_exports(wit, Err, entries)`
takes the module componentize-py generates for interface `guest` (or any
object with the same names, as in the unit tests) and the `Err` exception of
`componentize_py_types`.

Rules that keep an instance alive:

* Every exception a function raises (any `BaseException`) is caught and
  returned as a `result` error; raising anything but `Err` out of an export
  would trap, and a trap throws the whole instance away.
* Every returned value is checked before componentize-py lowers it: it
  unwraps values without checks, so an int past 64 bits or a str holding a
  lone surrogate would trap too.

Batches of columns (`call_columns`, `step_columns`, `inverse_columns`) are
decoded into one list of Python arguments per column, exactly the values the
row-at-a-time entry points would pass, so a function runs the same either
way; a malformed column fails the batch with `column N: <what is wrong>`.

A table function's `Cursor` holds the iterator over what the function
returned and pulls at most `max_rows` rows from it per `next`, so rows the
host never asks for are never produced; each row is checked (one value per
declared column) and its values converted as a scalar's result.
"""

from collections import deque
from itertools import accumulate, chain, islice, repeat
from operator import le

from . import _registry

I64_MIN = -(1 << 63)
I64_MAX = (1 << 63) - 1

# An error message is cut to this many characters in the guest (the host
# keeps at most 4 KiB of it anyway).
MAX_MESSAGE_CHARS = 16 << 10


class Error(Exception):
    """Raise `Error("message")` from a UDF to fail with exactly that SQL error
    text, with no exception type prefix."""


# The traceback module while tracebacks are logged. It is imported when
# logging is switched on: a component can import nothing after its build.
_traceback = None


def log_tracebacks(enabled=True):
    """Also print the traceback of every exception a UDF raises to stderr
    (which the host captures). Off by default. Call it at import time: the
    component can import no module after it is built."""
    global _traceback
    if enabled:
        import traceback
        _traceback = traceback
    else:
        _traceback = None


def type_name(obj_or_type):
    """`int`, `decimal.Decimal`, `app.Point`: how Python's tracebacks name a
    type."""
    t = obj_or_type if isinstance(obj_or_type, type) else type(obj_or_type)
    mod = getattr(t, "__module__", None)
    qn = getattr(t, "__qualname__", None) or getattr(t, "__name__", "?")
    if mod in (None, "builtins", "__main__"):
        return qn
    return f"{mod}.{qn}"


def clean_text(s):
    """`s` as valid UTF-8 text: a lone surrogate becomes a `\\udXXX` escape."""
    if s.isascii():
        return s
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", "backslashreplace").decode("utf-8")


def describe(exc):
    """The SQL error text for an exception: `ZeroDivisionError: division by
    zero`, or exactly the message of an `Error`. Never raises."""
    try:
        if _traceback is not None:
            try:
                _traceback.print_exception(type(exc), exc, exc.__traceback__)
            except BaseException:
                pass
        if isinstance(exc, Error):
            msg = str(exc) or type_name(exc)
        else:
            name = type_name(exc)
            try:
                text = str(exc)
            except BaseException:
                text = "<the exception message could not be formatted>"
            msg = f"{name}: {text}" if text else name
        if type(msg) is not str:
            msg = str.__str__(msg)
        if len(msg) > MAX_MESSAGE_CHARS:
            msg = msg[:MAX_MESSAGE_CHARS] + f"… (cut, {len(msg)} characters)"
        return clean_text(msg)
    except BaseException:
        return "an exception whose message could not be formatted"


def _check_text(s):
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as e:
        raise Error(
            f"TEXT result is not valid Unicode: {e.reason} "
            f"(U+{ord(s[e.start]):04X} at index {e.start})") from None


def _out_of_range(r):
    if r.bit_length() <= 128:
        raise Error(f"integer out of range: {r} does not fit in a signed 64-bit INTEGER")
    raise Error(f"integer out of range: a {r.bit_length()}-bit integer does not "
                "fit in a signed 64-bit INTEGER")


_R_VALUE = repeat("value")
_R_NONE = repeat(None)
_consume = deque(maxlen=0).extend
_NONE_TYPE = type(None)

# The largest offset a TEXT or BLOB column can hold (`list<u32>`).
U32_MAX = (1 << 32) - 1


def arity_error(arity, got):
    """The error for a call with `got` arguments to a function of `arity`."""
    return Error(f"expected {arity} argument{'' if arity == 1 else 's'}, got {got}")


# -- columns ------------------------------------------------------------

# For each byte of a validity bitmap: its 8 bits, least significant first,
# True where the row is not NULL (Apache Arrow's layout).
_BITS = tuple(tuple(bool(b >> i & 1) for i in range(8)) for b in range(256))


def _with_nulls(vals, valid, rows):
    """`vals` with None at each row whose bit in `valid` (at least
    ceil(rows / 8) bytes) is clear."""
    bits = chain.from_iterable(map(_BITS.__getitem__, valid[:(rows + 7) >> 3]))
    return [v if ok else None for v, ok in zip(vals, bits)]


def _offsets_problem(offsets, size):
    """What is wrong with the offsets of a TEXT or BLOB column over `size`
    bytes of data, or None: there must be at least one, non-decreasing,
    the last one `size` (so none lies past the data)."""
    n = len(offsets)
    if n == 0:
        return "no offsets (a column of n rows has n + 1)"
    last = offsets[-1]
    if last != size:
        return f"the last offset is {last} but the data has {size} bytes"
    if offsets[0] < 0:
        return f"the first offset is {offsets[0]}"
    if not all(map(le, offsets, islice(offsets, 1, None))):
        for i in range(1, n):
            if offsets[i - 1] > offsets[i]:
                return f"offsets decrease at row {i}"
    return None


def _slices(data, offsets):
    """Row `i` is `data[offsets[i]:offsets[i + 1]]`."""
    return [data[a:b] for a, b in zip(offsets, islice(offsets, 1, None))]


def decode_column(k, col, rows, kinds):
    """The Python arguments (`rows` long, None for NULL) of `col`, column
    `k` (1-based) of a batch; `kinds` maps the bindings' column classes to
    "integers", "reals", "texts", "blobs", "values"."""
    kind = kinds.get(type(col))
    if kind is None:
        raise Error(f"column {k}: not a column: {type_name(col)}")
    c = col.value
    valid = None
    if kind == "integers" or kind == "reals":
        vals = c.data
        n = len(vals)
        valid = c.valid
    elif kind == "texts":
        offsets, data = c.offsets, c.data
        if type(data) is not str:
            raise Error(f"column {k}: TEXT data must be a str, got {type_name(data)}")
        ascii = data.isascii()
        buf = data if ascii else data.encode("utf-8")
        problem = _offsets_problem(offsets, len(buf))
        if problem is not None:
            raise Error(f"column {k}: {problem}")
        if not ascii:
            size = len(buf)
            for o in offsets:
                # A UTF-8 continuation byte (10xxxxxx) is inside a character.
                if o < size and buf[o] & 0xC0 == 0x80:
                    raise Error(f"column {k}: offset {o} is inside a character")
        n = len(offsets) - 1
        valid = c.valid
        vals = None
    elif kind == "blobs":
        offsets, data = c.offsets, c.data
        problem = _offsets_problem(offsets, len(data))
        if problem is not None:
            raise Error(f"column {k}: {problem}")
        n = len(offsets) - 1
        valid = c.valid
        vals = None
    else:
        vals = c
        n = len(vals)
    if n != rows:
        raise Error(f"column {k}: {n} values for {rows} rows")
    if valid is not None and len(valid) < (rows + 7) >> 3:
        raise Error(f"column {k}: a validity bitmap of {len(valid)} bytes for {rows} rows")

    if kind == "texts":
        if ascii:
            vals = _slices(data, offsets)
        else:
            vals = [b.decode("utf-8") for b in _slices(buf, offsets)]
    elif kind == "blobs":
        vals = [bytes(b) for b in _slices(data, offsets)] \
            if type(data) is not bytes else _slices(data, offsets)
    elif kind == "values":
        return list(map(getattr, vals, _R_VALUE, _R_NONE))
    if valid is None:
        return vals
    return _with_nulls(vals, valid, rows)


def _bitmap(results):
    """The validity bitmap of `results`: bit i set when row i is not None."""
    out = bytearray((len(results) + 7) >> 3)
    for i, r in enumerate(results):
        if r is not None:
            out[i >> 3] |= 1 << (i & 7)
    return bytes(out)


def _text_offsets(strs, joined):
    """The UTF-8 byte offsets of `strs` laid end to end in `joined`."""
    if joined.isascii():
        lens = map(len, strs)
    else:
        lens = [len(s) if s.isascii() else len(s.encode("utf-8")) for s in strs]
    offsets = list(accumulate(lens, initial=0))
    if offsets[-1] > U32_MAX:
        raise Error(f"the results total {offsets[-1]} bytes; a column holds at "
                    f"most {U32_MAX}")
    return offsets


def _rows(fn, vals, rows):
    """Calls `fn` once per row; `vals` holds `rows` rows of arguments, row
    after row."""
    n = len(vals)
    if n == rows:
        # One argument per row (or no rows): the common case.
        if n:
            _consume(map(fn, vals))
        return
    if rows == 0:
        raise Error(f"{n} arguments for 0 rows")
    width, rest = divmod(n, rows)
    if rest:
        raise Error(f"{n} arguments do not split into {rows} rows")
    if width == 0:
        for _ in range(rows):
            fn()
        return
    _consume(map(fn, *[vals[i::width] for i in range(width)]))


def _columns(fn, cols, rows):
    """Calls `fn` once per row of the decoded columns `cols`."""
    if cols:
        _consume(map(fn, *cols))
    else:
        for _ in range(rows):
            fn()


def _state_bytes(r):
    """What an aggregate's `serialize()` returned, as bytes."""
    if type(r) is bytes:
        return r
    if isinstance(r, (bytes, bytearray)):
        return bytes(r)
    if isinstance(r, memoryview):
        return r.tobytes()
    raise Error(f"serialize() returned a value of type {type_name(r)}; it must "
                "return bytes, bytearray or memoryview")


def _row_problem(row, width, number):
    """Why `row` (row `number`, 1-based, of a cursor) is not a row of `width`
    values, or None."""
    if not isinstance(row, (tuple, list)):
        return (f"row {number} is a value of type {type_name(row)}; a row is a "
                f"tuple or list with one value per column ({width} "
                f"column{'' if width == 1 else 's'})"
                + (", e.g. (x,)" if width == 1 else ""))
    if len(row) != width:
        return (f"row {number} has {len(row)} value{'' if len(row) == 1 else 's'}; "
                f"the function declares {width} column{'' if width == 1 else 's'}")
    return None


def _table_rows(result):
    """The iterator over the rows a table function returned: None (no rows)
    for None, or the error for what is not an iterable of rows."""
    if result is None:
        return None
    if isinstance(result, (str, bytes, bytearray, memoryview)):
        raise Error(f"returned a value of type {type_name(result)}; a table function "
                    "returns an iterable of rows (a generator, list, ...), each a "
                    "tuple or list")
    try:
        return iter(result)
    except TypeError:
        raise Error(f"returned a value of type {type_name(result)}, which is not "
                    "iterable; a table function returns an iterable of rows (a "
                    "generator, list, ...), each a tuple or list") from None


def make_exports(wit, Err, entries):
    """The `Guest` class and the `Accumulator` and `Cursor` resource classes
    for `entries` (the frozen `FunctionDef`s, in manifest order)."""
    entries = tuple(entries)

    V_NULL = wit.Value_Null()
    VI = wit.Value_Integer
    VR = wit.Value_Real
    VT = wit.Value_Text
    VB = wit.Value_Blob
    FR_NULL = wit.FastResult_Null()
    FR_DEFERRED = wit.FastResult_Deferred()
    FRI = wit.FastResult_Integer
    FRR = wit.FastResult_Real
    # A numeric fast result is lowered as soon as the export returns, before
    # any other call can run, so one mutable instance per case serves every
    # call: no object to build (a dataclass __init__ costs more than the
    # rest of the guest's share of a fast call).
    fr_int = FRI(0)
    fr_real = FRR(0.0)

    def plain_slow(r):
        """A result of a type other than exactly int, float, str, bytes or
        None as one of those (not yet range-checked), or the error."""
        if isinstance(r, int):  # also bool: True is 1
            return int.__int__(r)
        if isinstance(r, float):
            return float.__float__(r)
        if isinstance(r, str):
            return str.__str__(r)
        if isinstance(r, (bytes, bytearray)):
            return bytes(r)
        if isinstance(r, memoryview):
            return r.tobytes()
        raise Error(
            f"cannot return a value of type {type_name(r)}: a function returns int, float, "
            "str, bytes, bool or None")

    def to_value_slow(r):
        return to_value(plain_slow(r))

    def to_value(r):
        """The WIT value for a Python result."""
        t = type(r)
        if t is int:
            if I64_MIN <= r <= I64_MAX:
                return VI(r)
            _out_of_range(r)
        if t is float:
            return VR(r)
        if t is str:
            if not r.isascii():
                _check_text(r)
            return VT(r)
        if r is None:
            return V_NULL
        if t is bytes:
            return VB(r)
        return to_value_slow(r)

    def plain(r):
        """A Python result as what `to_value` would send, but as a plain
        int, float, str, bytes or None (the same checks and errors)."""
        t = type(r)
        if t is int:
            if I64_MIN <= r <= I64_MAX:
                return r
            _out_of_range(r)
        if t is float or r is None or t is bytes:
            return r
        if t is str:
            if not r.isascii():
                _check_text(r)
            return r
        return plain(plain_slow(r))

    # Per id: the callable for a scalar, or a stub that says why not.
    def not_scalar(defn):
        def call(*_args):
            raise Error(f"{defn.name} is not a scalar function")
        return call

    def wrong_arity(arity):
        def call(*args):
            raise arity_error(arity, len(args))
        return call

    def taking(d, n):
        """What calls `d` with `n` arguments: its function, or a stub that
        says why it cannot be called so."""
        if d.kind != _registry.SCALAR:
            return not_scalar(d)
        if d.arity == -1 or d.arity == n:
            return d.target
        return wrong_arity(d.arity)

    fns = [d.target if d.kind == _registry.SCALAR else not_scalar(d)
           for d in entries]
    # Per id, for call0..call3 and fast1..fast3: checking the arity costs
    # nothing per call.
    fns0, fns1, fns2, fns3 = [[taking(d, n) for d in entries] for n in range(4)]
    # Per id, the arity `call` checks; -1 (any) for a non-scalar, whose stub
    # says what is wrong.
    arities = [d.arity if d.kind == _registry.SCALAR else -1 for d in entries]
    accs = [d if d.kind in (_registry.AGGREGATE, _registry.WINDOW) else None
            for d in entries]
    count = len(entries)

    def call_error(exc, id):
        if not 0 <= id < count:
            return f"no function with id {id}"
        return describe(exc)

    value_types = {t: getattr(wit.ValueType, t.upper()) for t in _registry.VALUE_TYPES}
    specs = []
    for d in entries:
        flags = wit.FunctionFlags(0)
        if d.deterministic:
            flags |= wit.FunctionFlags.DETERMINISTIC
        if d.innocuous:
            flags |= wit.FunctionFlags.INNOCUOUS
        if d.direct_only:
            flags |= wit.FunctionFlags.DIRECT_ONLY
        kind = {_registry.SCALAR: wit.FunctionKind.SCALAR,
                _registry.AGGREGATE: wit.FunctionKind.AGGREGATE,
                _registry.WINDOW: wit.FunctionKind.WINDOW,
                _registry.TABLE: wit.FunctionKind.TABLE}[d.kind]
        is_table = d.kind == _registry.TABLE
        specs.append(wit.FunctionSpec(
            name=d.name, arity=d.arity, kind=kind, flags=flags,
            returns=None if d.returns is None or is_table else value_types[d.returns],
            params=None if d.params is None else [value_types[t] for t in d.params],
            mergeable=bool(d.mergeable) and d.kind in (_registry.AGGREGATE,
                                                        _registry.WINDOW),
            columns=list(d.columns) if is_table else []))

    # The TEXT/BLOB value (or the error text, a str) of the last fast call
    # that returned `deferred`.
    deferred = None

    class Guest:
        def manifest(self):
            return list(specs)

        def call0(self, id):
            try:
                return to_value(fns0[id]())
            except BaseException as e:
                raise Err(call_error(e, id)) from None

        def call1(self, id, a):
            try:
                return to_value(fns1[id](getattr(a, "value", None)))
            except BaseException as e:
                raise Err(call_error(e, id)) from None

        def call2(self, id, a, b):
            try:
                return to_value(fns2[id](getattr(a, "value", None),
                                         getattr(b, "value", None)))
            except BaseException as e:
                raise Err(call_error(e, id)) from None

        def call3(self, id, a, b, c):
            try:
                return to_value(fns3[id](getattr(a, "value", None),
                                         getattr(b, "value", None),
                                         getattr(c, "value", None)))
            except BaseException as e:
                raise Err(call_error(e, id)) from None

        def call(self, id, args):
            try:
                n = arities[id]
                if n >= 0 and len(args) != n:
                    raise arity_error(n, len(args))
                return to_value(fns[id](*map(getattr, args, _R_VALUE, _R_NONE)))
            except BaseException as e:
                raise Err(call_error(e, id)) from None

        # The fast entry points return no `result`: whatever they raise
        # would trap, so they catch everything and defer errors.

        def fast1(self, id, a):
            nonlocal deferred
            try:
                r = fns1[id](getattr(a, "value", None))
                return fast_out(r)
            except BaseException as e:
                deferred = call_error(e, id)
            return FR_DEFERRED

        def fast2(self, id, a, b):
            nonlocal deferred
            try:
                r = fns2[id](getattr(a, "value", None), getattr(b, "value", None))
                return fast_out(r)
            except BaseException as e:
                deferred = call_error(e, id)
            return FR_DEFERRED

        def fast3(self, id, a, b, c):
            nonlocal deferred
            try:
                r = fns3[id](getattr(a, "value", None), getattr(b, "value", None),
                             getattr(c, "value", None))
                return fast_out(r)
            except BaseException as e:
                deferred = call_error(e, id)
            return FR_DEFERRED

        def take_result(self):
            nonlocal deferred
            d = deferred
            deferred = None
            if type(d) is str:
                raise Err(d)
            if d is None:
                raise Err("no deferred result to take")
            return d

        def call_columns(self, id, args, rows):
            try:
                if not 0 <= id < count:
                    raise Error(f"no function with id {id}")
                d = entries[id]
                if d.kind != _registry.SCALAR:
                    raise Error(f"{d.name} is not a scalar function")
                if d.arity >= 0 and len(args) != d.arity:
                    raise arity_error(d.arity, len(args))
                fn = d.target
                cols = decode(args, rows)
                # Row by row, each result converted before the next row
                # runs: the first row that fails fails the batch, with the
                # error its row call would give.
                if cols:
                    results = list(map(plain, map(fn, *cols)))
                else:
                    results = [plain(fn()) for _ in range(rows)]
                return to_column(results)
            except BaseException as e:
                raise Err(describe(e)) from None

    kinds = {wit.Column_Integers: "integers", wit.Column_Reals: "reals",
             wit.Column_Texts: "texts", wit.Column_Blobs: "blobs",
             wit.Column_Values: "values"}

    def decode(args, rows):
        """One list of Python arguments per column of a batch."""
        return [decode_column(k, col, rows, kinds) for k, col in enumerate(args, 1)]

    def to_column(results):
        """The column of `results` (plain Python values, one per row): typed
        when every non-NULL result has one class, `values` when the classes
        are mixed, every row is NULL or there are no rows."""
        classes = set(map(type, results))
        classes.discard(_NONE_TYPE)
        if len(classes) != 1:
            return wit.Column_Values(list(map(to_value, results)))
        (cls,) = classes
        nulls = None in results
        valid = _bitmap(results) if nulls else None
        if cls is int:
            data = [0 if r is None else r for r in results] if nulls else results
            return wit.Column_Integers(wit.IntegerColumn(data=data, valid=valid))
        if cls is float:
            data = [0.0 if r is None else r for r in results] if nulls else results
            return wit.Column_Reals(wit.RealColumn(data=data, valid=valid))
        if cls is str:
            strs = ["" if r is None else r for r in results] if nulls else results
            data = "".join(strs)
            return wit.Column_Texts(wit.TextColumn(
                offsets=_text_offsets(strs, data), data=data, valid=valid))
        blobs = [b"" if r is None else r for r in results] if nulls else results
        offsets = list(accumulate(map(len, blobs), initial=0))
        if offsets[-1] > U32_MAX:
            raise Error(f"the results total {offsets[-1]} bytes; a column holds "
                        f"at most {U32_MAX}")
        return wit.Column_Blobs(wit.BlobColumn(
            offsets=offsets, data=b"".join(blobs), valid=valid))

    def fast_out(r):
        """A fast call's result: a number or NULL in place, anything else
        deferred to `take_result`."""
        nonlocal deferred
        t = type(r)
        if t is float:
            fr_real.value = r
            return fr_real
        if t is int and I64_MIN <= r <= I64_MAX:
            fr_int.value = r
            return fr_int
        if r is None:
            return FR_NULL
        v = to_value(r)  # raises for an unsupported result
        t = type(v)
        if t is VI:
            fr_int.value = v.value
            return fr_int
        if t is VR:
            fr_real.value = v.value
            return fr_real
        if v is V_NULL:
            return FR_NULL
        deferred = v
        return FR_DEFERRED

    def unwrap(args):
        return list(map(getattr, args, _R_VALUE, _R_NONE))

    # Finished accumulator objects, for reuse. componentize-py 0.25.1 keeps
    # a reference to every object it hands out as a resource and never
    # releases it (its resource destructor does nothing, and `finish`
    # receives the handle without dropping it), so these objects are never
    # freed: reusing them bounds that leak by the number of groups live at
    # once instead of growing with every group.
    spare = []

    class Accumulator:
        """One group's state: `state` is the user's object, None once
        finished."""

        def __init__(self, defn, state):
            self.defn = defn
            self.state = state

        def _live(self):
            state = self.state
            if state is None:
                raise Error("accumulator already finished")
            return state

        def _window(self):
            state = self._live()
            if self.defn.kind != _registry.WINDOW:
                raise Error(f"{self.defn.name} is not a window function")
            return state

        def _mergeable(self):
            state = self._live()
            if not self.defn.mergeable:
                raise Error(f"function {self.defn.name} is not mergeable")
            return state

        @classmethod
        def create(cls, id):
            try:
                defn = accs[id]
                if defn is None:
                    raise Error(f"{entries[id].name} is not an aggregate or "
                                "window function")
                state = defn.target()
            except BaseException as e:
                raise Err(call_error(e, id)) from None
            if spare:
                acc = spare.pop()
                acc.defn = defn
                acc.state = state
                return acc
            return cls(defn, state)

        def step(self, args, rows):
            try:
                _rows(self._live().step, unwrap(args), rows)
            except BaseException as e:
                raise Err(describe(e)) from None

        def step_integers(self, args, rows):
            try:
                _rows(self._live().step, args, rows)
            except BaseException as e:
                raise Err(describe(e)) from None

        def step_reals(self, args, rows):
            try:
                _rows(self._live().step, args, rows)
            except BaseException as e:
                raise Err(describe(e)) from None

        def inverse(self, args, rows):
            try:
                _rows(self._window().inverse, unwrap(args), rows)
            except BaseException as e:
                raise Err(describe(e)) from None

        def step_columns(self, args, rows):
            try:
                _columns(self._live().step, decode(args, rows), rows)
            except BaseException as e:
                raise Err(describe(e)) from None

        def inverse_columns(self, args, rows):
            try:
                _columns(self._window().inverse, decode(args, rows), rows)
            except BaseException as e:
                raise Err(describe(e)) from None

        def serialize(self):
            try:
                state = self._mergeable()
                return _state_bytes(state.serialize())
            except BaseException as e:
                raise Err(describe(e)) from None

        def merge(self, state):
            try:
                self._mergeable().merge(state)
            except BaseException as e:
                raise Err(describe(e)) from None

        def value(self):
            try:
                return to_value(self._window().value())
            except BaseException as e:
                raise Err(describe(e)) from None

        @classmethod
        def finish(cls, acc):
            try:
                state = acc._live()
            except BaseException as e:
                raise Err(describe(e)) from None
            acc.state = None
            acc.defn = None
            spare.append(acc)
            try:
                return to_value(state.finalize())
            except BaseException as e:
                raise Err(describe(e)) from None

    class Cursor:
        """The rows of one call of table function `defn`: `rows` is the
        iterator over what the function returned, None once it has ended or
        failed (then `failed` holds the error text, which later calls
        repeat)."""

        def __init__(self, defn, rows):
            self.defn = defn
            self.rows = rows
            # The rows handed out so far, to number a bad row in its error.
            self.count = 0
            self.failed = None

        @classmethod
        def open(cls, id, args):
            try:
                if not 0 <= id < count:
                    raise Error(f"no function with id {id}")
                d = entries[id]
                if d.kind != _registry.TABLE:
                    raise Error(f"function {id} ({d.name}) is not a table function")
                if len(args) != d.arity:
                    raise arity_error(d.arity, len(args))
                rows = _table_rows(d.target(*unwrap(args)))
            except BaseException as e:
                raise Err(describe(e)) from None
            return cls(d, rows)

        def next(self, max_rows):
            if self.failed is not None:
                raise Err(self.failed)
            rows = self.rows
            if rows is None or max_rows <= 0:
                return []
            width = len(self.defn.columns)
            out = []
            add = out.extend
            n = 0
            try:
                for row in islice(rows, max_rows):
                    n += 1
                    t = type(row)
                    if (t is not tuple and t is not list) or len(row) != width:
                        problem = _row_problem(row, width, self.count + n)
                        if problem is not None:
                            raise Error(problem)
                    try:
                        add(map(to_value, row))
                    except BaseException as e:
                        raise Error(self._value_problem(row, self.count + n, e)) from None
            except BaseException as e:
                # The batch is lost, and the cursor is finished: its
                # iterator (and whatever that holds) is freed now.
                self.rows = None
                self.failed = describe(e)
                raise Err(self.failed) from None
            self.count += n
            if n < max_rows:
                # The iterator ended: free it now, not when the host drops
                # the cursor (componentize-py 0.25.1 never frees this object).
                self.rows = None
            return out

        def _value_problem(self, row, number, exc):
            """The error text for a value of row `number` that `to_value`
            refused with `exc`, naming its column."""
            for column, value in zip(self.defn.columns, row):
                try:
                    to_value(value)
                except BaseException as e:
                    return f"row {number}, column {column}: {describe(e)}"
            return describe(exc)

    return Guest, Accumulator, Cursor
