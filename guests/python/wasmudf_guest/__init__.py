"""Write SQLite user-defined functions in Python; build them into a
sandboxed wasmudf WebAssembly component.

    from wasmudf_guest import scalar, table

    @scalar
    def py_add(a, b):
        return a + b

    @table(columns=["ordinal", "part"])
    def py_split(text, sep):
        for i, part in enumerate(text.split(sep), 1):
            yield (i, part)

Build with `wasmudf-guest-py build app.py -o app.wasm` (or
`python -m wasmudf_guest build ...`). See README.md for the value mapping,
errors and NULL handling.
"""

from ._registry import RegistrationError, aggregate, scalar, table
from ._runtime import Error, log_tracebacks

__version__ = "0.1.0"

# Tracebacks and error texts name them as `wasmudf_guest.X`.
Error.__module__ = __name__
RegistrationError.__module__ = __name__

__all__ = ["scalar", "aggregate", "table", "Error", "RegistrationError",
           "log_tracebacks", "__version__"]
