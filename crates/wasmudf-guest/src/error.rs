use std::fmt;

/// A guest error: its message becomes the SQL error text.
///
/// The host prefixes the function name, so a message should not repeat it:
/// write `argument 1 must be TEXT, got INTEGER`, not `f: argument 1 ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    repr: Repr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Repr {
    Message(String),
    Mismatch {
        expected: String,
        got: &'static str,
        arg: Option<usize>,
    },
}

impl Error {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Error {
            repr: Repr::Message(message.into()),
        }
    }

    /// A type mismatch: the value `got` is not of the `expected` kind (for
    /// example `"TEXT"` or `"numeric"`).
    ///
    /// Its message is `value must be TEXT, got INTEGER` until
    /// [`at_arg`](Self::at_arg) names the argument, which the SDK does for
    /// the parameters of scalar, aggregate and window functions.
    pub fn mismatch(expected: impl Into<String>, got: &crate::Value) -> Self {
        Error {
            repr: Repr::Mismatch {
                expected: expected.into(),
                got: got.type_name(),
                arg: None,
            },
        }
    }

    /// Names the 1-based argument position in a type-mismatch error:
    /// `argument 2 must be TEXT, got INTEGER`. Other errors are unchanged.
    #[must_use]
    pub fn at_arg(self, position: usize) -> Self {
        match self.repr {
            Repr::Mismatch {
                expected,
                got,
                arg: None,
            } => Error {
                repr: Repr::Mismatch {
                    expected,
                    got,
                    arg: Some(position),
                },
            },
            repr => Error { repr },
        }
    }

    /// The error message.
    pub fn message(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Message(m) => f.write_str(m),
            Repr::Mismatch {
                expected,
                got,
                arg: Some(n),
            } => {
                write!(f, "argument {n} must be {expected}, got {got}")
            }
            Repr::Mismatch {
                expected,
                got,
                arg: None,
            } => {
                write!(f, "value must be {expected}, got {got}")
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Error::new(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Error::new(message)
    }
}

impl From<Error> for String {
    fn from(e: Error) -> Self {
        e.to_string()
    }
}
