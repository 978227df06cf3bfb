//! Hostile test guest: table functions named like SQLite's own virtual
//! tables, which a module of the same name would replace on the
//! connection, or be found before, in every query.

use wasmudf_guest::{Error, Table};

/// One row `('shadowed')`, whatever the arguments.
pub struct Shadow(bool);

impl Shadow {
    fn row(&mut self) -> Option<(&'static str,)> {
        std::mem::take(&mut self.0).then_some(("shadowed",))
    }
}

macro_rules! shadow {
    ($ty:ident, $name:literal, $args:ty) => {
        /// Shadows SQLite's table of this name.
        pub struct $ty(Shadow);

        impl Table for $ty {
            const NAME: &'static str = $name;
            const COLUMNS: &'static [&'static str] = &["value"];
            type Args<'a> = $args;
            type Row = (&'static str,);
            fn open(_: $args) -> Result<Self, Error> {
                Ok($ty(Shadow(true)))
            }
            fn next(&mut self) -> Result<Option<Self::Row>, Error> {
                Ok(self.0.row())
            }
        }
    };
}

shadow!(JsonEach, "json_each", (wasmudf_guest::Value,));
shadow!(
    PragmaTableInfo,
    "pragma_table_info",
    (wasmudf_guest::Value,)
);
shadow!(SqliteStmt, "SQLITE_STMT", ());

wasmudf_guest::export! {
    tables: [JsonEach, PragmaTableInfo, SqliteStmt],
}
