//! Slow request bodies (slowloris on the body): a body must keep a minimum pace, or reading
//! it fails with [`TooSlow`] and the connection is closed after the answer.
//!
//! The pace: from the first read, a body gets `grace` plus one second per `min_rate` bytes
//! received so far. A fast sender is never near the line; a client trickling bytes falls
//! behind it within `grace` of its last burst, however large its declared length.
//!
//! A rate, not tower-http's `RequestBodyTimeout` (one deadline for the whole body): a total
//! deadline short enough to stop a trickle would cut off an honest 16 MiB body on a slow link.

use axum::body::Body;
use futures_util::StreamExt;
use http_body::Body as _;
use hyper::body::Incoming;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub grace: Duration,
    /// Bytes per second, at least 1.
    pub min_rate: u64,
}

impl Pace {
    /// When a body that started at `start` and has given `received` bytes must give more.
    fn deadline(&self, start: Instant, received: u64) -> Instant {
        start + self.grace + Duration::from_secs_f64(received as f64 / self.min_rate.max(1) as f64)
    }
}

/// The error a body read gives when the client fell behind the pace.
#[derive(Debug)]
pub struct TooSlow;

impl std::fmt::Display for TooSlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("request body came in slower than the minimum rate")
    }
}

impl std::error::Error for TooSlow {}

/// Whether a body read failed because the body was too slow.
pub fn is_too_slow(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if c.is::<TooSlow>() {
            return true;
        }
        cur = c.source();
    }
    false
}

/// `body`, failing with [`TooSlow`] when it falls behind `pace` (counted in /metrics).
pub fn guard(body: Incoming, pace: Pace) -> Body {
    if body.is_end_stream() {
        return Body::new(body);
    }
    let chunks = Body::new(body).into_data_stream();
    // (chunks, when the first read happened, bytes so far, failed)
    let state = (chunks, None::<Instant>, 0u64, false);
    Body::from_stream(futures_util::stream::unfold(state, move |(mut chunks, start, received, failed)| async move {
        if failed {
            return None;
        }
        let start = start.unwrap_or_else(Instant::now);
        match tokio::time::timeout_at(pace.deadline(start, received), chunks.next()).await {
            Ok(Some(Ok(data))) => {
                let n = data.len() as u64;
                Some((Ok(data), (chunks, Some(start), received + n, false)))
            }
            Ok(Some(Err(e))) => Some((Err(axum::BoxError::from(e)), (chunks, Some(start), received, true))),
            Ok(None) => None,
            Err(_) => {
                crate::metrics::global().connection_dropped("slow_body");
                Some((Err(axum::BoxError::from(TooSlow)), (chunks, Some(start), received, true)))
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_grows_with_the_bytes_received() {
        let pace = Pace { grace: Duration::from_secs(10), min_rate: 1000 };
        let t = Instant::now();
        assert_eq!(pace.deadline(t, 0), t + Duration::from_secs(10));
        assert_eq!(pace.deadline(t, 5000), t + Duration::from_secs(15));
    }

    #[test]
    fn too_slow_is_found_through_wrapping_errors() {
        let wrapped = axum::Error::new(axum::Error::new(TooSlow));
        assert!(is_too_slow(&wrapped));
        assert!(!is_too_slow(&axum::Error::new(std::io::Error::other("reset"))));
    }
}
