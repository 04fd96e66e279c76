//! A throw-away PostgreSQL for tests: `initdb` + `pg_ctl` in a temporary folder on a free
//! loopback port, stopped and removed when dropped; or the server `PSAFLOW_TEST_DATABASE_URL`
//! names. Each [`TestCluster::fresh_database`] is a new, empty database, so tests never see
//! each other's rows.
//!
//! The binaries are found on `PATH`, else under `/usr/lib/postgresql/<version>/bin` (where
//! Debian's `postgresql` package puts them). `initdb` refuses to run as root, so as root the
//! cluster runs as the `postgres` user (which that package creates) through `runuser`.
//!
//! Without PostgreSQL, [`TestCluster::start_or_skip`] says why and returns `None`, so the
//! test passes without checking anything, unless `PSAFLOW_REQUIRE_POSTGRES=1` (CI), where
//! it fails with the reason.
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Use this server instead of starting one (`postgres://user:password@host:port/postgres`);
/// the user must be allowed to create databases.
pub const ENV_TEST_DATABASE_URL: &str = "PSAFLOW_TEST_DATABASE_URL";
/// `1`: a test that finds no PostgreSQL fails instead of skipping.
pub const ENV_REQUIRE_POSTGRES: &str = "PSAFLOW_REQUIRE_POSTGRES";

/// A PostgreSQL server for one test run: a throw-away cluster started with `initdb`/`pg_ctl`
/// (stopped and deleted on drop), or the server `PSAFLOW_TEST_DATABASE_URL` names.
pub struct TestCluster {
    /// URL of the maintenance database, for creating test databases.
    admin_url: String,
    /// The cluster this value started (none with `PSAFLOW_TEST_DATABASE_URL`).
    owned: Option<Owned>,
}

struct Owned {
    dir: PathBuf,
    pg_ctl: PathBuf,
    run_as: Option<String>,
}

impl TestCluster {
    /// A server for tests, or `None` (with the reason on stderr) when there is none and
    /// `PSAFLOW_REQUIRE_POSTGRES` is not `1`.
    pub fn start_or_skip(test: &str) -> Option<TestCluster> {
        match TestCluster::start() {
            Ok(cluster) => Some(cluster),
            Err(reason) if std::env::var(ENV_REQUIRE_POSTGRES).as_deref() == Ok("1") => {
                panic!("{test}: PostgreSQL is required ({ENV_REQUIRE_POSTGRES}=1) but {reason}")
            }
            Err(reason) => {
                eprintln!(
                    "{test}: SKIPPED, nothing was checked: {reason}. Install PostgreSQL (Debian: \
                     apt-get install postgresql) or set {ENV_TEST_DATABASE_URL}"
                );
                None
            }
        }
    }

    /// Uses `PSAFLOW_TEST_DATABASE_URL`, else starts a cluster; `Err` says why neither works.
    pub fn start() -> Result<TestCluster, String> {
        if let Ok(url) = std::env::var(ENV_TEST_DATABASE_URL)
            && !url.is_empty()
        {
            return Ok(TestCluster {
                admin_url: url,
                owned: None,
            });
        }
        let bin = find_bin_dir().ok_or_else(|| {
            "no PostgreSQL found: neither initdb on PATH nor /usr/lib/postgresql/*/bin/initdb"
                .to_string()
        })?;
        let run_as = if is_root() {
            Some("postgres".to_string())
        } else {
            None
        };
        let dir = std::env::temp_dir().join(format!("psaflow-pg-{}", crate::new_id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let mut cluster = TestCluster {
            admin_url: String::new(),
            owned: Some(Owned {
                dir: dir.clone(),
                pg_ctl: bin.join("pg_ctl"),
                run_as: run_as.clone(),
            }),
        };
        if let Some(user) = &run_as {
            let status = Command::new("chown")
                .args([user.as_str(), dir.to_str().unwrap_or_default()])
                .status()
                .map_err(|e| format!("cannot run chown: {e}"))?;
            if !status.success() {
                return Err(format!(
                    "running as root, the cluster must belong to the '{user}' user, and chown failed \
                     (does the user exist? Debian's postgresql package creates it)"
                ));
            }
        }
        let data = dir.join("data");
        run(
            run_as.as_deref(),
            &bin.join("initdb"),
            &[
                "-D",
                path_str(&data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        )?;
        let port = free_port()?;
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections=200",
            path_str(&dir)
        );
        run(
            run_as.as_deref(),
            &bin.join("pg_ctl"),
            &[
                "-D",
                path_str(&data),
                "-o",
                &options,
                "-l",
                path_str(&dir.join("log")),
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
        .map_err(|e| {
            let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
            format!("{e}\n{log}")
        })?;
        cluster.admin_url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        Ok(cluster)
    }

    /// A new empty database on the server, as a URL.
    pub fn fresh_database(&self) -> String {
        let name = format!("psaflow_test_{}", crate::new_id().to_ascii_lowercase());
        let admin = self.admin_url.clone();
        let create = name.clone();
        crate::pg::off_runtime(move || {
            let mut client = postgres::Client::connect(&admin, postgres::NoTls)
                .unwrap_or_else(|e| panic!("connecting to the test server {admin}: {e}"));
            client
                .batch_execute(&format!("CREATE DATABASE {create}"))
                .unwrap_or_else(|e| panic!("creating a test database: {e}"));
        });
        replace_database(&self.admin_url, &name)
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if let Some(owned) = &self.owned {
            let data = owned.dir.join("data");
            let _ = run(
                owned.run_as.as_deref(),
                &owned.pg_ctl,
                &["-D", path_str(&data), "-m", "immediate", "-w", "stop"],
            );
            let _ = std::fs::remove_dir_all(&owned.dir);
        }
    }
}

/// The URL with its database name replaced.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

fn is_root() -> bool {
    // The owner of /proc/self is the process's effective user.
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
    }
    #[cfg(not(unix))]
    {
        false
    }
}

fn find_bin_dir() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let initdb = dir.join("initdb");
            if initdb.is_file() {
                // PATH may hold a symlink to the versioned folder; pg_ctl is beside the target.
                let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
                return real.parent().map(Path::to_path_buf);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free loopback port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

fn run(user: Option<&str>, program: &Path, args: &[&str]) -> Result<(), String> {
    let mut cmd = match user {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--"]).arg(program);
            c
        }
        None => Command::new(program),
    };
    cmd.args(args)
        .stdin(Stdio::null())
        .current_dir(std::env::temp_dir());
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} {} failed: {}{}",
            program.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_replaced_in_urls() {
        assert_eq!(
            replace_database("postgres://u:p@h:5/postgres", "t1"),
            "postgres://u:p@h:5/t1"
        );
        assert_eq!(
            replace_database("postgres://u@h:5/postgres?sslmode=disable", "t1"),
            "postgres://u@h:5/t1?sslmode=disable"
        );
        assert_eq!(replace_database("postgres://h", "t1"), "postgres://h/t1");
    }
}
