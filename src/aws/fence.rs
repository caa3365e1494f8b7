//! The leader's fence: until when this process may call AWS. A leader that
//! cannot renew its Lease must stop writing before the Lease can expire for
//! the other replicas; cancelling its reconciles does that in the normal
//! case, and the fence makes it hold even when a reconcile is slow to stop:
//! every attempt of every AWS call checks it just before it is sent.

use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::{
    box_error::BoxError,
    client::{
        interceptors::{Intercept, context::BeforeTransmitInterceptorContextRef},
        runtime_components::RuntimeComponents,
    },
};
use aws_smithy_types::config_bag::ConfigBag;
use tokio::time::Instant;

/// Open for good (no leader election: the CLI, a single replica), or open
/// until an instant that each renewal of the Lease moves on.
#[derive(Clone, Debug, Default)]
pub struct Fence {
    /// `None`: never closes. `Some(t)`: calls are refused from `t` on.
    until: Arc<Mutex<Option<Instant>>>,
}

impl Fence {
    /// A fence that is closed until [`Fence::open_until`] is called.
    pub(crate) fn closed() -> Self {
        Self {
            until: Arc::new(Mutex::new(Some(Instant::now()))),
        }
    }

    /// Calls may be sent until `until` (never moved backwards).
    pub(crate) fn open_until(&self, until: Instant) {
        if let Ok(mut current) = self.until.lock()
            && let Some(t) = current.as_mut()
        {
            *t = (*t).max(until);
        }
    }

    /// No call may be sent from now on.
    pub fn close(&self) {
        if let Ok(mut current) = self.until.lock() {
            *current = Some(Instant::now());
        }
    }

    /// Whether a call may be sent now.
    pub(crate) fn is_open(&self) -> bool {
        match self.until.lock() {
            Ok(current) => current.is_none_or(|t| Instant::now() < t),
            Err(_) => false,
        }
    }
}

impl Intercept for Fence {
    fn name(&self) -> &'static str {
        "LeaderFence"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if self.is_open() {
            Ok(())
        } else {
            Err("this replica does not hold the leader Lease (or could not renew it in time); AWS calls are refused".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_fence_opens_until_the_deadline_and_never_moves_back() {
        assert!(Fence::default().is_open());
        let fence = Fence::closed();
        assert!(!fence.is_open());
        fence.open_until(Instant::now() + Duration::from_secs(10));
        assert!(fence.is_open());
        fence.open_until(Instant::now() + Duration::from_secs(5));
        tokio::time::advance(Duration::from_secs(7)).await;
        assert!(fence.is_open(), "an earlier deadline does not shorten it");
        tokio::time::advance(Duration::from_secs(3)).await;
        assert!(!fence.is_open());
        fence.open_until(Instant::now() + Duration::from_secs(10));
        fence.close();
        assert!(!fence.is_open());
    }
}
