//! The functions a component declares, and the rules they must follow.

use std::collections::HashSet;
use std::fmt;

use crate::bindings::{
    WitFlags, WitFlagsV0_1, WitKind, WitKindV0_1, WitSpec, WitSpecV0_1, WitType,
};

/// SQLite's default `SQLITE_MAX_FUNCTION_ARG`: the most arguments a function
/// may declare.
pub const MAX_ARITY: i16 = 127;

/// SQLite rejects function names longer than this many bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// How SQLite calls a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FunctionKind {
    /// Once per row.
    Scalar,
    /// Over a group, with `step` and `finalize`.
    Aggregate,
    /// An aggregate that also has `inverse` and `value`, usable with `OVER`.
    Window,
    /// A table-valued function (`wasmudf:udf@0.2.0`): `SELECT * FROM f(x)`,
    /// registered as an eponymous virtual table whose rows have the
    /// declared [`FunctionSpec::columns`].
    Table,
}

impl fmt::Display for FunctionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FunctionKind::Scalar => "scalar",
            FunctionKind::Aggregate => "aggregate",
            FunctionKind::Window => "window",
            FunctionKind::Table => "table",
        })
    }
}

/// How many arguments a function takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arity {
    /// Exactly this many.
    Exactly(u8),
    /// Any number.
    Variadic,
}

impl Arity {
    /// The `nArg` value SQLite expects: the count, or `-1` for variadic.
    pub fn as_sqlite(self) -> i32 {
        match self {
            Arity::Exactly(n) => i32::from(n),
            Arity::Variadic => -1,
        }
    }
}

impl fmt::Display for Arity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arity::Exactly(n) => write!(f, "{n}"),
            Arity::Variadic => f.write_str("variadic"),
        }
    }
}

/// The SQLite flags a function asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FunctionFlags {
    /// Same inputs, same output (`SQLITE_DETERMINISTIC`).
    pub deterministic: bool,
    /// Harmless even when called from an untrusted schema
    /// (`SQLITE_INNOCUOUS`); honoured only for trusted components.
    pub innocuous: bool,
    /// Callable only from top-level SQL (`SQLITE_DIRECTONLY`).
    pub direct_only: bool,
}

impl fmt::Display for FunctionFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [
            (self.deterministic, "deterministic"),
            (self.innocuous, "innocuous"),
            (self.direct_only, "direct-only"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        if names.is_empty() {
            f.write_str("-")
        } else {
            f.write_str(&names.join(","))
        }
    }
}

/// A storage class a function declares for an argument or its result
/// (`wasmudf:udf@0.2.0`). NULL is allowed besides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ValueType {
    /// INTEGER.
    Integer,
    /// REAL.
    Real,
    /// TEXT.
    Text,
    /// BLOB.
    Blob,
    /// Any class: declared as taking whatever comes.
    Any,
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueType::Integer => "INTEGER",
            ValueType::Real => "REAL",
            ValueType::Text => "TEXT",
            ValueType::Blob => "BLOB",
            ValueType::Any => "ANY",
        })
    }
}

impl From<WitType> for ValueType {
    fn from(t: WitType) -> ValueType {
        match t {
            WitType::Integer => ValueType::Integer,
            WitType::Real => ValueType::Real,
            WitType::Text => ValueType::Text,
            WitType::Blob => ValueType::Blob,
            WitType::Any => ValueType::Any,
        }
    }
}

/// One function a component provides, as its manifest declares it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FunctionSpec {
    /// The SQL name.
    pub name: String,
    /// The number of arguments.
    pub arity: Arity,
    /// Scalar, aggregate or window.
    pub kind: FunctionKind,
    /// Requested SQLite flags.
    pub flags: FunctionFlags,
    /// The class of every non-NULL result, when the function declares one
    /// (`None` for 0.1.0 components and for functions that declare none or
    /// [`ValueType::Any`]).
    pub returns: Option<ValueType>,
    /// The class each argument is expected in, when declared: one entry per
    /// argument, or one for all of them when variadic.
    pub params: Option<Vec<ValueType>>,
    /// An aggregate or window whose partial states can be serialised and
    /// merged (always `false` for scalars and for 0.1.0 components).
    pub mergeable: bool,
    /// A table function's result columns, in order; empty for every other
    /// kind. Its arguments follow them as hidden columns named `arg1`,
    /// `arg2`, ... ([`FunctionSpec::hidden_column`]).
    pub columns: Vec<String>,
}

