//! The streaming convention: a command that streams takes a `StreamId` chosen by the UI and a
//! `tauri::ipc::Channel`; it registers the id here while it runs, and `cancel_stream(id)` asks it
//! to stop. The command polls [`StreamGuard::is_cancelled`] and returns `CommandError::Cancelled`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

use fathom_core::lock;

/// Names one running stream; made by the UI (`crypto.randomUUID()`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
pub struct StreamId(pub String);

#[derive(Default)]
pub struct Streams {
    live: Arc<Mutex<HashMap<StreamId, Live>>>,
}

/// A running stream's stop signal: a flag to poll, and a token to await.
#[derive(Clone)]
struct Live {
    flag: Arc<AtomicBool>,
    token: CancellationToken,
}

impl Streams {
    /// Registers a stream; it is forgotten when the guard drops.
    pub fn open(&self, id: StreamId) -> StreamGuard {
        let live = Live {
            flag: Arc::new(AtomicBool::new(false)),
            token: CancellationToken::new(),
        };
        lock(&self.live).insert(id.clone(), live.clone());
        StreamGuard {
            id,
            flag: live.flag,
            token: live.token,
            live: self.live.clone(),
        }
    }

    /// Asks a stream to stop; false if no such stream is running.
    pub fn cancel(&self, id: &StreamId) -> bool {
        match lock(&self.live).get(id) {
            Some(live) => {
                live.flag.store(true, Ordering::SeqCst);
                live.token.cancel();
                true
            }
            None => false,
        }
    }

    pub fn running(&self) -> usize {
        lock(&self.live).len()
    }
}

pub struct StreamGuard {
    id: StreamId,
    flag: Arc<AtomicBool>,
    token: CancellationToken,
    live: Arc<Mutex<HashMap<StreamId, Live>>>,
}

impl StreamGuard {
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Cancelled together with the flag, for work that awaits rather than polls.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut live = lock(&self.live);
        // Only forget our own entry: a new stream may have reused the id.
        if live
            .get(&self.id)
            .is_some_and(|l| Arc::ptr_eq(&l.flag, &self.flag))
        {
            live.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_reaches_the_running_stream_and_drop_forgets_it() {
        let streams = Streams::default();
        let id = StreamId("a".into());
        let guard = streams.open(id.clone());
        assert!(!guard.is_cancelled());
        assert!(streams.cancel(&id));
        assert!(guard.is_cancelled());
        assert!(guard.token().is_cancelled());
        drop(guard);
        assert_eq!(streams.running(), 0);
        assert!(!streams.cancel(&id));
    }
}
