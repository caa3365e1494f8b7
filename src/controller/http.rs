//! A minimal HTTP/1.1 endpoint for three GET paths: `/healthz` (no
//! reconcile has run past its bound), `/readyz` (the operator has reached
//! the API server, runs its controller or stands by for the leader Lease,
//! and every watch delivers) and `/metrics` (Prometheus text).
//! One request per connection; anything else is 404 or 405.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

use super::{Context, health::Health, metrics::Metrics};
use crate::{
    aws::{CallCounter, budget::Budget},
    error::{Error, Result},
};

/// The largest request head read; the paths served need far less.
const MAX_HEAD: usize = 8192;

/// Binds `addr`; the returned listener is served by [`serve`].
pub async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|source| Error::Io {
        context: "binding the metrics address",
        source,
    })
}

/// Answers requests on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, ctx: Arc<Context>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let ctx = ctx.clone();
                tokio::spawn(async move {
                    let answered =
                        tokio::time::timeout(Duration::from_secs(10), answer(stream, &ctx)).await;
                    if let Ok(Err(e)) = answered {
                        tracing::debug!(error = %e, "http request failed");
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "accepting an http connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A response: status line text and body.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    /// `200 OK`, `404 Not Found`, …
    pub status: &'static str,
    /// `text/plain` body.
    pub body: String,
}

/// The response to `method path`.
pub fn route(
    method: &str,
    path: &str,
    health: &Health,
    metrics: &Metrics,
    calls: &CallCounter,
    budget: &Budget,
) -> Response {
    let path = path.split('?').next().unwrap_or(path);
    if method != "GET" && method != "HEAD" {
        return Response {
            status: "405 Method Not Allowed",
            body: "only GET\n".into(),
        };
    }
    match path {
        "/healthz" => {
            let stuck = health.stuck();
            if stuck.is_empty() {
                Response {
                    status: "200 OK",
                    body: "ok\n".into(),
                }
            } else {
                let list: Vec<String> = stuck
                    .iter()
                    .map(|(key, d)| format!("{key} ({} s)", d.as_secs()))
                    .collect();
                Response {
                    status: "503 Service Unavailable",
                    body: format!(
                        "reconciles stuck past their bound of {} s: {}\n",
                        health.stuck_after().as_secs(),
                        list.join(", ")
                    ),
                }
            }
        }
        "/readyz" => {
            let failing = health.watch_errors();
            if !health.is_ready() {
                Response {
                    status: "503 Service Unavailable",
                    body: "not started yet\n".into(),
                }
            } else if !failing.is_empty() {
                let list: Vec<String> =
                    failing.iter().map(|(ns, e)| format!("{ns}: {e}")).collect();
                Response {
                    status: "503 Service Unavailable",
                    body: format!("watching GlobalApis fails in {}\n", list.join("; ")),
                }
            } else {
                Response {
                    status: "200 OK",
                    body: "ready\n".into(),
                }
            }
        }
        "/metrics" => Response {
            status: "200 OK",
            body: metrics.render(&calls.snapshot())
                + &super::metrics::budget(budget)
                + &health_metrics(health)
                + &super::metrics::process(),
        },
        _ => Response {
            status: "404 Not Found",
            body: "not found; try /healthz, /readyz or /metrics\n".into(),
        },
    }
}

/// The watches' and reconciles' health as Prometheus gauges.
fn health_metrics(health: &Health) -> String {
    let mut out = String::new();
    out.push_str("# HELP globalapi_watch_healthy 1 while the watch of GlobalApis in the namespace delivers, else 0.\n# TYPE globalapi_watch_healthy gauge\n");
    for (namespace, healthy) in health.watches() {
        out.push_str(&format!(
            "globalapi_watch_healthy{{namespace=\"{}\"}} {}\n",
            super::metrics::escape(&namespace),
            u8::from(healthy)
        ));
    }
    let in_flight = health.in_flight();
    out.push_str("# HELP globalapi_reconciles_in_flight Reconciles running now.\n# TYPE globalapi_reconciles_in_flight gauge\n");
    out.push_str(&format!(
        "globalapi_reconciles_in_flight {}\n",
        in_flight.len()
    ));
    out.push_str("# HELP globalapi_oldest_reconcile_seconds How long the longest running reconcile has run.\n# TYPE globalapi_oldest_reconcile_seconds gauge\n");
    out.push_str(&format!(
        "globalapi_oldest_reconcile_seconds {}\n",
        in_flight.first().map_or(0.0, |(_, d)| d.as_secs_f64())
    ));
    out
}

async fn answer(mut stream: TcpStream, ctx: &Context) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let mut parts = text.lines().next().unwrap_or_default().split_whitespace();
    let method = parts.next().unwrap_or_default();
    let path = parts.next().unwrap_or_default();
    let mut response = route(
        method,
        path,
        &ctx.health,
        &ctx.metrics,
        ctx.aws.calls(),
        ctx.aws.budget(),
    );
    if response.status == "200 OK" && path.split('?').next() == Some("/metrics") {
        response.body += &super::metrics::outcomes(&ctx.aws.outcomes().snapshot());
    }
    let content_type = if path.starts_with("/metrics") {
        "text/plain; version=0.0.4; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    };
    let mut out = format!(
        "HTTP/1.1 {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        response.status,
        response.body.len()
    )
    .into_bytes();
    if method != "HEAD" {
        out.extend_from_slice(response.body.as_bytes());
    }
    stream.write_all(&out).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn three_paths_and_nothing_else() {
        let health = Health::new(Duration::from_secs(60));
        let metrics = Metrics::default();
        let calls = CallCounter::default();
        let get = |path: &str| route("GET", path, &health, &metrics, &calls, &Budget::default());
        assert_eq!(get("/healthz").status, "200 OK");
        assert_eq!(get("/readyz").status, "503 Service Unavailable");
        health.set_ready();
        assert_eq!(get("/readyz").status, "200 OK");

        // The API server away: not ready, but alive.
        health.watch_failed("payments", "connection refused".into());
        let unready = get("/readyz");
        assert_eq!(unready.status, "503 Service Unavailable");
        assert!(unready.body.contains("payments: connection refused"));
        assert_eq!(get("/healthz").status, "200 OK");
        assert!(
            get("/metrics")
                .body
                .contains("globalapi_watch_healthy{namespace=\"payments\"} 0")
        );
        health.watch_ok("payments");
        assert_eq!(get("/readyz").status, "200 OK");

        // A reconcile past its bound: not alive.
        let guard = health.reconcile_started("payments/exchange");
        tokio::time::advance(Duration::from_secs(61)).await;
        let stuck = get("/healthz");
        assert_eq!(stuck.status, "503 Service Unavailable");
        assert!(
            stuck.body.contains("payments/exchange (61 s)"),
            "{}",
            stuck.body
        );
        assert!(
            get("/metrics")
                .body
                .contains("globalapi_reconciles_in_flight 1")
        );
        drop(guard);
        assert_eq!(get("/healthz").status, "200 OK");

        let metrics_page = get("/metrics?x=1");
        assert_eq!(metrics_page.status, "200 OK");
        assert!(metrics_page.body.contains("globalapi_reconciles_total 0"));
        assert_eq!(get("/").status, "404 Not Found");
        assert_eq!(
            route(
                "POST",
                "/metrics",
                &health,
                &metrics,
                &calls,
                &Budget::default()
            )
            .status,
            "405 Method Not Allowed"
        );
    }
}
