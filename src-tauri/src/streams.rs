//! The streaming convention: a command that streams takes a `StreamId` chosen by the UI and a
//! `tauri::ipc::Channel`; it registers the id here while it runs, and `cancel_stream(id)` asks it
//! to stop. The command polls [`StreamGuard::is_cancelled`] and returns `CommandError::Cancelled`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::state::lock;

/// Names one running stream; made by the UI (`crypto.randomUUID()`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
pub struct StreamId(pub String);

#[derive(Default)]
pub struct Streams {
    live: Arc<Mutex<HashMap<StreamId, Arc<AtomicBool>>>>,
}

impl Streams {
    /// Registers a stream; it is forgotten when the guard drops.
    pub fn open(&self, id: StreamId) -> StreamGuard {
        let flag = Arc::new(AtomicBool::new(false));
        lock(&self.live).insert(id.clone(), flag.clone());
        StreamGuard {
            id,
            flag,
            live: self.live.clone(),
        }
    }

    /// Asks a stream to stop; false if no such stream is running.
    pub fn cancel(&self, id: &StreamId) -> bool {
        match lock(&self.live).get(id) {
            Some(flag) => {
                flag.store(true, Ordering::SeqCst);
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
    live: Arc<Mutex<HashMap<StreamId, Arc<AtomicBool>>>>,
}

impl StreamGuard {
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut live = lock(&self.live);
        // Only forget our own entry: a new stream may have reused the id.
        if live
            .get(&self.id)
            .is_some_and(|f| Arc::ptr_eq(f, &self.flag))
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
        drop(guard);
        assert_eq!(streams.running(), 0);
        assert!(!streams.cancel(&id));
    }
}
