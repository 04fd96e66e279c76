//! Builds the node components (../../components, a workspace of its own) for wasm32-wasip2 and
//! embeds them, with the WIT package that documents them, into the runtime. This is what makes
//! `psaflow` a single binary that works from any directory.
//!
//! Components are built with plain `cargo build --target wasm32-wasip2` and wit-bindgen (the
//! Bytecode Alliance's current advice); the target is added with rustup when it is missing.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let repo = manifest_dir
        .join("../..")
        .canonicalize()
        .expect("repository root");
    let components = repo.join("components");
    let wit = repo.join("wit");
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());

    let packages = wit_packages(&wit);
    let crates = component_crates(&components, &packages);
    watch(&components, &wit);
    ensure_target();

    // A stable target dir beside the workspace's own, so profiles and rebuilds of the host
    // share one component build instead of rebuilding twenty crates per OUT_DIR. It is named
    // after this checkout: several git worktrees may share one CARGO_TARGET_DIR, and cargo
    // would otherwise take another checkout's components for up to date.
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .unwrap_or(&out_dir)
        .join(format!("wasm-components-{}", checkout_tag(&repo)));
    build_components(&components, &target_dir);

    let wasm_dir = target_dir.join(TARGET).join("release");
    // Where the test-only components (components/testing) are, for the end-to-end tests.
    println!("cargo:rustc-env=PSAFLOW_BUILT_COMPONENTS={}", wasm_dir.display());
    let mut generated = String::from("/// Built-in node components.\n");
    generated.push_str("pub static COMPONENTS: &[BuiltinComponent] = &[\n");
    for name in &crates {
        let file = wasm_dir.join(format!("{}.wasm", name.replace('-', "_")));
        let Ok(bytes) = fs::read(&file) else {
            panic!(
                "component {name} was built but {} is missing",
                file.display()
            );
        };
        // The digest is taken here so that start-up need not read a component it will not
        // run (see `NodeCatalogBuilder::load`).
        generated.push_str(&format!(
            "    BuiltinComponent {{ name: {name:?}, digest: {:?}, bytes: include_bytes!({:?}) }},\n",
            hex(&Sha256::digest(&bytes)),
            file.display().to_string()
        ));
    }
    generated.push_str(
        "];\n\n/// The WIT packages the built-in components implement: (folder under wit/, [(file name, source)]).\n",
    );
    generated.push_str("pub static WIT: &[(&str, &[(&str, &str)])] = &[\n");
    for (package, files) in &packages {
        generated.push_str(&format!("    ({package:?}, &[\n"));
        for file in files {
            let name = file.file_name().unwrap().to_string_lossy().to_string();
            generated.push_str(&format!(
                "        ({name:?}, include_str!({:?})),\n",
                file.display().to_string()
            ));
        }
        generated.push_str("    ]),\n");
    }
    generated.push_str("];\n");
    let mut wit_digest = Sha256::new();
    for (package, files) in &packages {
        for file in files {
            digest_file(&mut wit_digest, &format!("{package}/"), file);
        }
    }
    generated.push_str(&format!(
        "\n/// SHA-256 of the built-in WIT packages (the docs the built-in nodes' catalog entries are read from).\npub const WIT_DIGEST: &str = {:?};\n",
        hex(&wit_digest.finalize())
    ));
    generated.push_str(&format!(
        "\n/// SHA-256 of the code that reads a node into its catalog entry (this crate's and psaflow-core's\n/// sources): a catalog entry cached by another build of that code is not used.\npub const CATALOG_CODE_DIGEST: &str = {:?};\n",
        hex(&catalog_code_digest(&manifest_dir))
    ));
    fs::write(out_dir.join("builtin_components.rs"), generated).unwrap();
}

/// Adds `file` (under the name `prefix` + its file name) to `hasher`.
fn digest_file(hasher: &mut Sha256, prefix: &str, file: &Path) {
    let name = format!("{prefix}{}", file.file_name().unwrap().to_string_lossy());
    let body = fs::read(file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
    for part in [name.as_bytes(), &body] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
}

/// The sources of this crate and of psaflow-core, whose code turns a component into its
/// catalog entry; the script runs again when they change.
fn catalog_code_digest(manifest_dir: &Path) -> Vec<u8> {
    let mut hasher = Sha256::new();
    for dir in [manifest_dir.join("src"), manifest_dir.join("../core/src")] {
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut stack = vec![dir];
        while let Some(dir) = stack.pop() {
            for path in sorted_entries(&dir) {
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    digest_file(&mut hasher, "", &path);
                }
            }
        }
    }
    hasher.finalize().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The WIT packages: each folder of wit/ holding `.wit` files is one connector's package
/// (wit/halopsa = psaflow:halopsa), with its files sorted by name.
fn wit_packages(wit: &Path) -> Vec<(String, Vec<PathBuf>)> {
    let mut packages = Vec::new();
    for dir in sorted_entries(wit).into_iter().filter(|p| p.is_dir()) {
        let files: Vec<PathBuf> = sorted_entries(&dir)
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "wit"))
            .collect();
        if !files.is_empty() {
            let name = dir.file_name().unwrap().to_string_lossy().to_string();
            packages.push((name, files));
        }
    }
    assert!(
        !packages.is_empty(),
        "{} holds no WIT package folders",
        wit.display()
    );
    packages
}

