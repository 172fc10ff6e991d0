//! The accept loop: HTTP/1.1 connections served under a header timeout, and
//! a graceful stop that lets accepted requests finish.
//!
//! `axum::serve` does neither (it sets no timer, so hyper's header timeout
//! never runs, and its graceful stop waits forever), so this is hyper's own
//! connection builder with the router as its service, as `axum::serve`
//! does, plus the client address as `ConnectInfo`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request};
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

use crate::Limits;

/// How long, after the stop signal, a connection with no request under way
/// stays open: a request its client sent just before it heard of the stop
/// is served rather than reset. Busy connections close after their response.
const IDLE_GRACE: Duration = Duration::from_secs(1);

/// How a server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every accepted request was answered and every connection closed.
    Drained,
    /// The shutdown timeout passed with these connections still open; they
    /// are cut when the process ends.
    CutShort { connections: usize },
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops.
///
/// Each connection speaks HTTP/1.1; one whose request head (request line
/// and headers) does not arrive within `limits.header_timeout`, a new one
/// or a kept-alive one between requests, is closed. On `shutdown` the
/// listener closes at once (new connections are refused); connections
/// already accepted are served, their responses say `Connection: close`,
/// and connections that stay idle are closed after a second. What still
/// runs after `limits.shutdown_timeout` is left to be cut.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) -> Stopped {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let connections = Connections {
        http,
        router,
        draining: Arc::new(AtomicBool::new(false)),
        stop: watch::channel(false).0,
        open: watch::channel(()).0,
    };
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tracing::trace!(target: "roster::http", %peer, "connection accepted");
                    connections.serve(stream, peer)
                }
                Err(error) => accept_failed(error).await,
            },
            () = &mut shutdown => break,
        }
    }
    connections.draining.store(true, Ordering::SeqCst);
    // Closing a listener resets the connections the kernel has completed
    // but the server not yet accepted: accept them first.
    match listener.into_std() {
        Ok(listener) => {
            while let Ok((stream, peer)) = listener.accept() {
                match stream
                    .set_nonblocking(true)
                    .and_then(|()| TcpStream::from_std(stream))
                {
                    Ok(stream) => connections.serve(stream, peer),
                    Err(error) => tracing::debug!(%error, "cannot serve a last connection"),
                }
            }
        }
        Err(error) => tracing::warn!(%error, "cannot accept the last connections"),
    }
    connections.finish(limits.shutdown_timeout).await
}

/// What every connection shares.
struct Connections {
    http: http1::Builder,
    router: Router,
    /// Set on the stop signal: every response from then on closes its
    /// connection.
    draining: Arc<AtomicBool>,
    /// Set when the idle grace is over: idle connections close, busy ones
    /// after their response.
    stop: watch::Sender<bool>,
    /// Each connection holds a receiver until it ends.
    open: watch::Sender<()>,
}

impl Connections {
    /// Serves one connection on its own task.
    fn serve(&self, stream: TcpStream, peer: SocketAddr) {
        let router = self.router.clone();
        let draining = self.draining.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let answer = router.clone().oneshot(request);
            let draining = draining.clone();
            async move {
                let mut response = answer.await?;
                if draining.load(Ordering::SeqCst) {
                    response
                        .headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                Ok::<_, Infallible>(response)
            }
        });
        let connection = self.http.serve_connection(TokioIo::new(stream), service);
        let mut stop = self.stop.subscribe();
        let open = self.open.subscribe();
        tokio::spawn(async move {
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = async { let _ = stop.wait_for(|&stop| stop).await; } => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = ended {
                // A client that went away or was too slow: its business.
                tracing::debug!(target: "roster::http", %error, "connection ended");
            }
            drop(open);
        });
    }

    /// Waits for the open connections to end: first the busy ones, on
    /// their own, then, after [`IDLE_GRACE`], the idle ones too, until
    /// `timeout` after the stop signal.
    async fn finish(self, timeout: Duration) -> Stopped {
        let deadline = tokio::time::Instant::now() + timeout;
        let all_closed = self.open.closed();
        tokio::pin!(all_closed);
        let grace = tokio::time::Instant::now() + IDLE_GRACE.min(timeout);
        if tokio::time::timeout_at(grace, &mut all_closed)
            .await
            .is_ok()
        {
            return Stopped::Drained;
        }
        self.stop.send_replace(true);
        match tokio::time::timeout_at(deadline, &mut all_closed).await {
            Ok(()) => Stopped::Drained,
            Err(_) => Stopped::CutShort {
                connections: self.open.receiver_count(),
            },
        }
    }
}

/// After a failed accept: a connection that failed before it was accepted
/// is the client's; anything else (out of file descriptors) is the
/// process's, and retrying at once would spin.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::error!(%error, "cannot accept a connection; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
