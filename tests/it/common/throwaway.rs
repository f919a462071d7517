//! Database servers of a test's own, to stop and start as an operator would (`pg_ctl stop -m
//! fast`, `mariadb-admin shutdown`) without touching the shared servers other tests use.
//!
//! Each server lives in a temporary directory, listens on a free loopback port, and is stopped
//! and removed when dropped. `None` (reported as skipped) when the server binaries are missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (bound, read, released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Whether this process runs as root (server binaries refuse root, or need to be told).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs `program args` (as `user` when we are root), waiting for it; panics with its output on
/// failure.
fn run_as(user: Option<&str>, program: &Path, args: &[&str]) {
    let mut command = match user {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--"]).arg(program);
            c
        }
        None => Command::new(program),
    };
    let output = command
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    assert!(
        output.status.success(),
        "{} {args:?} failed:\n{}{}",
        program.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A PostgreSQL cluster made by `initdb`, run by `pg_ctl`.
pub struct ThrowawayPostgres {
    pub port: u16,
    bin: PathBuf,
    data: PathBuf,
    user: Option<&'static str>,
    _dir: tempfile::TempDir,
}

impl ThrowawayPostgres {
    /// A new cluster, started; None when PostgreSQL's server binaries are not installed.
    pub fn start(test: &str) -> Option<ThrowawayPostgres> {
        let Some(bin) = postgres_bin() else {
            eprintln!("SKIPPED {test}: no initdb/pg_ctl under /usr/lib/postgresql");
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        // PostgreSQL refuses to run as root: the cluster belongs to `postgres` then.
        let user = is_root().then_some("postgres");
        if user.is_some() {
            run_as(
                None,
                Path::new("chown"),
                &["postgres", dir.path().to_str().expect("utf-8 temp path")],
            );
        }
        let data = dir.path().join("data");
        let data_arg = data.to_str().expect("utf-8 temp path");
        run_as(
            user,
            &bin.join("initdb"),
            &[
                "-D",
                data_arg,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        let cluster = ThrowawayPostgres {
            port: free_port(),
            bin,
            data,
            user,
            _dir: dir,
        };
        cluster.pg_ctl_start();
        Some(cluster)
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn pg_ctl_start(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off",
            self.port
        );
        let log = self.data.with_file_name("server.log");
        run_as(
            self.user,
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                self.data.to_str().expect("utf-8"),
                "-o",
                &options,
                "-l",
                log.to_str().expect("utf-8"),
                "-w",
                "start",
            ],
        );
    }

    /// A hot standby of this cluster, started: `pg_basebackup -R` (streaming replication,
    /// `standby.signal` and the primary's address written for it), on a port of its own.
    /// initdb's defaults allow it: `wal_level = replica`, WAL senders, and trusted
    /// replication connections from 127.0.0.1.
    pub fn standby(&self) -> ThrowawayPostgres {
        let dir = tempfile::tempdir().expect("temp dir");
        if self.user.is_some() {
            run_as(
                None,
                Path::new("chown"),
                &["postgres", dir.path().to_str().expect("utf-8 temp path")],
            );
        }
        let data = dir.path().join("data");
        let port = self.port.to_string();
        run_as(
            self.user,
            &self.bin.join("pg_basebackup"),
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-D",
                data.to_str().expect("utf-8 temp path"),
                "-R",
                "-X",
                "stream",
                "--no-sync",
            ],
        );
        let standby = ThrowawayPostgres {
            port: free_port(),
            bin: self.bin.clone(),
            data,
            user: self.user,
            _dir: dir,
        };
        standby.pg_ctl_start();
        standby
    }

    /// `pg_ctl start`: back on the same port.
    pub fn start_again(&self) {
        self.pg_ctl_start();
    }

    /// `pg_ctl stop -m immediate`: every server process quits at once, without a checkpoint,
    /// as in a crash (the next start recovers from the WAL).
    pub fn stop_immediate(&self) {
        self.pg_ctl_stop("immediate");
    }

    /// `pg_ctl stop -m fast`, the normal way an operator restarts PostgreSQL: open sessions get
    /// `57P01 admin_shutdown`, then connections are refused.
    pub fn stop_fast(&self) {
        self.pg_ctl_stop("fast");
    }

    fn pg_ctl_stop(&self, mode: &str) {
        run_as(
            self.user,
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                self.data.to_str().expect("utf-8"),
                "-m",
                mode,
                "-w",
                "stop",
            ],
        );
    }
}

impl Drop for ThrowawayPostgres {
    fn drop(&mut self) {
        let mut command = match self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(self.bin.join("pg_ctl"));
                c
            }
            None => Command::new(self.bin.join("pg_ctl")),
        };
        let _ = command
            .args([
                "-D",
                self.data.to_str().unwrap_or_default(),
                "-m",
                "immediate",
                "stop",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The newest `/usr/lib/postgresql/*/bin` holding `initdb` and `pg_ctl`.
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions.pop()
}

/// A MariaDB server on a datadir of its own, made by `mariadb-install-db`.
pub struct ThrowawayMariaDb {
    pub port: u16,
    dir: tempfile::TempDir,
    server: Option<std::process::Child>,
}

impl ThrowawayMariaDb {
    /// A new server, started; None when MariaDB's server binaries are not installed.
    pub fn start(test: &str) -> Option<ThrowawayMariaDb> {
        let install = which("mariadb-install-db")?;
        if which_sbin("mariadbd").is_none() {
            eprintln!("SKIPPED {test}: no mariadbd");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        run_as(
            None,
            &install,
            &[
                "--no-defaults",
                &format!("--datadir={}", data.display()),
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
            ],
        );
        let mut server = ThrowawayMariaDb {
            port: free_port(),
            dir,
            server: None,
        };
        server.start_again();
        // A database of its own: the `mysql` system schema takes no triggers (the change
        // feed's).
        let client = which("mariadb")
            .or_else(|| which("mysql"))
            .expect("mariadb client");
        let created = Command::new(client)
            .args([
                "-uroot",
                &format!("--socket={}", server.socket().display()),
                "-e",
                "CREATE DATABASE IF NOT EXISTS gateway",
            ])
            .status()
            .expect("mariadb client runs");
        assert!(created.success(), "CREATE DATABASE gateway");
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/gateway", self.port)
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("mysqld.sock")
    }

    /// Starts the server on the same datadir and port, waiting until it answers.
    pub fn start_again(&mut self) {
        let mariadbd = which_sbin("mariadbd").expect("mariadbd");
        let data = self.dir.path().join("data");
        let child = Command::new(mariadbd)
            .args([
                "--no-defaults",
                &format!("--datadir={}", data.display()),
                &format!("--socket={}", self.socket().display()),
                &format!("--port={}", self.port),
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-grant-tables",
                "--innodb-buffer-pool-size=16M",
                "--innodb-log-file-size=8M",
                &format!(
                    "--pid-file={}",
                    self.dir.path().join("mysqld.pid").display()
                ),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mariadbd");
        self.server = Some(child);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("mariadbd did not start within 60 s");
    }

    /// `mariadb-admin shutdown`, waiting until the server has exited.
    pub fn shutdown(&mut self) {
        let admin = which("mariadb-admin")
            .or_else(|| which("mysqladmin"))
            .expect("mariadb-admin");
        let socket = format!("--socket={}", self.socket().display());
        run_as(
            None,
            &admin,
            &["--no-defaults", &socket, "-uroot", "shutdown"],
        );
        if let Some(mut child) = self.server.take() {
            let _ = child.wait();
        }
    }
}

impl Drop for ThrowawayMariaDb {
    fn drop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn which(program: &str) -> Option<PathBuf> {
    ["/usr/bin", "/usr/local/bin", "/bin"]
        .iter()
        .map(|dir| Path::new(dir).join(program))
        .find(|path| path.exists())
}

fn which_sbin(program: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/local/sbin", "/usr/bin"]
        .iter()
        .map(|dir| Path::new(dir).join(program))
        .find(|path| path.exists())
}
