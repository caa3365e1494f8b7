//! The HTTP endpoint (hyper) for three GET paths: `/healthz` (no reconcile
//! has run past its bound), `/readyz` (the operator has reached the API
//! server, runs its controller or stands by for the leader Lease, and every
//! watch delivers) and `/metrics` (Prometheus text). Anything else is 404
//! or 405.

use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use http_body_util::Full;
use hyper::{Request, StatusCode, body::Bytes, header::CONTENT_TYPE};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::{Context, health::Health, metrics::Readings, queue::Queue};
use crate::{
    aws::AwsClients,
    error::{Error, Result},
};

/// How long one connection may take, request and answer.
const CONNECTION_BOUND: Duration = Duration::from_secs(10);

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
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "accepting an http connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<_>| {
                let ctx = ctx.clone();
                async move { Ok::<_, Infallible>(answer(&request, &ctx)) }
            });
            // One request per connection: a scrape every few seconds does
            // not need idle connections held open.
            let connection = hyper::server::conn::http1::Builder::new()
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            match tokio::time::timeout(CONNECTION_BOUND, connection).await {
                Ok(Err(e)) => tracing::debug!(error = %e, "http connection failed"),
                Err(_) => tracing::debug!("http connection took too long; closed"),
                Ok(Ok(())) => {}
            }
        });
    }
}

fn answer<B>(request: &Request<B>, ctx: &Context) -> hyper::Response<Full<Bytes>> {
    let head = request.method() == hyper::Method::HEAD;
    let response = route(
        request.method().as_str(),
        request.uri().path(),
        &ctx.health,
        || {
            ctx.metrics
                .encode(readings(&ctx.health, &ctx.queue, &ctx.aws))
        },
    );
    let body = if head { String::new() } else { response.body };
    let mut answer = hyper::Response::new(Full::new(Bytes::from(body)));
    *answer.status_mut() = response.status;
    answer.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(response.content_type),
    );
    answer
}

/// What a scrape reads from the rest of the operator.
fn readings(health: &Health, queue: &Queue, aws: &AwsClients) -> Readings {
    let in_flight = health.in_flight();
    let queue = queue.state();
    Readings {
        calls: aws.calls().snapshot(),
        outcomes: aws.outcomes().snapshot(),
        admissions: aws.budget().counts(),
        watches: health.watches(),
        in_flight: in_flight.len(),
        oldest_reconcile: in_flight.first().map(|(_, d)| *d).unwrap_or_default(),
        queued: queue.waiting,
        longest_queued: queue.longest_wait,
        scheduled: queue.scheduled,
    }
}

/// A response: status, content type and body.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: String,
}

impl Response {
    fn text(status: StatusCode, body: String) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body,
        }
    }
}

/// The response to `method path`; `metrics` makes the metrics page.
pub fn route(
    method: &str,
    path: &str,
    health: &Health,
    metrics: impl FnOnce() -> String,
) -> Response {
    if method != "GET" && method != "HEAD" {
        return Response::text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n".into());
    }
    match path {
        "/healthz" => {
            let stuck = health.stuck();
            if stuck.is_empty() {
                Response::text(StatusCode::OK, "ok\n".into())
            } else {
                let list: Vec<String> = stuck
                    .iter()
                    .map(|(key, d)| format!("{key} ({} s)", d.as_secs()))
                    .collect();
                Response::text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "reconciles stuck past their bound of {} s: {}\n",
                        health.stuck_after().as_secs(),
                        list.join(", ")
                    ),
                )
            }
        }
        "/readyz" => {
            let failing = health.watch_errors();
            if !health.is_ready() {
                Response::text(StatusCode::SERVICE_UNAVAILABLE, "not started yet\n".into())
            } else if !failing.is_empty() {
                let list: Vec<String> =
                    failing.iter().map(|(ns, e)| format!("{ns}: {e}")).collect();
                Response::text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("watching GlobalApis fails in {}\n", list.join("; ")),
                )
            } else {
                Response::text(StatusCode::OK, "ready\n".into())
            }
        }
        "/metrics" => Response {
            status: StatusCode::OK,
            content_type: super::metrics::CONTENT_TYPE,
            body: metrics(),
        },
        _ => Response::text(
            StatusCode::NOT_FOUND,
            "not found; try /healthz, /readyz or /metrics\n".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::metrics::Metrics;

    #[tokio::test(start_paused = true)]
    async fn three_paths_and_nothing_else() {
        let health = Health::new(Duration::from_secs(60));
        let queue = Queue::default();
        let metrics = Metrics::default();
        let aws = AwsClients::new(aws_config::SdkConfig::builder().build());
        let get = |path: &str| {
            route("GET", path, &health, || {
                metrics.encode(readings(&health, &queue, &aws))
            })
        };
        assert_eq!(get("/healthz").status, StatusCode::OK);
        assert_eq!(get("/readyz").status, StatusCode::SERVICE_UNAVAILABLE);
        health.set_ready();
        assert_eq!(get("/readyz").status, StatusCode::OK);

        // The API server away: not ready, but alive.
        health.watch_failed("payments", "connection refused".into());
        let unready = get("/readyz");
        assert_eq!(unready.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(unready.body.contains("payments: connection refused"));
        assert_eq!(get("/healthz").status, StatusCode::OK);
        assert!(
            get("/metrics")
                .body
                .contains("globalapi_watch_healthy{namespace=\"payments\"} 0")
        );
        health.watch_ok("payments");
        assert_eq!(get("/readyz").status, StatusCode::OK);

        // A reconcile past its bound: not alive.
        let guard = health.reconcile_started("payments/exchange");
        tokio::time::advance(Duration::from_secs(61)).await;
        let stuck = get("/healthz");
        assert_eq!(stuck.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            stuck.body.contains("payments/exchange (61 s)"),
            "{}",
            stuck.body
        );
        let page = get("/metrics").body;
        assert!(
            page.contains("\nglobalapi_reconciles_in_flight 1\n"),
            "{page}"
        );
        drop(guard);
        assert_eq!(get("/healthz").status, StatusCode::OK);

        // A change waiting for a slot is the queue.
        queue.changed("payments/exchange");
        tokio::time::advance(Duration::from_secs(3)).await;
        let page = get("/metrics").body;
        for line in [
            "globalapi_queue_depth 1",
            "globalapi_queue_longest_wait_seconds 3.0",
            "globalapi_queue_scheduled 1",
        ] {
            assert!(
                page.lines().any(|l| l == line),
                "missing {line:?} in\n{page}"
            );
        }

        let page = get("/metrics");
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.content_type.starts_with("text/plain; version=0.0.4"));
        assert!(page.body.contains("globalapi_reconciles_total 0"));
        assert_eq!(get("/").status, StatusCode::NOT_FOUND);
        assert_eq!(
            route("POST", "/metrics", &health, String::new).status,
            StatusCode::METHOD_NOT_ALLOWED
        );
    }
}
