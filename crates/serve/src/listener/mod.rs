//! The HTTP listener, hardened against hostile clients: every way a client can hold the
//! server's memory or connections is bounded, answered, and counted in /metrics.
//!
//! ```text
//! accept --past max_connections--> 503 "Server is busy" and close   (connections_refused)
//!   --[tls] handshake within header_timeout_secs----------------------> dropped (tls_handshake)
//!   --hyper http1: head within header_timeout_secs--------------------> dropped (header_timeout)
//!   --request body paced (slow_body.rs)-------------------------------> 408 and close (slow_body)
//!   --> the router (HEC's byte budget in ingest/budget.rs)
//! ```
//!
//! Decisions:
//! - The accept loop is ours (not `axum::serve`) because axum gives no hook for a connection
//!   cap or hyper's settings; the rest is hyper's own: `header_read_timeout` (with a Tokio
//!   timer) and hyper-util's graceful shutdown.
//! - Past the cap a plain-HTTP client gets a real 503 with HEC's JSON body, so senders back off
//!   and retry as they do for "server busy"; refusing is bounded too (a few at a time, 1 s
//!   each), beyond that the connection is closed at once. A TLS client is closed (there is no
//!   way to answer before a handshake, and handshakes cost CPU).
//! - The connection limits are read at start; a reload changes the per-request limits only.

pub(crate) mod slow_body;

use crate::config::Limits;
use crate::metrics;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

/// Connections being answered 503 at once; past it they are closed without an answer.
const REFUSING_AT_ONCE: usize = 32;
/// What a refused connection gets: HEC's "server busy".
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 35\r\nConnection: close\r\nRetry-After: 1\r\n\r\n{\"text\":\"Server is busy\",\"code\":9}";

/// Serves `app` on `listener` until `stop` resolves, then stops accepting and waits for the
/// connections under way to finish their requests.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: Router,
    limits: &Limits,
    stop: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let refusing = Arc::new(Semaphore::new(REFUSING_AT_ONCE));
    let tls = tls.map(TlsAcceptor::from);
    // A TLS handshake is part of getting the request head: the same time bounds both.
    let head_timeout = Duration::from_secs(limits.header_timeout_secs.max(1));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(head_timeout);
    let pace = slow_body::Pace { grace: Duration::from_secs(limits.body_timeout_secs), min_rate: limits.min_body_rate.max(1) };
    let graceful = GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics::global().connection_refused();
            refuse(stream, tls.is_none(), &refusing);
            continue;
        };
        // Answers leave at once instead of waiting on Nagle's algorithm for the client's
        // delayed ACK (a small answer after a request otherwise waits up to ~40 ms). Best
        // effort: a socket that refuses it is served as it is.
        let _ = stream.set_nodelay(true);
        let conn = Conn { app: app.clone(), peer, http: http.clone(), pace, watcher: graceful.watcher() };
        let tls = tls.clone();
        tokio::spawn(async move {
            let _open = metrics::global().connection_opened();
            match tls {
                None => conn.serve(stream).await,
                Some(acceptor) => match tokio::time::timeout(head_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => conn.serve(stream).await,
                    // A failed or slow handshake is the client's problem: the connection is dropped.
                    _ => metrics::global().connection_dropped("tls_handshake"),
                },
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// One accepted connection and what serving it needs.
struct Conn {
    app: Router,
    peer: SocketAddr,
    http: hyper::server::conn::http1::Builder,
    pace: slow_body::Pace,
    watcher: Watcher,
}

impl Conn {
    async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(self, io: S) {
        let Conn { app, peer, http, pace, watcher } = self;
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let mut req = req.map(|body| slow_body::guard(body, pace));
            // Handlers see the client's address (login throttling counts failures per address).
            req.extensions_mut().insert(ConnectInfo(peer));
            tower::ServiceExt::oneshot(app.clone(), req)
        });
        if let Err(e) = watcher.watch(http.serve_connection(TokioIo::new(io), service)).await {
            if e.is_timeout() {
                metrics::global().connection_dropped("header_timeout");
            }
        }
    }
}

/// Answers 503 on a connection past the cap and closes it; plain HTTP only, a few at a time.
fn refuse(mut stream: TcpStream, plain: bool, refusing: &Arc<Semaphore>) {
    let Some(permit) = plain.then(|| refusing.clone().try_acquire_owned().ok()).flatten() else {
        return; // dropped: closed
    };
    tokio::spawn(async move {
        let answer = async {
            stream.write_all(BUSY).await?;
            stream.shutdown().await?;
            // Read what the client sent until it closes: closing with its request unread
            // would reset the connection, and the client could lose the answer.
            let mut sink = [0u8; 4096];
            while stream.read(&mut sink).await? > 0 {}
            Ok::<_, std::io::Error>(())
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), answer).await;
        drop(permit);
    });
}
