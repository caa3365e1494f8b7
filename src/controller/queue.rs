//! When each GlobalApi's next pass is due, as this process asked for it:
//! the queue depth the metrics show. The controller's own queue is not
//! visible, so the same facts are kept beside it: a watched change makes a
//! pass due now, a finished pass schedules the next one, and a pass that
//! starts leaves the queue.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use kube::runtime::controller::Action;
use tokio::time::Instant;

#[derive(Debug, Default)]
pub struct Queue {
    /// By `namespace/name`: when its next pass is due.
    due: Mutex<HashMap<String, Instant>>,
}

/// What the queue holds at one instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueState {
    /// Passes due that have not started.
    pub waiting: usize,
    /// How long the first of them has waited.
    pub longest_wait: Duration,
    /// Passes scheduled, due or not.
    pub scheduled: usize,
}

impl Queue {
    /// A change of `key` was seen: its pass is due now.
    pub fn changed(&self, key: &str) {
        self.due_at(key, Instant::now());
    }

    /// The pass of `key` starts.
    pub fn started(&self, key: &str) {
        if let Ok(mut due) = self.due.lock() {
            due.remove(key);
        }
    }

    /// The pass of `key` ended; the next comes after `after` (or sooner, if
    /// a change was seen while it ran).
    pub(crate) fn requeue(&self, key: &str, after: Duration) -> Action {
        self.due_at(key, Instant::now() + after);
        Action::requeue(after)
    }

    /// Only these objects exist (the others were deleted).
    pub fn retain(&self, live: impl Fn(&str) -> bool) {
        if let Ok(mut due) = self.due.lock() {
            due.retain(|key, _| live(key));
        }
    }

    pub fn state(&self) -> QueueState {
        let now = Instant::now();
        let Ok(due) = self.due.lock() else {
            return QueueState::default();
        };
        let waiting: Vec<Duration> = due
            .values()
            .filter(|at| **at <= now)
            .map(|at| now - *at)
            .collect();
        QueueState {
            waiting: waiting.len(),
            longest_wait: waiting.into_iter().max().unwrap_or_default(),
            scheduled: due.len(),
        }
    }

    fn due_at(&self, key: &str, at: Instant) {
        if let Ok(mut due) = self.due.lock() {
            let entry = due.entry(key.to_owned()).or_insert(at);
            *entry = (*entry).min(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn due_passes_wait_until_they_start() {
        let queue = Queue::default();
        queue.changed("apps/a");
        let _ = queue.requeue("apps/b", Duration::from_secs(60));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(
            queue.state(),
            QueueState {
                waiting: 1,
                longest_wait: Duration::from_secs(2),
                scheduled: 2
            }
        );
        queue.started("apps/a");
        // A change seen while the pass ran brings the next one forward.
        queue.changed("apps/a");
        let _ = queue.requeue("apps/a", Duration::from_secs(300));
        assert_eq!(queue.state().waiting, 1);
        queue.started("apps/a");
        let _ = queue.requeue("apps/a", Duration::from_secs(300));
        assert_eq!(queue.state().waiting, 0);
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(queue.state().waiting, 1);
        queue.retain(|key| key != "apps/b");
        assert_eq!(queue.state().scheduled, 1);
    }
}
