//! Compile each component once. Compiled code is kept on disk, keyed by the engine's
//! compatibility hash and the component's SHA-256, so the second `psaflow invoke` skips
//! cranelift entirely and maps the code in.

use anyhow::Context;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled components are kept: `PSAFLOW_CACHE_DIR`, else the user's cache folder.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PSAFLOW_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("psaflow"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache").join("psaflow"))
}

pub struct CompileCache {
    dir: Option<PathBuf>,
}

impl CompileCache {
    /// `dir` is the cache root; `None` compiles in memory every time.
    pub fn new(root: Option<PathBuf>, engine_key: &str) -> Self {
        Self {
            dir: root.map(|r| r.join(format!("engine-{engine_key}"))),
        }
    }

    /// Loads `bytes` as a component, from the cache when possible.
    pub fn load(&self, engine: &Engine, bytes: &[u8]) -> anyhow::Result<Component> {
        let Some(dir) = &self.dir else {
            return Ok(Component::new(engine, bytes)?);
        };
        let path = dir.join(format!("{}.cwasm", hex(&Sha256::digest(bytes))));
        if path.exists() {
            // SAFETY: the file was written by `Engine::precompile_component` of an engine with
            // the same compatibility hash (the folder name), and is only replaced atomically.
            // A blob from another engine is rejected by wasmtime with an error, not UB.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok(component),
                Err(_) => {
                    // Stale or damaged entry: fall through and rebuild it.
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let compiled = engine.precompile_component(bytes)?;
        if let Err(err) = write_atomically(dir, &path, &compiled) {
            // A read-only or full disk must not stop the run; it only costs speed.
            eprintln!(
                "psaflow: warning: could not write the compile cache at {}: {err:#}",
                dir.display()
            );
        }
        // SAFETY: `compiled` was produced by this engine a moment ago.
        Ok(unsafe { Component::deserialize(engine, &compiled) }?)
    }
}

fn write_atomically(dir: &Path, path: &Path, data: &[u8]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        std::process::id(),
        path.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&tmp, data).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
