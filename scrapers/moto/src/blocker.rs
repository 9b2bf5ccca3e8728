//! A proxy in front of moto that refuses the calls signed for chosen regions, the way AWS
//! answers a region the caller may not use; every other call goes through unchanged.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Clone)]
struct Upstream {
    addr: SocketAddr,
    blocked: Arc<Mutex<HashSet<String>>>,
}

/// The proxy; it stops with the runtime that started it.
#[derive(Debug)]
pub struct RegionBlocker {
    pub addr: SocketAddr,
    blocked: Arc<Mutex<HashSet<String>>>,
}

impl RegionBlocker {
    /// Starts a proxy to `upstream` on a free port of 127.0.0.1, blocking nothing yet.
    pub async fn start(upstream: SocketAddr) -> RegionBlocker {
        let blocked = Arc::new(Mutex::new(HashSet::new()));
        let state = Upstream { addr: upstream, blocked: Arc::clone(&blocked) };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let addr = listener.local_addr().expect("a bound listener has an address");
        let app = axum::Router::new().fallback(forward).with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await });
        RegionBlocker { addr, blocked }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// From now on, every call signed for `region` is refused.
    pub fn block(&self, region: &str) {
        self.blocked.lock().expect("not poisoned").insert(region.to_owned());
    }
}

/// The region a SigV4-signed request is for: `Credential=KEY/DATE/REGION/SERVICE/aws4_request`.
pub fn signed_region(headers: &HeaderMap) -> Option<String> {
    let authorization = headers.get("authorization")?.to_str().ok()?;
    let credential = authorization.split("Credential=").nth(1)?;
    Some(credential.split('/').nth(2)?.to_owned())
}

async fn forward(State(upstream): State<Upstream>, request: Request) -> Response {
    if let Some(region) = signed_region(request.headers()) {
        if upstream.blocked.lock().expect("not poisoned").contains(&region) {
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>UnauthorizedOperation</Code>\
                 <Message>You are not authorized to perform this operation in {region}.</Message></Error></Errors>\
                 <RequestID>blocked</RequestID></Response>"
            );
            return (StatusCode::FORBIDDEN, body).into_response();
        }
    }
    match relay(upstream.addr, request).await {
        Ok(response) => response,
        Err(error) => (StatusCode::BAD_GATEWAY, format!("moto: {error}")).into_response(),
    }
}

/// Sends `request` to `addr` over a connection of its own and reads the whole answer.
async fn relay(addr: SocketAddr, request: Request) -> std::io::Result<Response> {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, usize::MAX).await.map_err(std::io::Error::other)?;
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut head = format!("{} {path} HTTP/1.1\r\n", parts.method);
    for (name, value) in &parts.headers {
        if !matches!(name.as_str(), "connection" | "content-length" | "transfer-encoding") {
            head.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap_or_default()));
        }
    }
    head.push_str(&format!("connection: close\r\ncontent-length: {}\r\n\r\n", body.len()));
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&body).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    parse_response(&answer).ok_or_else(|| std::io::Error::other("an HTTP answer that cannot be read"))
}

fn parse_response(answer: &[u8]) -> Option<Response> {
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&answer[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut response = Response::builder().status(status);
    let mut chunked = false;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        match name.as_str() {
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "connection" | "content-length" => {}
            _ => {
                response = response.header(HeaderName::try_from(name).ok()?, HeaderValue::from_str(value).ok()?);
            }
        }
    }
    let body = &answer[end + 4..];
    let body = if chunked { dechunk(body)? } else { body.to_vec() };
    response.body(Body::from(body)).ok()
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(std::str::from_utf8(&body[..line_end]).ok()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        let start = line_end + 2;
        out.extend_from_slice(body.get(start..start + size)?);
        body = body.get(start + size + 2..)?;
    }
}
