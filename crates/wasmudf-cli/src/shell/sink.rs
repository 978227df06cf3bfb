//! Where results go (`.output`, `.once`), and opening the files a user
//! names.
//!
//! The project opens every path a user hands it through cap-std: the
//! parent directory is opened with ambient authority, then the file
//! inside it, so a symbolic link in the last component cannot lead out of
//! the directory the user named.

use std::io::{self, Write};
use std::path::Path;

/// Opens `path` to read.
///
/// # Errors
///
/// The file cannot be opened, or `path` names no file (`dir/`, `..`).
pub(crate) fn open_file(path: &str) -> io::Result<std::fs::File> {
    let (dir, name) = split(path)?;
    Ok(dir.open(name)?.into_std())
}

/// Creates (or truncates) `path` to write.
///
/// # Errors
///
/// As [`open_file`].
pub(crate) fn create_file(path: &str) -> io::Result<std::fs::File> {
    let (dir, name) = split(path)?;
    Ok(dir.create(name)?.into_std())
}

fn split(path: &str) -> io::Result<(cap_std::fs::Dir, &std::ffi::OsStr)> {
    let path = Path::new(path);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not the name of a file"))?;
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let dir = cap_std::fs::Dir::open_ambient_dir(parent, cap_std::ambient_authority())?;
    Ok((dir, name))
}

enum Target {
    Stdout,
    File {
        file: io::BufWriter<std::fs::File>,
        name: String,
    },
}

/// The shell's output: standard output, or a file until `.output` (or,
/// after `.once`, until the next input has run).
pub(crate) struct Sink {
    target: Target,
    /// `.once`: back to standard output after the next input.
    once: bool,
    /// `.once` has seen its own input end; the next end resets.
    armed: bool,
}

impl Sink {
    pub(crate) fn stdout() -> Sink {
        Sink {
            target: Target::Stdout,
            once: false,
            armed: false,
        }
    }

    /// Whether output goes to the terminal or pipe the shell was given.
    pub(crate) fn is_stdout(&self) -> bool {
        matches!(self.target, Target::Stdout)
    }

    /// The file output goes to, as `.show` names it.
    pub(crate) fn name(&self) -> &str {
        match &self.target {
            Target::Stdout => "stdout",
            Target::File { name, .. } => name,
        }
    }

    /// Sends output to `file` from now on (`once`: for the next input
    /// only).
    ///
    /// # Errors
    ///
    /// Flushing the file output went to before.
    pub(crate) fn redirect(
        &mut self,
        file: std::fs::File,
        name: &str,
        once: bool,
    ) -> io::Result<()> {
        let flushed = self.reset();
        self.target = Target::File {
            file: io::BufWriter::new(file),
            name: name.to_owned(),
        };
        self.once = once;
        self.armed = false;
        flushed
    }

    /// Back to standard output.
    ///
    /// # Errors
    ///
    /// Flushing the file output went to.
    pub(crate) fn reset(&mut self) -> io::Result<()> {
        let target = std::mem::replace(&mut self.target, Target::Stdout);
        self.once = false;
        match target {
            Target::Stdout => Ok(()),
            Target::File { mut file, .. } => file.flush(),
        }
    }

    /// Called as each input (a SQL chunk, a dot command) ends: `.once`
    /// lasts for the input after its own.
    ///
    /// # Errors
    ///
    /// As [`Sink::reset`].
    pub(crate) fn end_input(&mut self) -> io::Result<()> {
        if !self.once {
            return self.flush();
        }
        if self.armed {
            self.reset()
        } else {
            self.armed = true;
            Ok(())
        }
    }

    /// Writes `text`, already escaped.
    ///
    /// # Errors
    ///
    /// The write's error (a broken pipe, a full disk).
    pub(crate) fn write(&mut self, text: &str) -> io::Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        match &mut self.target {
            Target::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(text.as_bytes())?;
                out.flush()
            }
            Target::File { file, .. } => file.write_all(text.as_bytes()),
        }
    }

    /// Flushes a file's buffer, so that what ran is in the file.
    ///
    /// # Errors
    ///
    /// The write's error.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        match &mut self.target {
            Target::Stdout => io::stdout().flush(),
            Target::File { file, .. } => file.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_lasts_for_the_next_input() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("once.txt");
        let path = path.to_str().expect("utf-8 path");
        let mut sink = Sink::stdout();
        sink.redirect(create_file(path)?, path, true)?;
        // The `.once` command's own input ends.
        sink.end_input()?;
        assert!(!sink.is_stdout());
        sink.write("rows\n")?;
        sink.end_input()?;
        assert!(sink.is_stdout());
        assert_eq!(std::fs::read_to_string(path)?, "rows\n");
        Ok(())
    }

    #[test]
    fn paths_that_name_no_file_are_refused() {
        for path in ["", "/", "..", "dir/.."] {
            assert!(open_file(path).is_err(), "{path}");
        }
    }
}
