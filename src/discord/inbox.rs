//! One queue per person, so each person's messages and presses are applied
//! one at a time and in the order Discord created them, while different
//! people are served concurrently.
//!
//! serenity hands every gateway event to its own task, and tasks spawned
//! close together may start in either order. So jobs are kept sorted by their
//! Discord id (a snowflake, which grows with time), and a person's worker
//! waits a short window before its first job to let any earlier-created
//! events that started late join the queue.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// Jobs waiting, per person; a person has a worker exactly while they have an entry.
pub struct Inbox<J> {
    queues: Mutex<HashMap<u64, BTreeMap<u64, J>>>,
}

impl<J> Default for Inbox<J> {
    fn default() -> Self {
        Inbox {
            queues: Mutex::new(HashMap::new()),
        }
    }
}

impl<J> Inbox<J> {
    /// Queues a job for `person`, ordered by `order`. Returns true when the
    /// caller must start a worker for this person (no worker is running).
    pub fn push(&self, person: u64, order: u64, job: J) -> bool {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        let start = !queues.contains_key(&person);
        queues.entry(person).or_default().insert(order, job);
        start
    }

    /// The person's earliest job, or `None` (and the worker must stop) when
    /// the queue is empty. Both happen under one lock, so a job pushed at the
    /// same moment either is returned here or starts a new worker.
    pub fn pop(&self, person: u64) -> Option<J> {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        let queue = queues.get_mut(&person)?;
        match queue.pop_first() {
            Some((_, job)) => Some(job),
            None => {
                queues.remove(&person);
                None
            }
        }
    }

    /// People with a worker running, for shutdown to wait on.
    pub fn busy(&self) -> usize {
        self.queues.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_come_out_in_id_order_and_the_worker_stops_when_empty() {
        let inbox = Inbox::default();
        assert!(inbox.push(1, 30, "c"));
        assert!(!inbox.push(1, 10, "a"));
        assert!(inbox.push(2, 5, "other person"));
        assert!(!inbox.push(1, 20, "b"));
        assert_eq!(inbox.pop(1), Some("a"));
        assert_eq!(inbox.pop(1), Some("b"));
        assert_eq!(inbox.pop(1), Some("c"));
        assert_eq!(inbox.busy(), 2);
        assert_eq!(inbox.pop(1), None);
        assert_eq!(inbox.busy(), 1);
        // A job after the worker stopped starts a new one.
        assert!(inbox.push(1, 40, "d"));
    }

    #[test]
    fn the_same_id_twice_is_kept_once() {
        let inbox = Inbox::default();
        inbox.push(1, 10, "first");
        inbox.push(1, 10, "again");
        assert!(inbox.pop(1).is_some());
        assert_eq!(inbox.pop(1), None);
    }
}
