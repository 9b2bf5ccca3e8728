//! Responses: JSON bodies, and the `Status` objects the real server answers errors with.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

/// A `meta.k8s.io` `Status` of failure.
pub(crate) fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    })
}

/// `value` as a JSON response with `code`, labelled with `content_type`.
pub(crate) fn json_response_as(code: StatusCode, value: &Value, content_type: &'static str) -> Response {
    let mut response = Response::new(Body::from(value.to_string()));
    *response.status_mut() = code;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// `value` as a 200 `application/json` response.
pub(crate) fn ok(value: &Value) -> Response {
    json_response_as(StatusCode::OK, value, "application/json")
}

/// An error response whose body is a `Status`.
pub(crate) fn error(code: StatusCode, reason: &str, message: &str) -> Response {
    json_response_as(code, &status(code.as_u16(), reason, message), "application/json")
}

pub(crate) fn not_found(message: &str) -> Response {
    error(StatusCode::NOT_FOUND, "NotFound", message)
}

pub(crate) fn bad_request(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "BadRequest", message)
}

pub(crate) fn method_not_allowed(message: &str) -> Response {
    error(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", message)
}

/// What a list or watch gets for a resourceVersion from before the last compaction.
pub(crate) fn too_old(requested: u64, oldest: u64) -> Value {
    status(410, "Expired", &format!("too old resource version: {requested} ({oldest})"))
}
