//! HEC's status codes and JSON error bodies, as Splunk documents them
//! (`{"text": ..., "code": N}`, plus `invalid-event-number` for a bad event in a batch).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HecError {
    TokenRequired,
    InvalidAuthorization,
    InvalidToken,
    NoData,
    /// Malformed JSON or metadata in the event with this (0-based) number.
    InvalidFormat(usize),
    IncorrectIndex(usize),
    Internal,
    Busy,
    ChannelMissing,
    InvalidChannel,
    EventRequired(usize),
    EventBlank(usize),
    AckDisabled,
    IndexedFields(usize),
    /// An event's text is longer than `max_event_bytes` (HEC's code 6, with the event number).
    EventTooLarge(usize),
    /// The body (after gzip) is longer than `max_body_bytes`: HTTP 413.
    BodyTooLarge,
    /// The body came in slower than `[limits] min_body_rate` (listener/slow_body.rs): 408.
    SlowBody,
    /// The client went away while sending its body.
    BodyRead,
    /// Health check while the commit queue is full.
    Unhealthy,
}

impl HecError {
    /// HTTP status, HEC code, text, and the event number when one is to blame.
    pub fn parts(self) -> (StatusCode, u32, &'static str, Option<usize>) {
        use HecError::*;
        match self {
            TokenRequired => (StatusCode::UNAUTHORIZED, 2, "Token is required", None),
            InvalidAuthorization => (StatusCode::UNAUTHORIZED, 3, "Invalid authorization", None),
            InvalidToken => (StatusCode::FORBIDDEN, 4, "Invalid token", None),
            NoData => (StatusCode::BAD_REQUEST, 5, "No data", None),
            InvalidFormat(n) => (StatusCode::BAD_REQUEST, 6, "Invalid data format", Some(n)),
            IncorrectIndex(n) => (StatusCode::BAD_REQUEST, 7, "Incorrect index", Some(n)),
            Internal => (StatusCode::INTERNAL_SERVER_ERROR, 8, "Internal server error", None),
            Busy => (StatusCode::SERVICE_UNAVAILABLE, 9, "Server is busy", None),
            ChannelMissing => (StatusCode::BAD_REQUEST, 10, "Data channel is missing", None),
            InvalidChannel => (StatusCode::BAD_REQUEST, 11, "Invalid data channel", None),
            EventRequired(n) => (StatusCode::BAD_REQUEST, 12, "Event field is required", Some(n)),
            EventBlank(n) => (StatusCode::BAD_REQUEST, 13, "Event field cannot be blank", Some(n)),
            AckDisabled => (StatusCode::BAD_REQUEST, 14, "ACK is disabled", None),
            IndexedFields(n) => (StatusCode::BAD_REQUEST, 15, "Error in handling indexed fields", Some(n)),
            EventTooLarge(n) => (StatusCode::BAD_REQUEST, 6, "Invalid data format: event larger than max_event_bytes", Some(n)),
            BodyTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, 6, "Request body larger than max_body_bytes", None),
            // HEC has no code for these; Splunk closes such connections without an answer.
            SlowBody => (StatusCode::REQUEST_TIMEOUT, 8, "Request body came in slower than min_body_rate", None),
            BodyRead => (StatusCode::BAD_REQUEST, 6, "Request body could not be read", None),
            Unhealthy => (StatusCode::SERVICE_UNAVAILABLE, 18, "HEC is unhealthy, queues are full", None),
        }
    }
}

impl IntoResponse for HecError {
    fn into_response(self) -> Response {
        let (status, code, text, event) = self.parts();
        crate::metrics::global().hec_error(code);
        let body = match event {
            Some(n) => json!({"text": text, "code": code, "invalid-event-number": n}),
            None => json!({"text": text, "code": code}),
        };
        (status, Json(body)).into_response()
    }
}
