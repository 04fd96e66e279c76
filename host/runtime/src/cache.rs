//! Compile each component once. Compiled code is kept on disk, keyed by the engine's
//! compatibility hash and the component's SHA-256, so the second `psaflow invoke` skips
//! cranelift entirely.
//!
//! A `.cwasm` file is native code that wasmtime maps in without checking it, so whoever can
//! put a file under the right name runs code inside psaflow, next to the transport and its
//! token. The cache therefore trusts nothing it did not write itself:
//!
//! * the folder is created `0700` and is refused (with a warning; compiling then happens in
//!   memory every time) when it, or the cache root, is owned by another user or writable by
//!   group or others;
//! * files are created exclusively (`O_EXCL`, which never follows a symlink) with mode `0600`,
//!   read with `O_NOFOLLOW`, and moved into place by `rename`;
//! * each `.cwasm` has a `.mac` beside it: HMAC-SHA256, under a per-user random key, of the
//!   engine key, the component's digest and the compiled bytes. The key lives in its own
//!   `0600` file in the user's config folder (not in the cache, which CI systems often restore
//!   from other builds), so it cannot be derived from anything in the cache. An entry whose
//!   `.mac` does not verify is discarded and compiled again, before wasmtime sees it.
//!
//! Only Unix has the ownership and mode checks this needs; elsewhere compiled code stays in
//! memory.

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

/// Where the cache's integrity key is kept: `$XDG_CONFIG_HOME/psaflow/cache.key`, else
/// `~/.config/psaflow/cache.key`.
pub fn default_key_file() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(config.join("psaflow").join("cache.key"))
}

/// Length of the integrity key and of a MAC, in bytes.
const KEY_LEN: usize = 32;

/// Compiled components kept on disk between runs, so start-up skips Cranelift. Entries are
/// MAC'd with a per-user key and read only from files the user owns; anything else is
/// recompiled (see the module docs).
pub struct CompileCache {
    store: Option<Store>,
    /// Why the on-disk cache is not used, when it was asked for but refused.
    refused: Option<String>,
    /// Entries rejected while the catalog loads, said once by [`CompileCache::take_rejections`].
    rejections: std::sync::Mutex<Rejections>,
}

/// Entries rejected and not yet said. A cache written under another integrity key (a fresh
/// XDG_CONFIG_HOME with a shared cache folder) fails every entry at once: that is one
/// problem, so it is one line, not one per entry.
#[derive(Default)]
struct Rejections {
    count: usize,
    /// The first entry rejected, and why.
    first: Option<(PathBuf, String)>,
    /// True once said: entries rejected later (a node's code loaded when it first runs) are
    /// said as they come, since nothing else would say them.
    said: bool,
}

/// A cache folder that passed the checks, and the key its entries are signed with.
struct Store {
    dir: PathBuf,
    key: [u8; KEY_LEN],
    engine_key: String,
}

impl CompileCache {
    /// `root` is the cache root; `None` compiles in memory every time. `key_file` holds the
    /// integrity key (created on first use); without one the on-disk cache is not used.
    pub fn new(root: Option<PathBuf>, key_file: Option<PathBuf>, engine_key: &str) -> Self {
        let Some(root) = root else {
            return Self::memory_only(None);
        };
        match open_store(&root, key_file.as_deref(), engine_key) {
            Ok(store) => Self {
                store: Some(store),
                refused: None,
                rejections: Default::default(),
            },
            Err(why) => Self::memory_only(Some(format!(
                "not using the compile cache at {}: {why}; components are compiled in memory instead",
                root.display()
            ))),
        }
    }

    fn memory_only(refused: Option<String>) -> Self {
        Self {
            store: None,
            refused,
            rejections: Default::default(),
        }
    }

