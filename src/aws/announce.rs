//! Saying, before a destructive call, what is about to be destroyed: a
//! Warning Event on the GlobalApi for the operator, a line on stderr for
//! the CLI. Steps await it before the call, so the warning always comes
//! first.

use std::{fmt, sync::Arc};

use futures::future::BoxFuture;

use crate::plan::Change;

type Say = dyn Fn(Loss, Change) -> BoxFuture<'static, ()> + Send + Sync;

/// What a destructive call can lose, so the warning can say which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// A resource is deleted, with its data.
    Deletion,
    /// A database's writer moves without waiting for its replicas: the
    /// latest writes may be lost.
    UnreplicatedWrites,
}

/// Where warnings before destructive calls go; silent by default.
#[derive(Clone, Default)]
pub struct Announcer(Option<Arc<Say>>);

impl Announcer {
    pub fn new(
        say: impl Fn(Loss, Change) -> BoxFuture<'static, ()> + Send + Sync + 'static,
    ) -> Self {
        Self(Some(Arc::new(say)))
    }

    /// Says `what` is about to be done, and returns once it has been said.
    pub async fn warn(&self, loss: Loss, what: Change) {
        if let Some(say) = &self.0 {
            say(loss, what).await;
        }
    }
}

impl fmt::Debug for Announcer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Announcer"
        } else {
            "Announcer(silent)"
        })
    }
}
