//! A minimal HTTP/1.1 client over a bare `TcpStream`: it sees the bytes as they come, so a
//! test can tell a watch that ended cleanly (the chunked body's last chunk) from one whose
//! connection was cut.

use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Upper bound for anything a test waits for.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A response whose head has been read; its body is read on demand.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    reader: BufReader<TcpStream>,
    /// Decoded body bytes not yet returned as lines.
    pending: Vec<u8>,
    chunked: bool,
    /// Set once the body is over: `Some(true)` after the last chunk, `Some(false)` when the
    /// connection closed before it.
    pub clean_end: Option<bool>,
}

/// Sends `GET path` to `url` (`http://host:port`) with `accept`, and reads the head.
pub async fn get(url: &str, path: &str, accept: Option<&str>) -> Response {
    let addr = url.strip_prefix("http://").expect("an http url");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let accept = accept.map(|a| format!("Accept: {a}\r\n")).unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{accept}\r\n");
    stream.write_all(request.as_bytes()).await.expect("send request");
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    timeout(PATIENCE, reader.read_line(&mut status_line)).await.expect("head in time").expect("read status");
    let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status code");
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).await.expect("read header");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').expect("header");
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let chunked = headers.iter().any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    Response { status, headers, reader, pending: Vec::new(), chunked, clean_end: None }
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Reads more of the body into `pending`; false once the body is over.
    async fn fill(&mut self) -> bool {
        if self.clean_end.is_some() {
            return false;
        }
        if !self.chunked {
            let length = self.header("content-length").expect("chunked or sized").parse().expect("a length");
            let mut body = vec![0; length];
            self.reader.read_exact(&mut body).await.expect("read body");
            self.pending.extend(body);
            self.clean_end = Some(true);
            return true;
        }
        let mut size_line = String::new();
        let read = self.reader.read_line(&mut size_line).await.unwrap_or(0);
        if read == 0 || !size_line.ends_with('\n') {
            self.clean_end = Some(false);
            return false;
        }
        let size = usize::from_str_radix(size_line.trim(), 16).expect("chunk size");
        let mut chunk = vec![0; size + 2];
        if self.reader.read_exact(&mut chunk).await.is_err() {
            self.clean_end = Some(false);
            return false;
        }
        if size == 0 {
            self.clean_end = Some(true);
            return false;
        }
        chunk.truncate(size);
        self.pending.extend(chunk);
        true
    }

    /// The next newline-delimited JSON value of the body (a watch event), or `None` at its
    /// end. Panics after [`PATIENCE`].
    pub async fn next_json(&mut self) -> Option<Value> {
        timeout(PATIENCE, async {
            loop {
                if let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = self.pending.drain(..=end).collect();
                    return Some(serde_json::from_slice(&line).expect("a JSON line"));
                }
                if !self.fill().await {
                    assert!(self.pending.iter().all(u8::is_ascii_whitespace), "a partial line at the end");
                    return None;
                }
            }
        })
        .await
        .expect("the next event within PATIENCE")
    }

    /// The whole body as one JSON value.
    pub async fn json(mut self) -> Value {
        timeout(PATIENCE, async { while self.fill().await {} }).await.expect("the body within PATIENCE");
        serde_json::from_slice(&self.pending).expect("a JSON body")
    }
}
