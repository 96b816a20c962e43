//! nginx: the peer for http-hello, run as it is installed (`nginx` on
//! `PATH`), with a configuration written for the run into a temporary
//! directory: two worker processes, `return 200 "Hello, World!"`.
//!
//! The configuration is the workload's reference one, plus the paths nginx
//! would otherwise take from its build (temporary files, the pid file) moved
//! into the run's directory, so it starts as any user and leaves nothing
//! behind. The exact text is reported with the figures (`config`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{json, Map};

use super::Started;

/// Worker processes, as in the peer figures.
pub const WORKERS: usize = 2;

/// The configuration for one run, serving on 127.0.0.1:port, with its
/// files in `dir`.
pub fn config(dir: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        "worker_processes {WORKERS};
daemon off;
error_log stderr;
pid {d}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location = / {{
            default_type text/plain;
            return 200 \"Hello, World!\";
        }}
    }}
}}
"
    )
}

/// A fresh directory for one run.
fn run_dir() -> Result<PathBuf, String> {
    static RUNS: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "motet-lab-nginx-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir_all(&dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
    Ok(dir)
}

/// Starts nginx serving http-hello on 127.0.0.1:port (in the foreground:
/// `daemon off`, so the child is the master process).
pub fn start(port: u16) -> Result<Started, String> {
    let dir = run_dir()?;
    let text = config(&dir, port);
    let conf = dir.join("nginx.conf");
    fs::write(&conf, &text).map_err(|e| format!("cannot write {}: {e}", conf.display()))?;
    let child = Command::new("nginx")
        // -e: the error log before the configuration is read (1.19.5+).
        .args(["-e", "stderr", "-p"])
        .arg(&dir)
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            let _ = fs::remove_dir_all(&dir);
            if e.kind() == std::io::ErrorKind::NotFound {
                "nginx not installed".to_string()
            } else {
                format!("cannot start nginx: {e}")
            }
        })?;
    let mut extra = Map::new();
    extra.insert("config".into(), json!(text));
    Ok(Started {
        child,
        threads: WORKERS,
        extra,
        cleanup: Box::new(move || {
            let _ = fs::remove_dir_all(&dir);
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_has_the_reference_directives() {
        let text = config(Path::new("/tmp/x"), 8080);
        for line in [
            "worker_processes 2;",
            "daemon off;",
            "error_log stderr;",
            "pid /tmp/x/nginx.pid;",
            "events { worker_connections 1024; }",
            "access_log off;",
            "listen 127.0.0.1:8080;",
            "default_type text/plain;",
            "return 200 \"Hello, World!\";",
        ] {
            assert!(text.contains(line), "{line} not in:\n{text}");
        }
    }
}
