//! Where the SQLite file lives: `--state DIR`, else `PSAFLOW_STATE_DIR`, else the user's
//! data directory (XDG on Linux, Application Support on macOS, %APPDATA% on Windows).
use std::path::{Path, PathBuf};

/// The environment variable naming the state directory.
pub const ENV_STATE_DIR: &str = "PSAFLOW_STATE_DIR";
/// The database file inside the state directory.
pub const DEFAULT_FILE: &str = "psaflow.db";

/// The state directory, from the flag, the environment (through `lookup`), or the platform's
/// data directory. `None` when none can be found (no home directory).
pub fn state_dir(flag: Option<&Path>, lookup: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(dir) = flag {
        return Some(dir.to_path_buf());
    }
    if let Some(dir) = lookup(ENV_STATE_DIR) {
        return Some(PathBuf::from(dir));
    }
    data_dir(&lookup).map(|d| d.join("psaflow"))
}

fn data_dir(lookup: &impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if cfg!(windows) {
        return lookup("APPDATA").map(PathBuf::from);
    }
    let home = lookup("HOME").map(PathBuf::from);
    if cfg!(target_os = "macos") {
        return home.map(|h| h.join("Library/Application Support"));
    }
    // XDG: only an absolute XDG_DATA_HOME counts (the spec says to ignore relative ones).
    match lookup("XDG_DATA_HOME").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => Some(dir),
        _ => home.map(|h| h.join(".local/share")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn flag_wins_then_environment_then_data_dir() {
        let e = env(&[("PSAFLOW_STATE_DIR", "/srv/state"), ("HOME", "/home/ada")]);
        assert_eq!(
            state_dir(Some(Path::new("/x")), &e),
            Some(PathBuf::from("/x"))
        );
        assert_eq!(state_dir(None, &e), Some(PathBuf::from("/srv/state")));
        if cfg!(target_os = "linux") {
            let e = env(&[("HOME", "/home/ada")]);
            assert_eq!(
                state_dir(None, e),
                Some(PathBuf::from("/home/ada/.local/share/psaflow"))
            );
            let e = env(&[("HOME", "/home/ada"), ("XDG_DATA_HOME", "/data")]);
            assert_eq!(state_dir(None, e), Some(PathBuf::from("/data/psaflow")));
            let e = env(&[("HOME", "/home/ada"), ("XDG_DATA_HOME", "rel")]);
            assert_eq!(
                state_dir(None, e),
                Some(PathBuf::from("/home/ada/.local/share/psaflow"))
            );
            assert_eq!(state_dir(None, env(&[])), None);
        }
    }
}
