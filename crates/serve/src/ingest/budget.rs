//! The in-flight body byte budget: HEC request bodies held in memory across all requests, from
//! the first byte read until their events are durable, stay under `max_inflight_body_bytes`.
//! A request that would go past it gets 503 "Server is busy" (HEC code 9), before its body is
//! read when it declares its length, so a flood of large bodies cannot grow memory without
//! bound; senders retry as they do for a full queue.
//!
//! A semaphore of bytes (Tokio's): a request takes permits as bytes come in (its declared
//! length at once, gunzipped bytes as they are inflated) and gives them back when dropped.
//! Parsed events are about as large as the body again and are not counted separately: the
//! budget is a bound on request memory, not an exact account.

use super::HecError;
use crate::listener::slow_body;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};
use futures_util::StreamExt;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct Budget {
    bytes: Arc<Semaphore>,
}

/// Bytes taken from the budget; given back when dropped.
pub struct Held {
    budget: Arc<Semaphore>,
    permit: Option<OwnedSemaphorePermit>,
}

impl Budget {
    pub fn new(max_bytes: usize) -> Budget {
        Budget { bytes: Arc::new(Semaphore::new(max_bytes.min(Semaphore::MAX_PERMITS))) }
    }

    /// Takes `n` bytes, or says the server is busy.
    pub fn hold(&self, n: usize) -> Result<Held, HecError> {
        let mut held = Held { budget: self.bytes.clone(), permit: None };
        held.grow(n)?;
        Ok(held)
    }
}

impl Held {
    pub fn bytes(&self) -> usize {
        self.permit.as_ref().map_or(0, OwnedSemaphorePermit::num_permits)
    }

    /// Takes `n` more bytes, or says the server is busy (what was held stays held).
    pub fn grow(&mut self, n: usize) -> Result<(), HecError> {
        if n == 0 {
            return Ok(());
        }
        let more = u32::try_from(n).ok().and_then(|n| self.budget.clone().try_acquire_many_owned(n).ok()).ok_or_else(|| {
            crate::metrics::global().hec_busy("body_budget");
            HecError::Busy
        })?;
        crate::metrics::global().body_bytes_in_flight(i64::try_from(more.num_permits()).unwrap_or(i64::MAX));
        match &mut self.permit {
            Some(p) => p.merge(more),
            None => self.permit = Some(more),
        }
        Ok(())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        crate::metrics::global().body_bytes_in_flight(-(i64::try_from(self.bytes()).unwrap_or(i64::MAX)));
    }
}

/// Reads a request body within `max_bytes` and the budget: 413 past `max_bytes` (at once when
/// the declared length says so), 503 past the budget, 408 when the client is too slow.
pub async fn read_body(body: Body, headers: &HeaderMap, max_bytes: usize, budget: &Budget) -> Result<(Bytes, Held), HecError> {
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > max_bytes) {
        return Err(HecError::BodyTooLarge);
    }
    let mut held = budget.hold(declared.unwrap_or(0))?;
    let mut buf = Vec::with_capacity(declared.unwrap_or(0));
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| if slow_body::is_too_slow(&e) { HecError::SlowBody } else { HecError::BodyRead })?;
        let len = buf.len() + chunk.len();
        if len > max_bytes {
            return Err(HecError::BodyTooLarge);
        }
        held.grow(len.saturating_sub(held.bytes()))?;
        buf.extend_from_slice(&chunk);
    }
    Ok((Bytes::from(buf), held))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_held_until_dropped_and_past_the_budget_the_server_is_busy() {
        let b = Budget::new(100);
        let mut first = b.hold(60).unwrap();
        assert_eq!(b.hold(50).err(), Some(HecError::Busy));
        first.grow(40).unwrap();
        assert_eq!(first.bytes(), 100);
        assert_eq!(first.grow(1), Err(HecError::Busy));
        assert_eq!(first.bytes(), 100, "a refused growth keeps what was held");
        drop(first);
        assert_eq!(b.hold(100).unwrap().bytes(), 100);
        assert_eq!(b.hold(0).unwrap().bytes(), 0);
    }
}
