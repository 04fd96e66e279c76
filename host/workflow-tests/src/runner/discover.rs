//! Finding `*.test.yaml` files.
use std::path::{Path, PathBuf};

/// Folders never searched (they are still searched when named explicitly).
const SKIPPED_DIRS: &[&str] = &["target", "node_modules"];

/// True for `*.test.yaml` and `*.test.yml`.
pub fn is_test_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".test.yaml") || n.ends_with(".test.yml"))
}

/// The test files under `paths` (files are taken as given; folders are searched recursively
/// for `*.test.yaml`, skipping hidden folders, `target` and `node_modules`), sorted and without
/// repeats. No paths means the current folder. A path that does not exist is an error.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let default = [PathBuf::from(".")];
    let paths = if paths.is_empty() {
        &default[..]
    } else {
        paths
    };
    let mut found = Vec::new();
    for path in paths {
        if path.is_file() {
            found.push(path.clone());
        } else if path.is_dir() {
            walk(path, &mut found).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        } else {
            return Err(format!("{}: no such file or folder", path.display()));
        }
    }
    let mut seen = std::collections::HashSet::new();
    found.retain(|p| seen.insert(p.canonicalize().unwrap_or_else(|_| p.clone())));
    // `./a/b.test.yaml` reads better as `a/b.test.yaml` in messages.
    Ok(found
        .into_iter()
        .map(|p| p.strip_prefix(".").map(Path::to_path_buf).unwrap_or(p))
        .collect())
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !name.starts_with('.') && !SKIPPED_DIRS.contains(&name) {
                walk(&path, found)?;
            }
        } else if is_test_file(&path) {
            found.push(path);
        }
    }
    Ok(())
}
