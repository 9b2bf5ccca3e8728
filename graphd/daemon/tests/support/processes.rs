//! `graphd serve` and `graphd agent` as processes, for the agent and replication tests.

use graphd_kube_testserver::TestApiServer;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Stdio};

/// A child process killed when the test ends, however it ends.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `graphd ARGS` (a `serve`), logging to `log`; its address once it listens.
pub fn serve(args: &[&str], log: &Path) -> (Running, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_graphd"))
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("start graphd serve");
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut first).unwrap();
    let addr = first.trim().strip_prefix("graphd listening on ").unwrap_or_else(|| panic!("{first}")).to_owned();
    (Running(child), addr)
}

/// `graphd agent` named `name`, scraping `server` as `cluster`, sending to `destination` (its
/// config's `central:` or `stream:` lines, and any other); its config, data and `name.log`
/// in `dir`.
pub fn agent(dir: &Path, name: &str, server: &TestApiServer, cluster: &str, destination: &str) -> Running {
    let kubeconfig = dir.join(format!("{name}.kubeconfig"));
    std::fs::write(&kubeconfig, server.kubeconfig(cluster)).unwrap();
    let config = dir.join(format!("{name}.yaml"));
    let yaml = format!(
        "name: {name}\ndata_dir: {}\nretry_max_secs: 1\n{destination}\
         scrapers:\n  kubernetes:\n    - {{name: {cluster}, kubeconfig: {}, context: {cluster}, page_size: 50}}\n",
        dir.join(format!("{name}-data")).display(),
        kubeconfig.display()
    );
    std::fs::write(&config, yaml).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_graphd"))
        .args(["agent", "--config", config.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("{name}.log"))).unwrap())
        .spawn()
        .expect("start graphd agent");
    Running(child)
}

/// The last `lines` lines of the logs `names` in `dir`, each under its name.
pub fn logs(dir: &Path, names: &[&str], lines: usize) -> String {
    let mut all = String::new();
    for name in names {
        let text = std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(lines).collect();
        all.push_str(&format!("---- {name}\n{}\n", tail.into_iter().rev().collect::<Vec<_>>().join("\n")));
    }
    all
}

/// A running Pod of the k3s snapshot's `default` namespace, on its Node.
pub fn pod(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"), "labels": {"app": "backend-api"}},
        "spec": {"nodeName": "c9b7eea91", "serviceAccountName": "default", "containers": [{"name": "c", "image": "nginx:1"}]},
        "status": {"phase": "Running"}
    })
}
