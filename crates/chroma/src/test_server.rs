//! A real Chroma server for tests (`chroma run` from the chromadb package pinned in
//! `scripts/chroma-requirements.txt`, which `scripts/setup.sh test` installs in
//! `.tools/chroma`; `FATHOM_CHROMA_PYTHON` names another Python that has it). Used by this
//! crate's tests and the core's.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    let p = std::env::var_os("FATHOM_CHROMA_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".tools/chroma/bin/python"));
    assert!(
        p.exists(),
        "{} is missing: `bash scripts/setup.sh test` installs the Chroma server",
        p.display()
    );
    p
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `port` answers an HTTP GET of `path` with 200 (the process started listening).
pub fn wait_ready(port: u16, path: &str, child: &mut Child) {
    use std::io::{Read, Write};
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the server exited before it was ready: {status}");
        }
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = write!(
                s,
                "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            );
            let mut reply = String::new();
            let _ = s.read_to_string(&mut reply);
            if reply.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the server on {port} never became ready"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `chroma run` on a port, with its data in a directory that outlives restarts.
pub struct Server {
    data: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Server {
    pub fn start(data: &Path) -> Server {
        let mut s = Server {
            data: data.to_path_buf(),
            port: free_port(),
            child: None,
        };
        s.restart();
        s
    }

    pub fn restart(&mut self) {
        let mut child = Command::new(python())
            .args([
                "-c",
                "import sys, chromadb_rust_bindings as b; b.cli(['chroma', 'run', '--path', sys.argv[1], '--port', sys.argv[2]])",
            ])
            .arg(&self.data)
            .arg(self.port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_ready(self.port, "/api/v2/heartbeat", &mut child);
        self.child = Some(child);
    }

    /// SIGKILL: the server goes away without a word.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