impl FunctionSpec {
    /// The name of a table function's hidden column for argument `n`
    /// (0-based): `arg1`, `arg2`, ... `SELECT * FROM f(a, b)` passes `a`
    /// and `b` through them, and `SELECT arg1 FROM f(a, b)` reads them
    /// back.
    ///
    /// ```
    /// # let spec = wasmudf::FunctionSpec {
    /// #     name: "split".into(), arity: wasmudf::Arity::Exactly(2),
    /// #     kind: wasmudf::FunctionKind::Table, flags: Default::default(),
    /// #     returns: None, params: None, mergeable: false,
    /// #     columns: vec!["ordinal".into(), "part".into()],
    /// # };
    /// assert_eq!(spec.hidden_column(1), "arg2");
    /// ```
    pub fn hidden_column(&self, n: usize) -> String {
        format!("arg{}", n + 1)
    }
}

/// The most columns a table function may declare, its hidden argument
/// columns included, well under SQLite's default `SQLITE_MAX_COLUMN`
/// (2,000).
pub const MAX_TABLE_COLUMNS: usize = 1000;

/// A manifest as the guest returned it, in the shape of its interface
/// version.
pub(crate) enum Raw {
    V0_1(Vec<WitSpecV0_1>),
    V0_2(Vec<WitSpec>),
}

impl Raw {
    fn len(&self) -> usize {
        match self {
            Raw::V0_1(v) => v.len(),
            Raw::V0_2(v) => v.len(),
        }
    }

    /// The 0.2.0 shape: a 0.1.0 function declares no types and is not
    /// mergeable.
    fn into_current(self) -> Vec<WitSpec> {
        match self {
            Raw::V0_2(v) => v,
            Raw::V0_1(v) => v
                .into_iter()
                .map(|old| WitSpec {
                    name: old.name,
                    arity: old.arity,
                    kind: match old.kind {
                        WitKindV0_1::Scalar => WitKind::Scalar,
                        WitKindV0_1::Aggregate => WitKind::Aggregate,
                        WitKindV0_1::Window => WitKind::Window,
                    },
                    flags: [
                        (WitFlagsV0_1::DETERMINISTIC, WitFlags::DETERMINISTIC),
                        (WitFlagsV0_1::INNOCUOUS, WitFlags::INNOCUOUS),
                        (WitFlagsV0_1::DIRECT_ONLY, WitFlags::DIRECT_ONLY),
                    ]
                    .into_iter()
                    .filter(|(o, _)| old.flags.contains(*o))
                    .fold(WitFlags::empty(), |all, (_, f)| all | f),
                    returns: None,
                    params: None,
                    mergeable: false,
                    columns: Vec::new(),
                })
                .collect(),
        }
    }
}

