"""Registration of scalar, aggregate, window and table functions.

Pure Python: nothing here needs componentize-py. `scalar`, `aggregate` and
`table` record a `FunctionDef` per SQL function in registration order; the build
shim freezes the list once the app module is imported, and the position of a
definition in that list is the id the host uses for every call.
"""

import inspect

SCALAR = "scalar"
AGGREGATE = "aggregate"
WINDOW = "window"
TABLE = "table"

# The host's rules (crates/wasmudf/src/manifest.rs), checked here so that a
# mistake fails the build with a Python traceback rather than the load.
MAX_ARITY = 127
MAX_NAME_BYTES = 255
# The most columns a table function may have, its hidden argument columns
# (arg1..argN) included.
MAX_TABLE_COLUMNS = 1000

# The storage classes a function may declare for its result (`returns=`)
# and its arguments (`params=`): the cases of the WIT enum `value-type`.
VALUE_TYPES = ("integer", "real", "text", "blob", "any")

_P = inspect.Parameter
_POSITIONAL = (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD)


class RegistrationError(ValueError):
    """A function cannot be registered (bad name, arity, flags, duplicate)."""


class FunctionDef:
    """One SQL function: its manifest entry and what implements it."""

    __slots__ = ("name", "arity", "kind", "deterministic", "innocuous",
                 "direct_only", "target", "returns", "params", "mergeable",
                 "columns")

    def __init__(self, name, arity, kind, deterministic, innocuous,
                 direct_only, target, returns=None, params=None,
                 mergeable=False, columns=()):
        self.name = name
        self.arity = arity
        self.kind = kind
        self.deterministic = deterministic
        self.innocuous = innocuous
        self.direct_only = direct_only
        # The function (scalar, table) or the class (aggregate, window).
        self.target = target
        # The declared result class (one of VALUE_TYPES) or None.
        self.returns = returns
        # The declared argument classes (a tuple of VALUE_TYPES, one per
        # argument, or one for all of them when variadic) or None.
        self.params = params
        # The class defines serialize() and merge() (aggregates and windows).
        self.mergeable = mergeable
        # The result column names of a table function, in order (a tuple);
        # empty for every other kind.
        self.columns = tuple(columns)

    def __repr__(self):
        flags = [f for f in ("deterministic", "innocuous", "direct_only")
                 if getattr(self, f)]
        extra = ""
        if self.returns is not None:
            extra += f", returns={self.returns!r}"
        if self.params is not None:
            extra += f", params={list(self.params)!r}"
        if self.mergeable:
            extra += ", mergeable=True"
        if self.columns:
            extra += f", columns={list(self.columns)!r}"
        return (f"FunctionDef({self.name!r}, arity={self.arity}, "
                f"kind={self.kind}, flags={flags}{extra})")


_entries = []
_keys = {}
# Table functions by their name in lower case.
_tables = {}
_frozen = False


def _ascii_lower(s):
    # SQLite folds the case of ASCII letters only.
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in s)


def _describe(obj):
    mod = getattr(obj, "__module__", None)
    qn = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) \
        or repr(obj)
    return f"{mod}.{qn}" if mod and mod != "builtins" else qn


def _check_name(name, obj):
    if not isinstance(name, str):
        raise RegistrationError(
            f"{_describe(obj)}: name must be a str, got {type(name).__name__}")
    if not name:
        raise RegistrationError(f"{_describe(obj)}: the SQL name is empty")
    if "\0" in name:
        raise RegistrationError(f"{_describe(obj)}: the SQL name {name!r} contains NUL")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise RegistrationError(
            f"{_describe(obj)}: the SQL name {name!r} is not valid Unicode") from None
    if size > MAX_NAME_BYTES:
        raise RegistrationError(
            f"{_describe(obj)}: the SQL name is {size} bytes long; "
            f"SQLite allows at most {MAX_NAME_BYTES}")


