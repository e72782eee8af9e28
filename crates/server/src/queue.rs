//! One model, one generation at a time: requests wait their turn in arrival order, up to a
//! bound; past it they are refused at once (429) rather than left hanging.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

#[derive(Clone)]
pub struct Queue {
    /// One permit: the model. Tokio's semaphore is fair, so waiters are served in order.
    model: Arc<Semaphore>,
    /// Requests admitted: the one running and those waiting.
    admitted: Arc<AtomicUsize>,
    capacity: usize,
}

/// A place in the queue; the model is free again when the turn is dropped.
pub struct Turn {
    _model: OwnedSemaphorePermit,
    _place: Place,
}

struct Place(Arc<AtomicUsize>);

impl Drop for Place {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Queue {
    /// A queue that admits `capacity` requests at once (at least one).
    pub fn new(capacity: usize) -> Queue {
        Queue {
            model: Arc::new(Semaphore::new(1)),
            admitted: Arc::new(AtomicUsize::new(0)),
            capacity: capacity.max(1),
        }
    }

    /// Waits for the model, or refuses if the queue is full. A caller that gives up while it
    /// waits (its future dropped: the client went away) leaves the queue.
    pub async fn enter(&self) -> Result<Turn, ApiError> {
        let capacity = self.capacity;
        self.admitted
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < capacity).then_some(n + 1)
            })
            .map_err(ApiError::busy)?;
        let place = Place(self.admitted.clone());
        let model = self
            .model
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::server("The server is shutting down."))?;
        Ok(Turn {
            _model: model,
            _place: place,
        })
    }

    /// Requests running or waiting now.
    pub fn admitted(&self) -> usize {
        self.admitted.load(Ordering::SeqCst)
    }

    /// Refuses new turns and wakes those waiting with an error (shutdown).
    pub fn close(&self) {
        self.model.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_refuses_and_a_dropped_turn_lets_the_next_in() {
        let queue = Queue::new(2);
        let first = queue.enter().await.unwrap();
        let q = queue.clone();
        let waiting = tokio::spawn(async move { q.enter().await.map(|_| ()) });
        // The second request is admitted and waits for the model.
        while queue.admitted() < 2 {
            tokio::task::yield_now().await;
        }
        let refused = queue.enter().await.err().expect("a third is refused");
        assert_eq!(refused.status, axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert!(!waiting.is_finished());
        drop(first);
        waiting.await.unwrap().unwrap();
        assert_eq!(queue.admitted(), 0);
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_leaves_the_queue() {
        let queue = Queue::new(2);
        let _first = queue.enter().await.unwrap();
        let q = queue.clone();
        let waiting = tokio::spawn(async move { q.enter().await.map(|_| ()) });
        while queue.admitted() < 2 {
            tokio::task::yield_now().await;
        }
        waiting.abort();
        let _ = waiting.await;
        assert_eq!(queue.admitted(), 1);
    }
}