/// Checks a manifest as the guest returned it and converts it to the
/// public types. `Err` carries a message naming the offending function, or
/// the count when there are more than `max_functions`
/// ([`Limits::max_functions`](crate::Limits::max_functions)).
pub(crate) fn validate(raw: Raw, max_functions: usize) -> Result<Vec<FunctionSpec>, String> {
    // First, so a huge manifest costs no more than reading it.
    if raw.len() > max_functions.min(u32::MAX as usize) {
        return Err(format!(
            "{} functions declared; at most {max_functions} are allowed (Limits::max_functions)",
            raw.len()
        ));
    }
    let raw = raw.into_current();
    let mut seen = HashSet::new();
    let mut seen_tables = HashSet::new();
    let mut specs = Vec::with_capacity(raw.len());
    for (index, spec) in raw.into_iter().enumerate() {
        let name = spec.name;
        if name.is_empty() {
            return Err(format!("function #{index} has an empty name"));
        }
        if name.len() > MAX_NAME_BYTES {
            return Err(format!(
                "function #{index} has a {}-byte name; SQLite allows at most {MAX_NAME_BYTES}",
                name.len()
            ));
        }
        if name.contains('\0') {
            return Err(format!("function #{index} has a name containing NUL"));
        }
        let arity = match spec.arity {
            -1 => Arity::Variadic,
            n @ 0..=MAX_ARITY => Arity::Exactly(n as u8),
            n => {
                return Err(format!(
                    "`{name}` declares arity {n}; it must be -1 (variadic) or 0..={MAX_ARITY}"
                ));
            }
        };
        let lower = name.to_ascii_lowercase();
        if !seen.insert((lower.clone(), arity)) {
            return Err(format!("`{name}` (arity {arity}) is declared twice"));
        }
        let kind = match spec.kind {
            WitKind::Scalar => FunctionKind::Scalar,
            WitKind::Aggregate => FunctionKind::Aggregate,
            WitKind::Window => FunctionKind::Window,
            WitKind::Table => FunctionKind::Table,
        };
        // A table function is a virtual-table module, and SQLite keeps one
        // module per name whatever the arity: a second would replace the
        // first.
        if kind == FunctionKind::Table && !seen_tables.insert(lower) {
            return Err(format!("table function `{name}` is declared twice"));
        }
        let flags = FunctionFlags {
            deterministic: spec.flags.contains(WitFlags::DETERMINISTIC),
            innocuous: spec.flags.contains(WitFlags::INNOCUOUS),
            direct_only: spec.flags.contains(WitFlags::DIRECT_ONLY),
        };
        if flags.innocuous && flags.direct_only {
            return Err(format!(
                "`{name}` is declared both innocuous and direct-only"
            ));
        }
        let params = match spec.params {
            None => None,
            Some(params) => {
                let wanted = match arity {
                    Arity::Exactly(n) => usize::from(n),
                    Arity::Variadic => 1,
                };
                if params.len() != wanted {
                    return Err(format!(
                        "`{name}` (arity {arity}) declares {} parameter types; it must declare \
                         {wanted}",
                        params.len()
                    ));
                }
                let params: Vec<ValueType> = params.into_iter().map(ValueType::from).collect();
                params
                    .iter()
                    .any(|&t| t != ValueType::Any)
                    .then_some(params)
            }
        };
        if spec.mergeable && matches!(kind, FunctionKind::Scalar | FunctionKind::Table) {
            return Err(format!(
                "`{name}` is a {kind} function declared mergeable; only aggregates and windows \
                 can be"
            ));
        }
        check_columns(&name, kind, arity, &spec.columns)?;
        specs.push(FunctionSpec {
            name,
            arity,
            kind,
            flags,
            returns: spec
                .returns
                .map(ValueType::from)
                .filter(|&t| t != ValueType::Any),
            params,
            mergeable: spec.mergeable,
            columns: spec.columns,
        });
    }
    Ok(specs)
}

