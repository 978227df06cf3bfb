//! Tables over files, opened the way every path a user hands us is.

use std::path::Path;

use datafusion::common::{DataFusionError, Result};
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionContext};

/// Registers the CSV or Parquet file `file` (by its extension) as table
/// `name` of `ctx`.
///
/// The file is opened through cap-std from its folder first, so a missing
/// or unreadable one is a clear error naming it before DataFusion lists
/// anything; DataFusion then gets its absolute path, which a Ballista
/// executor on the same file system reads too.
///
/// ```no_run
/// # async fn demo() -> datafusion::common::Result<()> {
/// let ctx = datafusion::prelude::SessionContext::new();
/// wasmudf_datafusion::register_file(&ctx, "t", "data/t.parquet".as_ref()).await?;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// `name` is not letters, digits and `_`; the file cannot be opened, is
/// neither `.csv` nor `.parquet`, or DataFusion cannot read it.
pub async fn register_file(ctx: &SessionContext, name: &str, file: &Path) -> Result<()> {
    let refuse = |why: String| DataFusionError::Plan(format!("table {name}: {why}"));
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(refuse(format!(
            "`{name}` is not a table name (letters, digits and _)"
        )));
    }
    let shown = file.display();
    let dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let base = file
        .file_name()
        .ok_or_else(|| refuse(format!("{shown} is not a file")))?;
    cap_std::fs::Dir::open_ambient_dir(dir, cap_std::ambient_authority())
        .and_then(|d| d.open(base))
        .map_err(|e| refuse(format!("opening {shown}: {e}")))?;
    let absolute = std::path::absolute(file).map_err(|e| refuse(format!("{shown}: {e}")))?;
    let path = absolute
        .to_str()
        .ok_or_else(|| refuse(format!("{shown} is not a UTF-8 path")))?;
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("csv") => ctx.register_csv(name, path, CsvReadOptions::new()).await,
        Some("parquet") => {
            ctx.register_parquet(name, path, ParquetReadOptions::default())
                .await
        }
        _ => Err(refuse(format!(
            "{shown}: a table must be a .csv or .parquet file"
        ))),
    }
}