    /// Notes that `entry` was rejected for `why` (it is then removed and made again).
    fn reject(&self, entry: &Entry, why: String) {
        let mut rejections = self.rejections.lock().unwrap_or_else(|p| p.into_inner());
        if rejections.said {
            eprintln!(
                "psaflow: warning: compile cache entry {} rejected ({why}); rebuilding it",
                entry.code.display()
            );
            return;
        }
        rejections.count += 1;
        rejections
            .first
            .get_or_insert_with(|| (entry.code.clone(), why));
    }

    /// One line for every entry rejected so far (`None` when there were none); entries
    /// rejected after this are said one by one.
    pub fn take_rejections(&self) -> Option<String> {
        let mut rejections = self.rejections.lock().unwrap_or_else(|p| p.into_inner());
        rejections.said = true;
        let (path, why) = rejections.first.take()?;
        let count = std::mem::take(&mut rejections.count);
        Some(match count {
            1 => format!(
                "compile cache entry {} rejected ({why}); rebuilt it",
                path.display()
            ),
            n => format!(
                "{n} compile cache entries in {} rejected (the first: {why}); rebuilt them",
                path.parent().unwrap_or(&path).display()
            ),
        })
    }

    /// Why the on-disk cache was refused, for the user (`None` when it is in use or was not
    /// asked for).
    pub fn refused(&self) -> Option<&str> {
        self.refused.as_deref()
    }

    /// True when compiled code is kept on disk.
    pub fn on_disk(&self) -> bool {
        self.store.is_some()
    }

    /// Loads `bytes` as a component, from the cache when an entry there verifies.
    pub fn load(&self, engine: &Engine, bytes: &[u8]) -> anyhow::Result<Component> {
        self.load_digested(engine, &sha256_hex(bytes), bytes)
    }

    /// [`CompileCache::load`] of a component whose SHA-256 (hex) is already known.
    // Deserialising native code is unsafe by nature; see the SAFETY comments below.
    #[allow(unsafe_code)]
    pub fn load_digested(
        &self,
        engine: &Engine,
        digest: &str,
        bytes: &[u8],
    ) -> anyhow::Result<Component> {
        let Some(store) = &self.store else {
            return Ok(Component::new(engine, bytes)?);
        };
        let entry = Entry::new(&store.dir, digest);
        match store.read_verified(&entry, digest) {
            Verified::Yes(compiled) => {
                // SAFETY: these bytes carry a MAC made with this user's key over this engine's
                // compatibility key and this component's digest, so they are exactly what
                // `precompile_component` of a compatible engine produced for this component.
                // They were read into memory before verifying, so nothing can swap them after.
                match unsafe { Component::deserialize(engine, &compiled) } {
                    Ok(component) => return Ok(component),
                    Err(_) => entry.remove(),
                }
            }
            Verified::Missing => {}
            Verified::No(why) => {
                self.reject(&entry, why);
                entry.remove();
            }
        }
        let compiled = engine.precompile_component(bytes)?;
        if let Err(err) = store.write(&entry, digest, &compiled) {
            // A read-only or full disk must not stop the run; it only costs speed.
            eprintln!(
                "psaflow: warning: could not write the compile cache at {}: {err:#}",
                store.dir.display()
            );
        }
        // SAFETY: `compiled` was produced by this engine a moment ago.
        Ok(unsafe { Component::deserialize(engine, &compiled) }?)
    }
}

impl CompileCache {
    /// The node catalog entry kept under `key` (see `load.rs`), when one verifies; an entry
    /// that does not is removed. Entries are MAC'd like compiled code: a node's declared
    /// capabilities come from here, so a planted entry must not be believed.
    pub fn node_info(&self, key: &str) -> Option<Vec<u8>> {
        let store = self.store.as_ref()?;
        let entry = Entry::node_info(&store.dir, key);
        match store.read_verified(&entry, &node_info_digest(key)) {
            Verified::Yes(bytes) => Some(bytes),
            Verified::Missing => None,
            Verified::No(why) => {
                self.reject(&entry, why);
                entry.remove();
                None
            }
        }
    }

