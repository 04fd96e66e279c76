//! `psaflow sandbox --state FILE`: the sandbox's data kept in a JSON file across restarts.
//! The whole store is written after every change, to a temporary file renamed over the old
//! one, so a crash leaves either the old or the new data, never half of it. (A sandbox holds
//! demo-sized data; writing it all is simpler and safer than a log.)

use std::path::Path;

use crate::SandboxError;
use crate::store::Store;

fn problem(path: &Path, message: impl Into<String>) -> SandboxError {
    SandboxError::State {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Reads the store a sandbox saved.
pub(crate) fn load(path: &Path) -> Result<Store, SandboxError> {
    let text = std::fs::read_to_string(path).map_err(|e| problem(path, format!("cannot read it: {e}")))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| problem(path, format!("not valid JSON (line {}, column {}): {e}", e.line(), e.column())))?;
    Store::from_json(&value).map_err(|m| problem(path, m))
}

/// Writes the whole store (temporary file, then rename).
pub(crate) fn save(path: &Path, store: &Store) -> Result<(), SandboxError> {
    let text = serde_json::to_string(&store.to_json())
        .map_err(|e| problem(path, format!("cannot encode the data: {e}")))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, text).map_err(|e| problem(path, format!("cannot write {}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(|e| problem(path, format!("cannot replace it: {e}")))
}
