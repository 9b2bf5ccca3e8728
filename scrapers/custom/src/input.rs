//! Reading a source's documents: files of a folder, an HTTP endpoint, a command's output.

use crate::config::{CommandInput, FilesInput, HttpInput, Input};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// What one reading of a source gave: its documents, each with where it came from, and the
/// parts that could not be read (the listing is then incomplete).
#[derive(Debug, Default)]
pub struct Reading {
    pub documents: Vec<(String, Value)>,
    pub failures: Vec<String>,
}

impl Reading {
    fn failed(failure: String) -> Self {
        Reading { documents: Vec::new(), failures: vec![failure] }
    }

    fn parsed(&mut self, origin: String, text: &str) {
        match parse_documents(text) {
            Ok(documents) => self.documents.extend(documents.into_iter().map(|d| (origin.clone(), d))),
            Err(e) => self.failures.push(format!("{origin}: {e}")),
        }
    }
}

/// Reads every document of `input` now.
pub async fn read(input: &Input, http: &HttpClient) -> Reading {
    match input {
        Input::Files(files) => read_files(files).await,
        Input::Http(endpoint) => match http.get(endpoint).await {
            Ok(text) => {
                let mut reading = Reading::default();
                reading.parsed(endpoint.url.clone(), &text);
                reading
            }
            Err(e) => Reading::failed(format!("GET {}: {e}", endpoint.url)),
        },
        Input::Command(command) => match run(command).await {
            Ok(text) => {
                let mut reading = Reading::default();
                reading.parsed(command.run.join(" "), &text);
                reading
            }
            Err(e) => Reading::failed(format!("{}: {e}", command.run.join(" "))),
        },
    }
}

/// JSON, or YAML (several documents apart by `---`). Empty YAML documents are skipped.
pub fn parse_documents(text: &str) -> Result<Vec<Value>, String> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return serde_json::from_str(text).map(|v| vec![v]).map_err(|e| format!("not JSON: {e}"));
    }
    let mut documents = Vec::new();
    for document in serde_yaml::Deserializer::from_str(text) {
        let value = Value::deserialize(document).map_err(|e| format!("not JSON or YAML: {e}"))?;
        if !value.is_null() {
            documents.push(value);
        }
    }
    Ok(documents)
}

// ---- files ------------------------------------------------------------------------------------

/// The files a files input reads, in name order.
fn files_of(input: &FilesInput) -> std::io::Result<Vec<PathBuf>> {
    if !input.path.is_dir() {
        std::fs::metadata(&input.path)?;
        return Ok(vec![input.path.clone()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&input.path)? {
        let path = entry?.path();
        let wanted = path.extension().and_then(|e| e.to_str()).is_some_and(|e| ["json", "yaml", "yml"].contains(&e));
        // Hidden files are editors' and tools' temporaries (`.catalog.yaml.swp`, `..data`).
        let hidden = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
        if wanted && !hidden && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// What changes when a file of the input is added, removed, rewritten or touched.
pub fn files_state(input: &FilesInput) -> Vec<(PathBuf, Option<SystemTime>, u64)> {
    let Ok(files) = files_of(input) else { return Vec::new() };
    files
        .into_iter()
        .map(|path| {
            let meta = std::fs::metadata(&path).ok();
            let modified = meta.as_ref().and_then(|m| m.modified().ok());
            let len = meta.map(|m| m.len()).unwrap_or(0);
            (path, modified, len)
        })
        .collect()
}

async fn read_files(input: &FilesInput) -> Reading {
    let files = match files_of(input) {
        Ok(files) => files,
        Err(e) => return Reading::failed(format!("{}: {e}", input.path.display())),
    };
    let mut reading = Reading::default();
    for path in files {
        match tokio::fs::read_to_string(&path).await {
            Ok(text) => reading.parsed(display(&path), &text),
            Err(e) => reading.failures.push(format!("{}: {e}", path.display())),
        }
    }
    reading
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

// ---- HTTP -------------------------------------------------------------------------------------

type Connector = hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;

/// One HTTP(S) client for every endpoint of a source.
#[derive(Clone)]
pub struct HttpClient {
    client: hyper_util::client::legacy::Client<Connector, Empty<Bytes>>,
}

impl HttpClient {
    /// A client trusting the system's root certificates, TLS by rustls on ring.
    pub fn new() -> Result<Self, String> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .map_err(|e| format!("cannot load the system's root certificates: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
        Ok(HttpClient { client })
    }

    async fn get(&self, endpoint: &HttpInput) -> Result<String, String> {
        let mut request = http::Request::get(&endpoint.url);
        for (name, value) in &endpoint.headers {
            request = request.header(name, value);
        }
        if let Some(variable) = &endpoint.bearer_token_env {
            let token = std::env::var(variable).map_err(|_| format!("bearer_token_env {variable} is not set"))?;
            request = request.header(http::header::AUTHORIZATION, format!("Bearer {}", token.trim()));
        }
        let request = request.body(Empty::new()).map_err(|e| format!("bad request: {e}"))?;
        let timeout = Duration::from_secs(endpoint.timeout_secs.max(1));
        let answered = async {
            let response = self.client.request(request).await.map_err(|e| error_chain(&e))?;
            let status = response.status();
            let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
            if !status.is_success() {
                let said = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
                return Err(format!("{status}: {said}"));
            }
            String::from_utf8(body.to_vec()).map_err(|_| "the answer is not UTF-8".to_string())
        };
        tokio::time::timeout(timeout, answered).await.map_err(|_| format!("no answer within {timeout:?}"))?
    }
}

/// An error with its causes: hyper's own message alone says only "client error (Connect)".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

// ---- commands ---------------------------------------------------------------------------------

async fn run(command: &CommandInput) -> Result<String, String> {
    let (program, args) = command.run.split_first().ok_or("no program to run")?;
    let child =
        tokio::process::Command::new(program).args(args).stdin(std::process::Stdio::null()).kill_on_drop(true).output();
    let timeout = Duration::from_secs(command.timeout_secs.max(1));
    let output = tokio::time::timeout(timeout, child)
        .await
        .map_err(|_| format!("did not finish within {timeout:?} (killed)"))?
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: String = stderr.trim().chars().rev().take(300).collect::<Vec<_>>().into_iter().rev().collect();
        return Err(format!("{}: {tail}", output.status));
    }
    String::from_utf8(output.stdout).map_err(|_| "its output is not UTF-8".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_json_and_multi_document_yaml() {
        assert_eq!(parse_documents("[1, 2]").unwrap(), vec![serde_json::json!([1, 2])]);
        let yaml = parse_documents("id: a\n---\n---\nid: b\n").unwrap();
        assert_eq!(yaml, vec![serde_json::json!({"id": "a"}), serde_json::json!({"id": "b"})]);
        assert!(parse_documents("{\"id\": ").unwrap_err().starts_with("not JSON"));
        assert!(parse_documents("id: [a\n").unwrap_err().starts_with("not JSON or YAML"));
    }
}
