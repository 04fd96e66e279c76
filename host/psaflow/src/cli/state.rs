//! The run store for commands: `--store URL` / `PSAFLOW_DATABASE_URL` (PostgreSQL, shared by
//! workers), else SQLite under `--state DIR`, else `PSAFLOW_STATE_DIR`, else the user's data
//! directory (see psaflow_store::state_dir).
use super::env_lookup;
use psaflow_store::{PostgresStore, RunStore, SqliteStore, is_postgres_url};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// `--state DIR` for every command that reads or writes runs.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct StateArgs {
    /// Folder of the run store (psaflow.db); default $PSAFLOW_STATE_DIR, else the user's
    /// data directory (~/.local/share/psaflow on Linux).
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// The run store as a URL: postgres://user:password@host:port/database (several
    /// workers and servers share it), or sqlite:PATH for a SQLite file. Wins over --state.
    #[arg(long, value_name = "URL", env = ENV_DATABASE_URL, hide_env_values = true)]
    pub store: Option<String>,
}

/// What [`StateArgs::open_existing`] found.
pub enum Existing {
    Store(Arc<dyn RunStore>),
    /// No run store at this path: nothing was ever recorded there.
    Missing(PathBuf),
}

/// The variable that names the run store's URL, like `--store`.
pub const ENV_DATABASE_URL: &str = "PSAFLOW_DATABASE_URL";

impl StateArgs {
    /// Where the store is, or why there is none.
    pub fn dir(&self) -> anyhow::Result<PathBuf> {
        psaflow_store::state_dir(self.state.as_deref(), env_lookup).ok_or_else(|| {
            anyhow::anyhow!(
                "no folder for the run store: give --state DIR or set {} (there is no home directory to default to)",
                psaflow_store::ENV_STATE_DIR
            )
        })
    }

    /// True when the person chose where the store is (flag or variable), so a store that
    /// cannot be opened is an error rather than a run that is not recorded.
    pub fn chosen(&self) -> bool {
        self.state.is_some()
            || self.store.is_some()
            || std::env::var_os(ENV_DATABASE_URL).is_some()
            || env_lookup(psaflow_store::ENV_STATE_DIR).is_some()
    }

    /// The store that records `what` (a run, an apply, an invoke's change), opened before
    /// anything is sent. A store the person chose that cannot be opened stops the command
    /// (exit 2), and so does any store under `strict`; at the default location a missing
    /// store only warns that `what` is not recorded.
    pub fn open_for_recording(
        &self,
        what: &str,
        strict: bool,
    ) -> Result<Option<Arc<dyn RunStore>>, u8> {
        match self.open() {
            Ok(store) => Ok(Some(store)),
            Err(err) if !self.chosen() && !strict => {
                eprintln!(
                    "psaflow: warning: {what} is not recorded (it cannot be resumed or audited): {err:#}"
                );
                Ok(None)
            }
            Err(err) => {
                eprintln!("psaflow: {err:#}");
                if strict && !self.chosen() {
                    eprintln!("psaflow: --strict: {what} cannot be recorded, so it does not start");
                }
                Err(super::EXIT_USAGE)
            }
        }
    }

    /// Opens (creating when needed) the store.
    pub fn open(&self) -> anyhow::Result<Arc<dyn RunStore>> {
        match self.store_url()? {
            Some(url) => open_url(&url),
            None => open_dir(&self.dir()?),
        }
    }

    /// The store for a command that only reads (or deletes) what is recorded: like
    /// [`StateArgs::open`], but a SQLite store whose file does not exist is not created (nor
    /// its folder): there is nothing recorded there, which the command says.
    pub fn open_existing(&self) -> anyhow::Result<Existing> {
        let file = match self.store_url()? {
            Some(url) => match url.strip_prefix("sqlite:") {
                Some(path) => PathBuf::from(path.strip_prefix("//").unwrap_or(path)),
                None => return Ok(Existing::Store(open_url(&url)?)),
            },
            None => self.dir()?.join(psaflow_store::DEFAULT_FILE),
        };
        if file.as_os_str().is_empty() || file.exists() {
            return Ok(Existing::Store(self.open()?));
        }
        Ok(Existing::Missing(file))
    }

    /// `--store` / `PSAFLOW_DATABASE_URL`, if given. An empty one is refused: falling back to
    /// the SQLite store in the user's data directory would record runs (and let workers
    /// wait) far from the shared store the person meant, without a word.
    pub fn store_url(&self) -> anyhow::Result<Option<String>> {
        let from_env = || std::env::var(ENV_DATABASE_URL).ok();
        match self.store.clone().or_else(from_env) {
            Some(url) if url.trim().is_empty() => anyhow::bail!(
                "--store / {ENV_DATABASE_URL} is empty; give a postgres://user:password@host:port/database \
                 or sqlite:PATH URL, or leave both unset for the SQLite store under --state"
            ),
            url => Ok(url),
        }
    }
}