    /// Keeps a node catalog entry under `key`; a disk that cannot take it only costs speed.
    pub fn keep_node_info(&self, key: &str, info: &[u8]) {
        let Some(store) = &self.store else { return };
        let entry = Entry::node_info(&store.dir, key);
        if let Err(err) = store.write(&entry, &node_info_digest(key), info) {
            eprintln!(
                "psaflow: warning: could not write the node catalog cache at {}: {err:#}",
                store.dir.display()
            );
        }
    }
}

/// What a node catalog entry's MAC covers besides its bytes: its key, marked so that no
/// compiled-code entry can pass for it.
fn node_info_digest(key: &str) -> String {
    format!("node-info {key}")
}

/// The two files of one cached component.
struct Entry {
    code: PathBuf,
    mac: PathBuf,
}

impl Entry {
    fn new(dir: &Path, digest: &str) -> Self {
        Self {
            code: dir.join(format!("{digest}.cwasm")),
            mac: dir.join(format!("{digest}.mac")),
        }
    }

    /// The files of a node catalog entry.
    fn node_info(dir: &Path, key: &str) -> Self {
        Self {
            code: dir.join(format!("{key}.node.json")),
            mac: dir.join(format!("{key}.node.mac")),
        }
    }

    fn remove(&self) {
        let _ = std::fs::remove_file(&self.code);
        let _ = std::fs::remove_file(&self.mac);
    }
}

enum Verified {
    Yes(Vec<u8>),
    Missing,
    No(String),
}

impl Store {
    fn mac(&self, digest: &str, compiled: &[u8]) -> [u8; KEY_LEN] {
        hmac_sha256(
            &self.key,
            &[self.engine_key.as_bytes(), digest.as_bytes(), compiled],
        )
    }

    fn read_verified(&self, entry: &Entry, digest: &str) -> Verified {
        let compiled = match fsx::read_private(&entry.code) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Verified::Missing,
            Err(err) => return Verified::No(format!("cannot be read safely: {err}")),
        };
        let stored = match fsx::read_private(&entry.mac) {
            Ok(bytes) => bytes,
            Err(err) => return Verified::No(format!("its integrity record is unusable: {err}")),
        };
        let expected = hex(&self.mac(digest, &compiled));
        use subtle::ConstantTimeEq;
        if stored.trim_ascii().ct_eq(expected.as_bytes()).into() {
            Verified::Yes(compiled)
        } else {
            Verified::No(
                "its integrity check failed: it was not written by this psaflow for this user, \
                 or under another integrity key (another XDG_CONFIG_HOME)"
                    .into(),
            )
        }
    }

    fn write(&self, entry: &Entry, digest: &str, compiled: &[u8]) -> anyhow::Result<()> {
        let mac = hex(&self.mac(digest, compiled));
        // Code first, MAC second: a reader between the two sees a MAC that does not match
        // and compiles again, never code that is trusted without one.
        fsx::write_private_atomically(&self.dir, &entry.code, compiled)?;
        fsx::write_private_atomically(&self.dir, &entry.mac, mac.as_bytes())?;
        Ok(())
    }
}

#[cfg(unix)]
fn open_store(root: &Path, key_file: Option<&Path>, engine_key: &str) -> Result<Store, String> {
    let key_file = key_file.ok_or("there is no config folder for its integrity key (HOME is not set)")?;
    let dir = root.join(format!("engine-{engine_key}"));
    fsx::private_dir(root)?;
    fsx::private_dir(&dir)?;
    let key = fsx::load_or_create_key(key_file)?;
    Ok(Store {
        dir,
        key,
        engine_key: engine_key.to_string(),
    })
}

#[cfg(not(unix))]
fn open_store(_root: &Path, _key_file: Option<&Path>, _engine_key: &str) -> Result<Store, String> {
    Err("file ownership cannot be checked on this platform".into())
}

