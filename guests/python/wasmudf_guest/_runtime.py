"""The component's exports: the `Guest` class and the `Accumulator` resource
that componentize-py calls, built over the registered functions.

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
"""

from collections import deque
from itertools import repeat

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


def make_exports(wit, Err, entries):
    """The `Guest` class and the `Accumulator` resource class for `entries`
    (the frozen `FunctionDef`s, in manifest order)."""
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

    def to_value_slow(r):
        if isinstance(r, bool):
            return VI(1 if r else 0)
        if isinstance(r, int):
            return to_value(int.__int__(r))
        if isinstance(r, float):
            return VR(float.__float__(r))
        if isinstance(r, str):
            return to_value(str.__str__(r))
        if isinstance(r, (bytes, bytearray)):
            return VB(bytes(r))
        if isinstance(r, memoryview):
            return VB(r.tobytes())
        raise Error(
            f"cannot return a value of type {type_name(r)}: a function returns int, float, "
            "str, bytes, bool or None")

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

    # Per id: the callable for a scalar, or a stub that says why not.
    def not_scalar(defn):
        def call(*_args):
            raise Error(f"{defn.name} is not a scalar function")
        return call

    fns = [d.target if d.kind == _registry.SCALAR else not_scalar(d)
           for d in entries]
    accs = [d if d.kind != _registry.SCALAR else None for d in entries]
    count = len(entries)

    def call_error(exc, id):
        if not 0 <= id < count:
            return f"no function with id {id}"
        return describe(exc)

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
                _registry.WINDOW: wit.FunctionKind.WINDOW}[d.kind]
        specs.append(wit.FunctionSpec(d.name, d.arity, kind, flags))

    # The TEXT/BLOB value (or the error text, a str) of the last fast call
    # that returned `deferred`.
    deferred = None

    class Guest:
        def manifest(self):
            return list(specs)

        def call0(self, id):
            try:
                return to_value(fns[id]())
            except BaseException as e:
                raise Err(call_error(e, id)) from None

        def call1(self, id, a):
            try:
                return to_value(fns[id](getattr(a, "value", None)))
            except BaseException as e:
                raise Err(call_error(e, id)) from None

        def call2(self, id, a, b):
            try:
                return to_value(fns[id](getattr(a, "value", None),
                                        getattr(b, "value", None)))
            except BaseException as e:
                raise Err(call_error(e, id)) from None

        def call3(self, id, a, b, c):
            try:
                return to_value(fns[id](getattr(a, "value", None),
                                        getattr(b, "value", None),
                                        getattr(c, "value", None)))
            except BaseException as e:
                raise Err(call_error(e, id)) from None

        def call(self, id, args):
            try:
                return to_value(fns[id](*map(getattr, args, _R_VALUE, _R_NONE)))
            except BaseException as e:
                raise Err(call_error(e, id)) from None

        # The fast entry points return no `result`: whatever they raise
        # would trap, so they catch everything and defer errors.

        def fast1(self, id, a):
            nonlocal deferred
            try:
                r = fns[id](getattr(a, "value", None))
                return fast_out(r)
            except BaseException as e:
                deferred = call_error(e, id)
            return FR_DEFERRED

        def fast2(self, id, a, b):
            nonlocal deferred
            try:
                r = fns[id](getattr(a, "value", None), getattr(b, "value", None))
                return fast_out(r)
            except BaseException as e:
                deferred = call_error(e, id)
            return FR_DEFERRED

        def fast3(self, id, a, b, c):
            nonlocal deferred
            try:
                r = fns[id](getattr(a, "value", None), getattr(b, "value", None),
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

    return Guest, Accumulator