/// The built-in nodes: every crate building a component (a cdylib) in components/<connector>/,
/// where <connector> is a WIT package folder of wit/. Other folders (kit, testing, template)
/// are not embedded.
fn component_crates(components: &Path, packages: &[(String, Vec<PathBuf>)]) -> Vec<String> {
    let mut names = Vec::new();
    for (connector, _) in packages {
        let folder = components.join(connector);
        if !folder.is_dir() {
            continue;
        }
        for dir in sorted_entries(&folder) {
            let manifest = dir.join("Cargo.toml");
            let Ok(text) = fs::read_to_string(&manifest) else {
                continue;
            };
            if !text.contains("cdylib") {
                continue;
            }
            let name = text
                .lines()
                .find_map(|l| {
                    l.trim()
                        .strip_prefix("name = ")
                        .map(|v| v.trim_matches('"').to_string())
                })
                .unwrap_or_else(|| panic!("{} has no package name", manifest.display()));
            names.push(name);
        }
    }
    names.sort();
    names
}

/// A short, stable name for this checkout (a hash of its path).
fn checkout_tag(repo: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    repo.hash(&mut hasher);
    // The low 32 bits are enough to tell checkouts apart.
    format!("{:08x}", hasher.finish() & 0xffff_ffff)
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    paths
}

/// Rebuild when a component's source, a manifest or the WIT changes – but not when
/// components/target changes, which a directory-wide watch would pick up.
fn watch(components: &Path, wit: &Path) {
    // Cargo hashes workspace packages by their path relative to the workspace, so git worktrees
    // sharing a CARGO_TARGET_DIR share this script's OUT_DIR, and the watched paths below are
    // the last checkout's. The working directory (each checkout builds from its own root) makes
    // cargo run the script again when another checkout built last.
    println!("cargo:rerun-if-env-changed=PWD");
    println!("cargo:rerun-if-changed={}", wit.display());
    for file in ["Cargo.toml", "Cargo.lock", ".cargo/config.toml"] {
        println!("cargo:rerun-if-changed={}", components.join(file).display());
    }
    watch_crates(components);
}

/// Every crate folder below `dir` (kit, connector folders, testing, template), skipping targets.
fn watch_crates(dir: &Path) {
    for path in sorted_entries(dir).into_iter().filter(|p| p.is_dir()) {
        if path.file_name().is_some_and(|n| n == "target") {
            continue;
        }
        if path.join("Cargo.toml").exists() {
            println!(
                "cargo:rerun-if-changed={}",
                path.join("Cargo.toml").display()
            );
            println!("cargo:rerun-if-changed={}", path.join("src").display());
            if path.join("wit").is_dir() {
                println!("cargo:rerun-if-changed={}", path.join("wit").display());
            }
        } else {
            watch_crates(&path);
        }
    }
}

fn sysroot_has_target() -> bool {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = Command::new(rustc).args(["--print", "sysroot"]).output() else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Path::new(&sysroot)
        .join("lib/rustlib")
        .join(TARGET)
        .exists()
}

fn ensure_target() {
    if sysroot_has_target() {
        return;
    }
    println!(
        "cargo:warning=adding the {TARGET} target with rustup (needed to build the node components)"
    );
    let added = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status();
    if !matches!(added, Ok(s) if s.success()) || !sysroot_has_target() {
        panic!(
            "the Rust target {TARGET} is not installed and `rustup target add {TARGET}` failed; \
             install it and build again"
        );
    }
}

fn build_components(components: &Path, target_dir: &Path) {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(components)
        .args(["build", "--release", "--target", TARGET, "--target-dir"])
        .arg(target_dir);
    // The outer build's flags and target are for the host, not for wasm.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    let output = cmd
        .output()
        .expect("running cargo to build the node components");
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(60).collect();
        for line in tail.into_iter().rev() {
            println!("cargo:warning={line}");
        }
        panic!("building the node components for {TARGET} failed (see the warnings above)");
    }
}