/// HMAC-SHA256 (RFC 2104) of the concatenation of `parts`, each prefixed by its length so
/// that different splits of the same bytes never share a MAC.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; KEY_LEN] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..KEY_LEN].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    for part in parts {
        if parts.len() > 1 {
            inner.update((part.len() as u64).to_be_bytes());
        }
        inner.update(part);
    }
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of `bytes`, in hex: the name a component is cached under.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A SHA-256 over several parts, each preceded by its length, so that no two different lists
/// of parts hash alike (`ab`+`c` and `a`+`bc`). For keys made of several inputs.
pub(crate) struct PartsDigest(Sha256);

impl PartsDigest {
    pub(crate) fn new() -> Self {
        Self(Sha256::new())
    }

    pub(crate) fn part(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update((bytes.len() as u64).to_be_bytes());
        self.0.update(bytes);
        self
    }

    /// The digest, in hex.
    pub(crate) fn hex(self) -> String {
        hex(&self.0.finalize())
    }
}

/// The file-system operations the cache trusts: private folders and files, no symlinks.
#[cfg(unix)]
mod fsx {
    use super::KEY_LEN;
    use std::fs::{DirBuilder, OpenOptions, Permissions};
    use std::io::{Read, Write};
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
    use std::path::Path;

    /// Mode bits that let someone other than the owner change a folder's contents or a file.
    const OTHERS_WRITE: u32 = 0o022;

