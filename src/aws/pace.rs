//! Where the budgets meet the SDK: every attempt of every call asks the
//! account's [`Budget`] for its turn before it is sent. The SDK's
//! interceptors cannot wait, so the work is split in two: [`Pacer`] (an
//! interceptor, per client: it knows the service and region, and the
//! object the pass serves) reserves the turn and refuses a call whose turn
//! is far off; [`PacedHttpClient`] (the one HTTP client of the process)
//! waits for a near turn just before the request goes out, and checks the
//! leader's fence again after waiting.

use std::sync::Arc;

use aws_smithy_runtime_api::{
    box_error::BoxError,
    client::{
        http::{
            HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings,
            SharedHttpClient, SharedHttpConnector,
        },
        interceptors::{Intercept, context::BeforeTransmitInterceptorContextMut},
        orchestrator::{HttpRequest, Metadata},
        result::ConnectorError,
        runtime_components::RuntimeComponents,
    },
};
use aws_smithy_types::config_bag::ConfigBag;
use tokio::time::Instant;

use super::budget::{Budget, Call, Priority};
use super::fence::Fence;

/// The instant a request may be sent, set by [`Pacer`] for the HTTP client.
#[derive(Clone, Copy, Debug)]
struct SendAt(Instant);

/// Reserves each attempt's turn in the budget of `service` in `region`.
#[derive(Clone, Debug)]
pub(crate) struct Pacer {
    pub budget: Budget,
    /// The SigV4 signing name (`apigateway`), as in the quota table.
    pub service: &'static str,
    pub region: String,
    /// `namespace/name` of the object whose pass makes the calls: a long
    /// wait is deferred to its next pass. `None`: the caller waits.
    pub owner: Option<Arc<str>>,
    pub priority: Priority,
}

impl Intercept for Pacer {
    fn name(&self) -> &'static str {
        "BudgetPacer"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !self.budget.is_paced() {
            return Ok(());
        }
        let Some(metadata) = cfg.load::<Metadata>() else {
            return Ok(());
        };
        let call = Call {
            service: self.service,
            region: &self.region,
            operation: metadata.name(),
        };
        let now = Instant::now();
        match self
            .budget
            .admit(&call, self.owner.as_deref(), self.priority, now)
        {
            Ok(at) if at > now => {
                context.request_mut().add_extension(SendAt(at));
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(deferred) => Err(deferred),
        }
    }
}

/// The process's one HTTP client (one connection pool for every service
/// and region), waiting for each request's turn.
#[derive(Clone, Debug)]
pub(crate) struct PacedHttpClient {
    inner: SharedHttpClient,
    fence: Fence,
}

impl PacedHttpClient {
    pub fn new(inner: SharedHttpClient, fence: Fence) -> Self {
        Self { inner, fence }
    }
}

impl HttpClient for PacedHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(PacedConnector {
            inner: self.inner.http_connector(settings, components),
            fence: self.fence.clone(),
        })
    }
}

#[derive(Clone, Debug)]
struct PacedConnector {
    inner: SharedHttpConnector,
    fence: Fence,
}

impl HttpConnector for PacedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let Some(SendAt(at)) = request.extension::<SendAt>().copied() else {
            return self.inner.call(request);
        };
        let inner = self.inner.clone();
        let fence = self.fence.clone();
        HttpConnectorFuture::new(async move {
            tokio::time::sleep_until(at).await;
            if !fence.is_open() {
                return Err(ConnectorError::other(
                    "this replica lost the leader Lease while the call waited for its turn; not sent"
                        .into(),
                    None,
                ));
            }
            inner.call(request).await
        })
    }
}