/// Opens the store a URL names: `postgres://...`/`postgresql://...`, or `sqlite:PATH`.
pub fn open_url(url: &str) -> anyhow::Result<Arc<dyn RunStore>> {
    if is_postgres_url(url) {
        return Ok(Arc::new(PostgresStore::connect(url)?));
    }
    if let Some(path) = url.strip_prefix("sqlite:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() {
            anyhow::bail!("--store {url:?} names no file; write sqlite:/path/to/psaflow.db");
        }
        return Ok(Arc::new(SqliteStore::open_file(std::path::Path::new(
            path,
        ))?));
    }
    let shown = url.split_once("://").map_or(url, |(scheme, _)| scheme);
    anyhow::bail!(
        "--store / {ENV_DATABASE_URL} must be a postgres://user:password@host:port/database URL \
         or sqlite:PATH; got a value starting with {shown:?}"
    )
}

pub fn open_dir(dir: &Path) -> anyhow::Result<Arc<dyn RunStore>> {
    let store = SqliteStore::open_dir(dir)?;
    Ok(Arc::new(store))
}

/// `7d`, `12h`, `30m`: a duration for --since and --older-than, as milliseconds.
pub fn parse_age(flag: &str, text: &str) -> Result<i64, String> {
    parse_flag_duration(text, "7d, 12h, 30m")
        .map(psaflow_store::duration_ms)
        .map_err(|problem| format!("{flag} {problem}"))
}

/// A duration given on the command line (`--older-than 30d`, `--lease 30s`): a number and a
/// unit. A bare number is refused, not read as seconds: `--older-than 10` may well mean ten
/// days, and prune deletes. (Workflow files keep their documented meaning: there a number is
/// seconds.) The error says what is wrong with `text`, ending in how to write it (`examples`);
/// the caller adds the flag's name.
pub fn parse_flag_duration(text: &str, examples: &str) -> Result<Duration, String> {
    let t = text.trim();
    // `0d` is a duration, just not one these flags can use: say so, not "not a duration".
    if is_zero_age(t) {
        return Err(format!(
            "{text:?} must be longer than zero; write e.g. {examples}"
        ));
    }
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(format!(
            "{text:?} has no unit; add one: {t}d (days), {t}h, {t}m, {t}s or {t}ms"
        ));
    }
    psaflow_workflow::parse_duration(t)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{text:?} is not a duration; write e.g. {examples}"))
}

/// True for `0`, `0d`, `0.0h`...: a zero written with any unit.
pub fn is_zero_age(text: &str) -> bool {
    let number = text.trim().trim_end_matches(|c: char| c.is_ascii_alphabetic());
    number.trim().parse::<f64>() == Ok(0.0)
}

/// Milliseconds since the epoch as `2026-11-30 07:31:44Z` (UTC), for tables.
pub fn show_time(ms: i64) -> String {
    format!(
        "{}Z",
        psaflow_core::dates::format_unix(ms.div_euclid(1000)).replacen('T', " ", 1)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_show_in_utc() {
        assert_eq!(show_time(0), "1970-01-01 00:00:00Z");
        assert_eq!(show_time(1_796_024_304_000), "2026-11-30 07:38:24Z");
        assert_eq!(show_time(951_782_400_000), "2000-02-29 00:00:00Z");
    }

    #[test]
    fn store_urls_are_checked_without_echoing_them() {
        let err = open_url("mysql://root:hunter2@db/x")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("\"mysql\""), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        assert!(open_url("sqlite:").is_err());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("runs.db");
        let store = open_url(&format!("sqlite:{}", file.display())).unwrap();
        assert_eq!(store.kind(), "sqlite");
        assert!(file.exists());
    }

    #[test]
    fn ages_parse_with_days() {
        assert_eq!(parse_age("--since", "7d"), Ok(7 * 86_400_000));
        assert!(
            parse_age("--since", "soon")
                .unwrap_err()
                .contains("--since")
        );
    }

    #[test]
    fn a_zero_age_is_refused_as_zero_not_as_no_duration() {
        for zero in ["0d", "0", "0.0h"] {
            let err = parse_age("--older-than", zero).unwrap_err();
            assert!(err.contains("must be longer than zero"), "{err}");
        }
        let err = parse_age("--older-than", "soon").unwrap_err();
        assert!(err.contains("is not a duration"), "{err}");
    }

    #[test]
    fn a_number_without_a_unit_is_refused_not_read_as_seconds() {
        for bare in ["10", "1.5", " 30 "] {
            let err = parse_age("--older-than", bare).unwrap_err();
            assert!(err.starts_with("--older-than"), "{err}");
            assert!(err.contains("has no unit; add one"), "{err}");
            let err = parse_flag_duration(bare, "30s").unwrap_err();
            assert!(err.contains(&format!("{}d (days)", bare.trim())), "{err}");
        }
        assert_eq!(
            parse_flag_duration("1.5s", "30s"),
            Ok(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_flag_duration("10d", "7d"),
            Ok(Duration::from_secs(864_000))
        );
        // The workflow files' reading is unchanged: there a number is seconds.
        assert_eq!(
            psaflow_workflow::parse_duration("10"),
            Some(Duration::from_secs(10))
        );
    }
}