/// A table function has a fixed arity and at least one column, each named
/// as an SQL identifier may be, none twice and none a hidden argument
/// column's name (compared ASCII case-insensitively, as SQLite compares
/// column names); any other function declares no columns.
fn check_columns(
    name: &str,
    kind: FunctionKind,
    arity: Arity,
    columns: &[String],
) -> Result<(), String> {
    if kind != FunctionKind::Table {
        return match columns.is_empty() {
            true => Ok(()),
            false => Err(format!(
                "`{name}` is a {kind} function that declares result columns; only table \
                 functions can"
            )),
        };
    }
    let Arity::Exactly(args) = arity else {
        return Err(format!(
            "`{name}` is a variadic table function; a table function takes a fixed number of \
             arguments"
        ));
    };
    if columns.is_empty() {
        return Err(format!(
            "`{name}` is a table function that declares no columns"
        ));
    }
    if columns.len() + usize::from(args) > MAX_TABLE_COLUMNS {
        return Err(format!(
            "`{name}` declares {} columns and {args} arguments; a table function may have at \
             most {MAX_TABLE_COLUMNS} in all",
            columns.len()
        ));
    }
    let mut seen: HashSet<String> = (1..=args).map(|n| format!("arg{n}")).collect();
    for (i, column) in columns.iter().enumerate() {
        if column.is_empty() || column.len() > MAX_NAME_BYTES || column.contains('\0') {
            return Err(format!(
                "`{name}`: column #{i} must be 1 to {MAX_NAME_BYTES} bytes without NUL"
            ));
        }
        if !seen.insert(column.to_ascii_lowercase()) {
            return Err(format!(
                "`{name}`: column `{column}` is declared twice, or is the name of an argument \
                 column (arg1..arg{args})"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spec(name: &str, arity: i16) -> WitSpec {
        WitSpec {
            name: name.into(),
            arity,
            kind: WitKind::Scalar,
            flags: WitFlags::empty(),
            returns: None,
            params: None,
            mergeable: false,
            columns: Vec::new(),
        }
    }

    fn validate(raw: Vec<WitSpec>, max: usize) -> Result<Vec<FunctionSpec>, String> {
        super::validate(Raw::V0_2(raw), max)
    }

    #[test]
    fn declared_types_and_mergeable() {
        let typed = |arity: i16, params: Vec<WitType>| WitSpec {
            params: Some(params),
            returns: Some(WitType::Real),
            ..spec("f", arity)
        };
        let ok =
            validate(vec![typed(2, vec![WitType::Integer, WitType::Any])], 9).expect("accepted");
        assert_eq!(ok[0].params, Some(vec![ValueType::Integer, ValueType::Any]));
        assert_eq!(ok[0].returns, Some(ValueType::Real));
        // Variadic: one type for all.
        assert!(validate(vec![typed(-1, vec![WitType::Text])], 9).is_ok());
        let err = validate(vec![typed(2, vec![WitType::Integer])], 9).expect_err("refused");
        assert!(
            err.contains("declares 1 parameter types; it must declare 2"),
            "{err}"
        );
        assert!(validate(vec![typed(-1, vec![])], 9).is_err());
        // Nothing but `any` declares nothing.
        let any = WitSpec {
            returns: Some(WitType::Any),
            params: Some(vec![WitType::Any]),
            ..spec("g", 1)
        };
        let got = validate(vec![any], 9).expect("accepted");
        assert_eq!((got[0].returns, got[0].params.clone()), (None, None));
        let scalar = WitSpec {
            mergeable: true,
            ..spec("h", 1)
        };
        assert!(
            validate(vec![scalar], 9)
                .expect_err("refused")
                .contains("scalar function declared mergeable")
        );
        let agg = WitSpec {
            mergeable: true,
            kind: WitKind::Aggregate,
            ..spec("h", 1)
        };
        assert!(validate(vec![agg], 9).expect("accepted")[0].mergeable);
    }

    #[test]
    fn a_0_1_manifest_declares_nothing() {
        let old = WitSpecV0_1 {
            name: "m".into(),
            arity: 1,
            kind: WitKindV0_1::Window,
            flags: WitFlagsV0_1::DETERMINISTIC | WitFlagsV0_1::DIRECT_ONLY,
        };
        let got = super::validate(Raw::V0_1(vec![old]), 9).expect("accepted");
        assert_eq!(
            got,
            [FunctionSpec {
                name: "m".into(),
                arity: Arity::Exactly(1),
                kind: FunctionKind::Window,
                flags: FunctionFlags {
                    deterministic: true,
                    innocuous: false,
                    direct_only: true,
                },
                returns: None,
                params: None,
                mergeable: false,
                columns: Vec::new(),
            }]
        );
    }

    #[test]
    fn table_functions_declare_columns() {
        let table = |arity: i16, columns: &[&str]| WitSpec {
            kind: WitKind::Table,
            columns: columns.iter().map(|&c| c.to_owned()).collect(),
            ..spec("t", arity)
        };
        let ok = validate(vec![table(2, &["ordinal", "part"])], 9).expect("accepted");
        assert_eq!(ok[0].kind, FunctionKind::Table);
        assert_eq!(ok[0].columns, ["ordinal", "part"]);
        assert_eq!(ok[0].hidden_column(0), "arg1");
        assert!(validate(vec![table(0, &["x"])], 9).is_ok());
        let refused = |s: WitSpec| validate(vec![s], 9).expect_err("refused");
        assert!(refused(table(-1, &["x"])).contains("variadic table function"));
        assert!(refused(table(1, &[])).contains("declares no columns"));
        assert!(refused(table(1, &["a", "A"])).contains("declared twice"));
        assert!(refused(table(2, &["x", "ARG2"])).contains("argument column"));
        // `arg3` is not an argument of a function of two.
        assert!(validate(vec![table(2, &["arg3"])], 9).is_ok());
        assert!(refused(table(1, &[""])).contains("column #0"));
        assert!(refused(table(1, &["a\0b"])).contains("column #0"));
        let wide: Vec<String> = (0..MAX_TABLE_COLUMNS).map(|i| format!("c{i}")).collect();
        let wide: Vec<&str> = wide.iter().map(String::as_str).collect();
        assert!(refused(table(1, &wide)).contains("at most"));
        assert!(validate(vec![table(0, &wide)], 9).is_ok());
        let scalar = WitSpec {
            columns: vec!["x".into()],
            ..spec("s", 1)
        };
        assert!(refused(scalar).contains("only table functions"));
        let mergeable = WitSpec {
            mergeable: true,
            ..table(1, &["x"])
        };
        assert!(refused(mergeable).contains("table function declared mergeable"));
        // One module per name: arities don't overload table functions, but
        // a scalar of the same name lives apart.
        let pair = vec![
            table(1, &["x"]),
            WitSpec {
                name: "T".into(),
                ..table(2, &["y"])
            },
        ];
        let err = validate(pair, 9).expect_err("refused");
        assert!(
            err.contains("table function `T` is declared twice"),
            "{err}"
        );
        assert!(validate(vec![table(1, &["x"]), spec("t", 2)], 9).is_ok());
    }

    #[test]
    fn rules() {
        let check = |specs: Vec<WitSpec>| validate(specs, 4096).map(|v| v.len());
        assert_eq!(check(vec![spec("a", 1), spec("b", -1)]), Ok(2));
        // Overloading by arity is SQLite's own rule, so it is allowed.
        assert_eq!(check(vec![spec("f", 1), spec("F", 2)]), Ok(2));
        assert!(check(vec![spec("f", 1), spec("F", 1)]).is_err());
        assert!(check(vec![spec("", 0)]).is_err());
        assert!(check(vec![spec("x", 128)]).is_err());
        assert!(check(vec![spec("x", -2)]).is_err());
        assert!(check(vec![spec(&"n".repeat(256), 0)]).is_err());
        assert!(check(vec![spec("a\0b", 0)]).is_err());
    }

    #[test]
    fn the_function_count_is_capped() {
        let many = |n: usize| {
            (0..n)
                .map(|i| spec(&format!("f{i}"), 1))
                .collect::<Vec<_>>()
        };
        assert_eq!(validate(many(3), 3).map(|v| v.len()), Ok(3));
        let err = validate(many(4), 3).expect_err("over the cap");
        assert!(
            err.contains("4 functions") && err.contains("at most 3"),
            "{err}"
        );
        assert!(validate(Vec::new(), 0).is_ok());
    }

    fn arb_spec() -> impl Strategy<Value = WitSpec> {
        (
            prop_oneof![Just("f".to_string()), Just("F".to_string()), ".{0,300}"],
            any::<i16>(),
            0..4u8,
            any::<u8>(),
        )
            .prop_map(|(name, arity, kind, flags)| WitSpec {
                returns: None,
                params: None,
                mergeable: false,
                columns: if kind == 3 {
                    vec!["c".into()]
                } else {
                    Vec::new()
                },
                name,
                arity,
                kind: match kind {
                    0 => WitKind::Scalar,
                    1 => WitKind::Aggregate,
                    2 => WitKind::Window,
                    _ => WitKind::Table,
                },
                flags: [
                    WitFlags::DETERMINISTIC,
                    WitFlags::INNOCUOUS,
                    WitFlags::DIRECT_ONLY,
                ]
                .into_iter()
                .enumerate()
                .filter(|(bit, _)| flags & (1 << bit) != 0)
                .fold(WitFlags::empty(), |all, (_, f)| all | f),
            })
    }

    proptest! {
        /// The decoder never panics, and whatever it accepts obeys every
        /// rule SQLite registration relies on.
        #[test]
        fn decoder_accepts_only_valid_manifests(raw in proptest::collection::vec(arb_spec(), 0..12)) {
            if let Ok(specs) = validate(raw.clone(), 4096) {
                prop_assert_eq!(specs.len(), raw.len());
                let mut seen = std::collections::HashSet::new();
                for s in &specs {
                    prop_assert!(!s.name.is_empty() && s.name.len() <= MAX_NAME_BYTES);
                    prop_assert!(!s.name.contains('\0'));
                    let n = s.arity.as_sqlite();
                    prop_assert!((-1..=i32::from(MAX_ARITY)).contains(&n));
                    prop_assert!(!(s.flags.innocuous && s.flags.direct_only));
                    prop_assert!(seen.insert((s.name.to_ascii_lowercase(), n)));
                    if s.kind == FunctionKind::Table {
                        prop_assert!(n >= 0 && !s.columns.is_empty());
                    } else {
                        prop_assert!(s.columns.is_empty());
                    }
                }
            }
        }
    }
}