    #[allow(unsafe_code)]
    fn effective_uid() -> u32 {
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() }
    }

    /// Why a folder or file with this owner and mode must not be trusted, if it must not.
    pub(super) fn untrusted(owner: u32, mode: u32, me: u32, what: &str) -> Option<String> {
        if owner != me {
            return Some(format!("{what} is owned by another user (uid {owner})"));
        }
        if mode & OTHERS_WRITE != 0 {
            return Some(format!(
                "{what} is writable by other users (mode {:03o})",
                mode & 0o777
            ));
        }
        None
    }

    /// Creates `dir` (and missing parents) with mode 0700, or checks an existing one: it must
    /// be a real folder (not a symlink), owned by this user, not writable by others.
    pub(super) fn private_dir(dir: &Path) -> Result<(), String> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("{} cannot be created: {e}", dir.display()))?;
        let meta = std::fs::symlink_metadata(dir)
            .map_err(|e| format!("{} cannot be examined: {e}", dir.display()))?;
        if !meta.file_type().is_dir() {
            return Err(format!("{} is a symlink or not a folder", dir.display()));
        }
        if let Some(why) = untrusted(
            meta.uid(),
            meta.mode(),
            effective_uid(),
            &dir.display().to_string(),
        ) {
            return Err(why);
        }
        // Ours and not shared: tighten a folder made by an older psaflow (0755) to 0700.
        if meta.mode() & 0o077 != 0 {
            let _ = std::fs::set_permissions(dir, Permissions::from_mode(0o700));
        }
        Ok(())
    }

    /// Reads a file without following a symlink at its name, refusing one that someone else
    /// owns or could have written.
    pub(super) fn read_private(path: &Path) -> std::io::Result<Vec<u8>> {
        let mut file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)?;
        let meta = file.metadata()?;
        if !meta.file_type().is_file() {
            return Err(std::io::Error::other("not a regular file"));
        }
        if let Some(why) = untrusted(meta.uid(), meta.mode(), effective_uid(), "the file") {
            return Err(std::io::Error::other(why));
        }
        // Only a capacity hint: a length that does not fit usize just starts the buffer empty.
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        file.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// Creates a new 0600 file exclusively (an existing file or symlink at `path` is an
    /// error, never followed) and writes `data` into it.
    fn create_exclusive(path: &Path, data: &[u8]) -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)?;
        file.write_all(data)?;
        file.sync_all()
    }

    /// Writes `data` to a fresh temporary file in `dir`, then renames it over `path` (which
    /// replaces a symlink there rather than writing through it).
    pub(super) fn write_private_atomically(
        dir: &Path,
        path: &Path,
        data: &[u8],
    ) -> anyhow::Result<()> {
        use anyhow::Context;
        let tmp = dir.join(format!(
            ".{}.{}.{}.tmp",
            std::process::id(),
            unique(),
            path.file_name().unwrap_or_default().to_string_lossy()
        ));
        create_exclusive(&tmp, data).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| {
            let _ = std::fs::remove_file(&tmp);
            format!("renaming into {}", path.display())
        })?;
        Ok(())
    }

    /// Distinguishes temporary files of concurrent writers in one process.
    fn unique() -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed)
    }

    /// Reads the integrity key, creating it (random, mode 0600, in a 0700 folder) the first
    /// time. Two processes creating it at once agree on one key: each writes its own temporary
    /// file and hard-links it to the final name, which only the first link wins.
    pub(super) fn load_or_create_key(path: &Path) -> Result<[u8; KEY_LEN], String> {
        let shown = path.display();
        let dir = path
            .parent()
            .ok_or_else(|| format!("the key file {shown} has no folder"))?;
        private_dir(dir)?;
        match read_private(path) {
            Ok(bytes) => {
                // Others must not even read it: with the key they could sign planted code.
                let mode = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?.mode();
                if mode & 0o077 != 0 {
                    return Err(format!(
                        "the key file {shown} is readable or writable by other users (mode {:03o}); \
                         run `chmod 600 {shown}` or delete it to make a new one",
                        mode & 0o777
                    ));
                }
                return parse_key(&bytes).ok_or_else(|| {
                    format!("the key file {shown} is damaged (delete it to make a new one)")
                });
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(format!("the key file {shown} cannot be used: {err}")),
        }
        let mut key = [0u8; KEY_LEN];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut key))
            .map_err(|e| format!("no random source for the key: {e}"))?;
        let tmp = dir.join(format!(".cache.key.{}.{}.tmp", std::process::id(), unique()));
        create_exclusive(&tmp, super::hex(&key).as_bytes())
            .map_err(|e| format!("the key file {} cannot be written: {e}", tmp.display()))?;
        let linked = std::fs::hard_link(&tmp, path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(key),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                // Another process won the race; use its key.
                read_private(path)
                    .ok()
                    .and_then(|bytes| parse_key(&bytes))
                    .ok_or_else(|| format!("the key file {shown} cannot be read"))
            }
            Err(err) => Err(format!("the key file {shown} cannot be created: {err}")),
        }
    }

    fn parse_key(bytes: &[u8]) -> Option<[u8; KEY_LEN]> {
        let text = std::str::from_utf8(bytes).ok()?.trim();
        if text.len() != KEY_LEN * 2 {
            return None;
        }
        let mut key = [0u8; KEY_LEN];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(key)
    }
}

#[cfg(not(unix))]
mod fsx {
    pub(super) fn read_private(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(path)
    }
    pub(super) fn write_private_atomically(
        _dir: &std::path::Path,
        _path: &std::path::Path,
        _data: &[u8],
    ) -> anyhow::Result<()> {
        anyhow::bail!("the on-disk compile cache is not supported on this platform")
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A small valid component: the first built-in node.
    fn component() -> &'static [u8] {
        crate::builtin::COMPONENTS[0].bytes
    }

    fn engine() -> crate::engine::NodeEngine {
        crate::engine::NodeEngine::new(&crate::engine::NodeLimits::default()).unwrap()
    }

    struct Setup {
        _tmp: TempDir,
        root: PathBuf,
        key: PathBuf,
    }