def _signature(fn, what, drop_self):
    """The signature of `fn`, without `self` when `drop_self`; None when it
    cannot be read (some builtins)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    if drop_self:
        params = list(sig.parameters.values())
        if not params or params[0].kind not in _POSITIONAL:
            raise RegistrationError(f"{what} must take `self` first")
        sig = sig.replace(parameters=params[1:])
    return sig


def _arity(sig, explicit, what):
    """The SQL arity: `explicit` if given (checked against `sig`), else the
    number of positional parameters, or -1 with `*args`."""
    if sig is not None:
        params = list(sig.parameters.values())
        required_kw = [p.name for p in params
                       if p.kind == _P.KEYWORD_ONLY and p.default is _P.empty]
        if required_kw:
            raise RegistrationError(
                f"{what} has required keyword-only parameters {required_kw}; "
                "SQL passes arguments by position only")
        variadic = any(p.kind == _P.VAR_POSITIONAL for p in params)
        positional = [p for p in params if p.kind in _POSITIONAL]
    if explicit is None:
        if sig is None:
            raise RegistrationError(
                f"cannot read the signature of {what}; pass arity=")
        return -1 if variadic else len(positional)
    if isinstance(explicit, bool) or not isinstance(explicit, int):
        raise RegistrationError(f"{what}: arity must be an int, got {explicit!r}")
    if not -1 <= explicit <= MAX_ARITY:
        raise RegistrationError(
            f"{what}: arity {explicit} must be -1 (variadic) or 0..{MAX_ARITY}")
    if sig is not None:
        if explicit == -1:
            if not variadic:
                raise RegistrationError(
                    f"{what}: arity -1 (variadic) needs a *args parameter")
        else:
            try:
                sig.bind(*range(explicit))
            except TypeError as e:
                raise RegistrationError(
                    f"{what} cannot be called with {explicit} "
                    f"argument{'' if explicit == 1 else 's'}: {e}") from None
    return explicit


_TYPE_LIST = ", ".join(repr(t) for t in VALUE_TYPES)
_PY_CLASSES = {int: "integer", float: "real", str: "text", bytes: "blob"}


def _value_type(t, what, option):
    """`t` checked as one of VALUE_TYPES."""
    if isinstance(t, str) and t in VALUE_TYPES:
        return t
    hint = ""
    if isinstance(t, str) and _ascii_lower(t) in VALUE_TYPES:
        hint = f" (write {_ascii_lower(t)!r}, in lower case)"
    elif isinstance(t, type) and t in _PY_CLASSES:
        hint = f" (for {t.__name__}, write {_PY_CLASSES[t]!r})"
    raise RegistrationError(
        f"{what}: {option}{t!r} is not a value type; use one of {_TYPE_LIST}{hint}")


def _returns(returns, what):
    """The declared result class, or None when not declared."""
    if returns is None:
        return None
    return _value_type(returns, what, "returns=")


def _params(params, arity, what):
    """The declared argument classes as a tuple, or None when not declared:
    one per argument, or exactly one for a variadic function."""
    if params is None:
        return None
    if not isinstance(params, (list, tuple)):
        raise RegistrationError(
            f"{what}: params= must be a list with one type per argument, e.g. "
            f"params=['text', 'integer']; got {type(params).__name__} {params!r}")
    types = tuple(_value_type(t, what, "the params= entry ") for t in params)
    if arity == -1:
        if len(types) != 1:
            raise RegistrationError(
                f"{what}: a variadic function (arity -1) declares params= as "
                f"one type for all its arguments, e.g. params=['any']; got "
                f"{len(types)}")
    elif len(types) != arity:
        raise RegistrationError(
            f"{what}: params= declares {len(types)} "
            f"type{'' if len(types) == 1 else 's'}, but the function takes "
            f"{arity} argument{'' if arity == 1 else 's'}")
    return types


def _add(defn):
    if _frozen:
        raise RegistrationError(
            f"{defn.name}: functions must be registered while the app module "
            "is imported (at build time), not later")
    if defn.innocuous and defn.direct_only:
        raise RegistrationError(
            f"{defn.name}: a function cannot be both innocuous and direct_only")
    key = (_ascii_lower(defn.name), defn.arity)
    if key in _keys:
        arity = "variadic" if defn.arity == -1 else defn.arity
        raise RegistrationError(
            f"{defn.name} (arity {arity}) is registered twice: "
            f"{_describe(_keys[key].target)} and {_describe(defn.target)}")
    if defn.kind == TABLE:
        # SQLite knows a table function by its name alone (a virtual-table
        # module): a second one of that name would replace the first.
        other = _tables.get(key[0])
        if other is not None:
            raise RegistrationError(
                f"{defn.name}: a table function of that name is already "
                f"registered ({_describe(other.target)}, arity {other.arity}); "
                "SQLite tells table functions apart by name only, not by arity")
        _tables[key[0]] = defn
    _keys[key] = defn
    _entries.append(defn)


def _flags(deterministic, innocuous, direct_only):
    return bool(deterministic), bool(innocuous), bool(direct_only)


def scalar(fn=None, *, name=None, deterministic=False, innocuous=False,
           direct_only=False, arity=None, returns=None, params=None):
    """Registers `fn` as a scalar SQL function and returns it unchanged.

    Use as `@scalar` or `@scalar(name=..., deterministic=..., innocuous=...,
    direct_only=..., arity=..., returns=..., params=...)`. The SQL name
    defaults to `fn.__name__`; the arity to the number of positional
    parameters, or -1 (any number) when `fn` takes `*args`. Decorators
    stack, so one function can be registered under several names or
    arities.

    `returns` declares the class of every non-NULL result and `params` the
    class of each argument (a list, one per argument; one entry for all of
    them when variadic), each one of "integer", "real", "text", "blob",
    "any". Both default to not declared.
    """
    def register(fn):
        if not callable(fn):
            raise RegistrationError(f"@scalar needs a callable, got {fn!r}")
        what = _describe(fn)
        sql_name = name
        if sql_name is None:
            sql_name = getattr(fn, "__name__", None)
            if not isinstance(sql_name, str) or sql_name == "<lambda>":
                raise RegistrationError(f"{what} has no usable __name__; pass name=")
        _check_name(sql_name, fn)
        sig = _signature(fn, what, drop_self=False)
        n = _arity(sig, arity, what)
        _add(FunctionDef(sql_name, n, SCALAR,
                         *_flags(deterministic, innocuous, direct_only), fn,
                         returns=_returns(returns, what),
                         params=_params(params, n, what)))
        return fn

    if fn is None:
        return register
    return register(fn)


def _method_signature(cls, method):
    """The signature of `cls.method` as called on an instance, or None."""
    raw = inspect.getattr_static(cls, method)
    what = f"{_describe(cls)}.{method}"
    if isinstance(raw, (staticmethod, classmethod)):
        return _signature(getattr(cls, method), what, drop_self=False)
    if inspect.isfunction(raw):
        return _signature(raw, what, drop_self=True)
    # A builtin or a callable object: read what the bound form accepts.
    return None


def aggregate(cls=None, *, name=None, deterministic=False, innocuous=False,
              direct_only=False, arity=None, returns=None, params=None):
    """Registers class `cls` as an aggregate SQL function and returns it
    unchanged.

    SQLite makes one instance per group with `cls()`, calls
    `step(self, *args)` for each row and `finalize(self)` once, also for an
    empty group. A class that also defines `inverse(self, *args)` (remove a
    row that left the frame, oldest first) and `value(self)` (the current
    result; the state stays usable) is a window function, usable with
    `OVER (...)`. The arity is read from `step`.

    A class that also defines `serialize(self)` (the state as `bytes`; the
    state stays usable) and `merge(self, data)` (fold in the state another
    instance's `serialize` returned) is mergeable: its partial states can be
    computed apart and combined. `returns` and `params` are as for
    `scalar`.
    """
    def register(cls):
        if not isinstance(cls, type):
            raise RegistrationError(
                f"@aggregate decorates a class, got {cls!r}; write a class "
                "with step(self, ...) and finalize(self)")
        what = _describe(cls)
        for required in ("step", "finalize"):
            if not callable(getattr(cls, required, None)):
                raise RegistrationError(f"{what} has no {required}() method")
        has_inverse = callable(getattr(cls, "inverse", None))
        has_value = callable(getattr(cls, "value", None))
        if has_inverse != has_value:
            missing, present = ("value", "inverse") if has_inverse else ("inverse", "value")
            raise RegistrationError(
                f"{what} defines {present}() but not {missing}(); a window "
                "function needs both, an aggregate neither")
        has_serialize = callable(getattr(cls, "serialize", None))
        has_merge = callable(getattr(cls, "merge", None))
        if has_serialize != has_merge:
            missing, present = (("merge", "serialize") if has_serialize
                                else ("serialize", "merge"))
            raise RegistrationError(
                f"{what} defines {present}() but not {missing}(); a mergeable "
                "aggregate needs both (serialize(self) -> bytes and "
                "merge(self, data)), any other neither")
        try:
            init_sig = inspect.signature(cls)
        except (TypeError, ValueError):
            init_sig = None
        if init_sig is not None:
            try:
                init_sig.bind()
            except TypeError:
                raise RegistrationError(
                    f"{what}() must be callable with no arguments: SQLite makes "
                    "one instance per group") from None
        sql_name = cls.__name__ if name is None else name
        _check_name(sql_name, cls)
        n = _arity(_method_signature(cls, "step"), arity, f"{what}.step")
        if has_inverse:
            # inverse() receives the same rows as step().
            _arity(_method_signature(cls, "inverse"), n, f"{what}.inverse")
        if has_serialize:
            _arity(_method_signature(cls, "serialize"), 0, f"{what}.serialize")
            _arity(_method_signature(cls, "merge"), 1, f"{what}.merge")
        kind = WINDOW if has_inverse else AGGREGATE
        _add(FunctionDef(sql_name, n, kind,
                         *_flags(deterministic, innocuous, direct_only), cls,
                         returns=_returns(returns, what),
                         params=_params(params, n, what),
                         mergeable=has_serialize))
        return cls

    if cls is None:
        return register
    return register(cls)


def _columns(columns, arity, what):
    """The result column names of a table function, checked, as a tuple:
    at least one, each a non-empty str of at most MAX_NAME_BYTES bytes
    without NUL, none twice and none an argument column's name (arg1..argN),
    compared ASCII case-insensitively, as SQLite compares column names."""
    if columns is None:
        raise RegistrationError(
            f"{what}: a table function needs columns=, the names of its result "
            "columns, e.g. @table(columns=['ordinal', 'part'])")
    if not isinstance(columns, (list, tuple)):
        raise RegistrationError(
            f"{what}: columns= must be a list of column names, e.g. "
            f"columns=['ordinal', 'part']; got {type(columns).__name__} {columns!r}")
    if not columns:
        raise RegistrationError(f"{what}: columns= is empty; a table function "
                                "has at least one result column")
    if len(columns) + arity > MAX_TABLE_COLUMNS:
        raise RegistrationError(
            f"{what}: {len(columns)} columns and {arity} arguments; a table "
            f"function may have at most {MAX_TABLE_COLUMNS} in all")
    seen = {f"arg{n}": None for n in range(1, arity + 1)}
    for i, column in enumerate(columns, 1):
        if not isinstance(column, str):
            raise RegistrationError(
                f"{what}: column {i} must be named by a str, got "
                f"{type(column).__name__} {column!r}")
        if not column or "\0" in column:
            raise RegistrationError(
                f"{what}: column {i} ({column!r}) must be a non-empty name without NUL")
        try:
            size = len(column.encode("utf-8"))
        except UnicodeEncodeError:
            raise RegistrationError(
                f"{what}: column {i} ({column!r}) is not valid Unicode") from None
        if size > MAX_NAME_BYTES:
            raise RegistrationError(
                f"{what}: column {i} is named with {size} bytes; at most "
                f"{MAX_NAME_BYTES} are allowed")
        key = _ascii_lower(column)
        if key in seen:
            if seen[key] is None:
                raise RegistrationError(
                    f"{what}: column {column!r} has the name of an argument "
                    f"column: SQLite passes the arguments of a table function "
                    f"of {arity} argument{'' if arity == 1 else 's'} in hidden "
                    f"columns arg1..arg{arity}")
            raise RegistrationError(
                f"{what}: column {column!r} is declared twice (as {seen[key]!r}); "
                "column names are compared case-insensitively")
        seen[key] = column
    return tuple(columns)


def table(fn=None, *, columns=None, name=None, deterministic=False,
          innocuous=False, direct_only=False, arity=None, params=None):
    """Registers `fn` as a table-valued SQL function and returns it
    unchanged.

    Use as `@table(columns=[...], name=..., deterministic=...,
    innocuous=..., direct_only=..., arity=..., params=...)`. `columns`, the
    names of the result columns in order, is required. Each call
    (`SELECT * FROM f(a, b)`, or `FROM t, f(t.x, 1)`) calls `fn` once with
    the arguments, converted as for a scalar (None for NULL); it returns an
    iterable of rows, typically it is a generator, and each row is a tuple
    or list with one value per column. Returning None is the same as
    returning no rows. Rows are read as SQLite asks for them, so rows nobody
    reads (`LIMIT`) are never produced.

    The arity is read from the signature as for `scalar`, but must be
    fixed: a table function cannot be variadic. SQLite passes the arguments
    in hidden columns `arg1`..`argN`, so no result column may have those
    names. `params` is as for `scalar`; a table function declares no
    `returns`. SQLite knows table functions by name alone, so two table
    functions cannot share a name, whatever their arities.
    """
    def register(fn):
        if not callable(fn):
            raise RegistrationError(f"@table needs a callable, got {fn!r}")
        what = _describe(fn)
        sql_name = name
        if sql_name is None:
            sql_name = getattr(fn, "__name__", None)
            if not isinstance(sql_name, str) or sql_name == "<lambda>":
                raise RegistrationError(f"{what} has no usable __name__; pass name=")
        _check_name(sql_name, fn)
        sig = _signature(fn, what, drop_self=False)
        if arity == -1 or (arity is None and sig is not None and any(
                p.kind == _P.VAR_POSITIONAL for p in sig.parameters.values())):
            raise RegistrationError(
                f"{what}: a table function takes a fixed number of arguments, "
                "so it cannot be variadic (*args); pass arity= to fix it")
        n = _arity(sig, arity, what)
        _add(FunctionDef(sql_name, n, TABLE,
                         *_flags(deterministic, innocuous, direct_only), fn,
                         params=_params(params, n, what),
                         columns=_columns(columns, n, what)))
        return fn

    if fn is None:
        return register
    return register(fn)


def freeze(require_functions=True):
    """Ends registration and returns the definitions in manifest order."""
    global _frozen
    _frozen = True
    if require_functions and not _entries:
        raise RegistrationError(
            "no SQL functions were registered: decorate functions with "
            "@wasmudf_guest.scalar or @wasmudf_guest.table, or classes with "
            "@wasmudf_guest.aggregate")
    return tuple(_entries)


def entries():
    """The definitions registered so far, in manifest order."""
    return tuple(_entries)


def reset():
    """Forgets every registration (for tests)."""
    global _frozen
    _entries.clear()
    _keys.clear()
    _tables.clear()
    _frozen = False
