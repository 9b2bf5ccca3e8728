//! A NATS cluster with JetStream on 127.0.0.1, one `nats-server` process per node (from
//! `$GRAPHD_NATS_SERVER`, or `.venv/bin/nats-server`, which `./scripts/setup-venv` installs).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct NatsCluster {
    dir: tempfile::TempDir,
    nodes: Vec<Node>,
}

#[derive(Debug)]
struct Node {
    port: u16,
    cluster_port: u16,
    process: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("GRAPHD_NATS_SERVER") {
        return PathBuf::from(path);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/nats-server");
    assert!(venv.exists(), "nats-server is not installed: run ./scripts/setup-venv (or set GRAPHD_NATS_SERVER)");
    venv
}

impl NatsCluster {
    /// `size` nodes, each with JetStream, routed to each other.
    pub fn start(size: usize) -> NatsCluster {
        let nodes = (0..size).map(|_| Node { port: free_port(), cluster_port: free_port(), process: None }).collect();
        let mut cluster = NatsCluster { dir: tempfile::tempdir().unwrap(), nodes };
        for i in 0..size {
            cluster.restart(i);
        }
        cluster
    }

    /// The client URLs of every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| format!("nats://127.0.0.1:{}", n.port)).collect()
    }

    /// Kills node `i` at once (SIGKILL).
    pub fn kill(&mut self, i: usize) {
        if let Some(mut process) = self.nodes[i].process.take() {
            process.kill().unwrap();
            process.wait().unwrap();
        }
    }

    /// Starts node `i` (again), on its ports and with its store.
    pub fn restart(&mut self, i: usize) {
        let routes: Vec<String> = self.nodes.iter().map(|n| format!("nats://127.0.0.1:{}", n.cluster_port)).collect();
        let node = &self.nodes[i];
        let store = self.dir.path().join(format!("n{i}"));
        let log = std::fs::File::create(self.dir.path().join(format!("n{i}.log"))).unwrap();
        let process = Command::new(binary())
            .args(["-js", "-sd", store.to_str().unwrap(), "-a", "127.0.0.1", "-p", &node.port.to_string()])
            .args(["-n", &format!("n{i}"), "--cluster_name", "graphd"])
            .args(["--cluster", &format!("nats://127.0.0.1:{}", node.cluster_port)])
            .args(["--routes", &routes.join(",")])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start nats-server");
        self.nodes[i].process = Some(process);
        self.await_clients(i);
    }

    /// Waits until node `i` accepts client connections: a client that connects before then is
    /// refused, not kept waiting.
    fn await_clients(&mut self, i: usize) {
        let started = Instant::now();
        let address = ("127.0.0.1", self.nodes[i].port);
        while TcpStream::connect(address).is_err() {
            let log = self.dir.path().join(format!("n{i}.log"));
            if let Some(status) = self.nodes[i].process.as_mut().and_then(|p| p.try_wait().unwrap()) {
                panic!("nats-server n{i} exited ({status}):\n{}", std::fs::read_to_string(log).unwrap_or_default());
            }
            assert!(started.elapsed() < Duration::from_secs(30), "nats-server n{i} never listened on {}", address.1);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}