    /// A throwaway folder removed on drop (no extra dependency for one helper).
    struct TempDir(PathBuf);
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn setup(name: &str) -> Setup {
        let base = std::env::temp_dir().join(format!(
            "psaflow-cache-test-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o700)).unwrap();
        Setup {
            root: base.join("cache"),
            key: base.join("config").join("cache.key"),
            _tmp: TempDir(base),
        }
    }

    fn only_entry(dir: &Path) -> (PathBuf, PathBuf) {
        let mut code = None;
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "cwasm") {
                assert!(code.is_none(), "one entry expected");
                code = Some(p);
            }
        }
        let code = code.expect("an entry was written");
        let mac = code.with_extension("mac");
        (code, mac)
    }

    #[test]
    fn hmac_matches_rfc_4231_test_case_1() {
        let mac = hmac_sha256(&[0x0b; 20], &[b"Hi There"]);
        assert_eq!(
            hex(&mac),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        // RFC 4231 test case 2: a key shorter than the block.
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want for nothing?"]);
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn folders_and_files_are_private() {
        let s = setup("private");
        let e = engine();
        let cache = CompileCache::new(Some(s.root.clone()), Some(s.key.clone()), "k1");
        assert!(cache.on_disk(), "{:?}", cache.refused());
        cache.load(&e.engine, component()).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&s.root), 0o700);
        let dir = s.root.join("engine-k1");
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&s.key), 0o600);
        assert_eq!(mode(s.key.parent().unwrap()), 0o700);
        let (code, mac) = only_entry(&dir);
        assert_eq!(mode(&code), 0o600);
        assert_eq!(mode(&mac), 0o600);
        // The key is random, not derived from what is cached.
        let key = std::fs::read_to_string(&s.key).unwrap();
        assert_eq!(key.trim().len(), 64);
        assert!(!std::fs::read_to_string(&mac).unwrap().contains(key.trim()));
    }

    #[test]
    fn a_planted_entry_is_rejected_and_rebuilt() {
        let s = setup("planted");
        let e = engine();
        let cache = CompileCache::new(Some(s.root.clone()), Some(s.key.clone()), "k1");
        cache.load(&e.engine, component()).unwrap();
        let (code, mac) = only_entry(&s.root.join("engine-k1"));
        let genuine = std::fs::read(&code).unwrap();

        // A different, well-formed compiled component planted under this name, with a MAC made
        // by someone without the key (here: a MAC over the planted bytes under a guessed key).
        let other = e
            .engine
            .precompile_component(crate::builtin::COMPONENTS[1].bytes)
            .unwrap();
        std::fs::write(&code, &other).unwrap();
        std::fs::write(&mac, hex(&hmac_sha256(&[0; 32], &[b"k1", &other]))).unwrap();
        let store = cache.store.as_ref().unwrap();
        let digest = sha256_hex(component());
        assert!(matches!(
            store.read_verified(&Entry::new(&store.dir, &digest), &digest),
            Verified::No(_)
        ));
        cache.load(&e.engine, component()).unwrap();
        assert_eq!(std::fs::read(&code).unwrap(), genuine, "recompiled and rewritten");
        assert!(matches!(
            store.read_verified(&Entry::new(&store.dir, &digest), &digest),
            Verified::Yes(_)
        ));

        // Without a MAC at all: rejected too.
        std::fs::remove_file(&mac).unwrap();
        assert!(matches!(
            store.read_verified(&Entry::new(&store.dir, &digest), &digest),
            Verified::No(_)
        ));
    }

    #[test]
    fn a_cache_made_under_another_key_is_said_once_with_the_count() {
        let s = setup("other-key");
        let e = engine();
        let (a, b) = (crate::builtin::COMPONENTS[0].bytes, crate::builtin::COMPONENTS[1].bytes);
        let first = CompileCache::new(Some(s.root.clone()), Some(s.key.clone()), "k1");
        first.load(&e.engine, a).unwrap();
        first.load(&e.engine, b).unwrap();
        assert_eq!(first.take_rejections(), None);

        let other_key = s.key.with_file_name("other.key");
        let second = CompileCache::new(Some(s.root.clone()), Some(other_key), "k1");
        second.load(&e.engine, a).unwrap();
        second.load(&e.engine, b).unwrap();
        let said = second.take_rejections().expect("the rejections are said");
        assert!(said.starts_with("2 compile cache entries in "), "{said}");
        assert!(said.contains("another integrity key"), "{said}");
        assert_eq!(second.take_rejections(), None, "said once");
    }

    #[test]
    fn a_genuine_entry_for_another_component_is_rejected_under_this_name() {
        let s = setup("swapped");
        let e = engine();
        let cache = CompileCache::new(Some(s.root.clone()), Some(s.key.clone()), "k1");
        let store = cache.store.as_ref().unwrap();
        let (a, b) = (crate::builtin::COMPONENTS[0].bytes, crate::builtin::COMPONENTS[1].bytes);
        let (da, db) = (sha256_hex(a), sha256_hex(b));
        cache.load(&e.engine, a).unwrap();
        cache.load(&e.engine, b).unwrap();
        let (ea, eb) = (Entry::new(&store.dir, &da), Entry::new(&store.dir, &db));
        std::fs::copy(&eb.code, &ea.code).unwrap();
        std::fs::copy(&eb.mac, &ea.mac).unwrap();
        assert!(matches!(store.read_verified(&ea, &da), Verified::No(_)));
    }

    #[test]
    fn a_symlink_in_place_of_an_entry_is_not_followed() {
        let s = setup("symlink");
        let e = engine();
        let cache = CompileCache::new(Some(s.root.clone()), Some(s.key.clone()), "k1");
        let store = cache.store.as_ref().unwrap();
        let digest = sha256_hex(component());
        let entry = Entry::new(&store.dir, &digest);
        let victim = s.root.join("victim.txt");
        std::fs::write(&victim, "keep me").unwrap();
        std::os::unix::fs::symlink(&victim, &entry.code).unwrap();
        std::os::unix::fs::symlink(&victim, &entry.mac).unwrap();
        cache.load(&e.engine, component()).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        assert!(!std::fs::symlink_metadata(&entry.code).unwrap().file_type().is_symlink());
        assert!(matches!(store.read_verified(&entry, &digest), Verified::Yes(_)));
    }

    #[test]
    fn a_folder_others_can_write_is_refused() {
        let s = setup("shared");
        std::fs::create_dir_all(&s.root).unwrap();
        std::fs::set_permissions(&s.root, std::fs::Permissions::from_mode(0o777)).unwrap();
        let cache = CompileCache::new(Some(s.root.clone()), Some(s.key.clone()), "k1");
        assert!(!cache.on_disk());
        let why = cache.refused().unwrap();
        assert!(why.contains("writable by other users"), "{why}");
        // Still works, in memory, and writes nothing there.
        cache.load(&engine().engine, component()).unwrap();
        assert!(!s.root.join("engine-k1").exists());
    }

    #[test]
    fn ownership_and_mode_rules() {
        assert_eq!(fsx::untrusted(1000, 0o40700, 1000, "d"), None);
        assert_eq!(fsx::untrusted(1000, 0o40755, 1000, "d"), None);
        assert!(fsx::untrusted(0, 0o40700, 1000, "d").unwrap().contains("another user"));
        assert!(fsx::untrusted(1000, 0o40770, 1000, "d").unwrap().contains("writable"));
        assert!(fsx::untrusted(1000, 0o41777, 1000, "d").unwrap().contains("writable"));
    }

    #[test]
    fn a_shared_key_file_is_refused() {
        let s = setup("key");
        std::fs::create_dir_all(s.key.parent().unwrap()).unwrap();
        std::fs::write(&s.key, "00".repeat(32)).unwrap();
        std::fs::set_permissions(&s.key, std::fs::Permissions::from_mode(0o666)).unwrap();
        let cache = CompileCache::new(Some(s.root.clone()), Some(s.key.clone()), "k1");
        assert!(!cache.on_disk());
        assert!(cache.refused().unwrap().contains("key file"), "{:?}", cache.refused());
    }
}
