//! The streaming convention: a command that streams takes a `StreamId` chosen by the UI and a
//! `tauri::ipc::Channel`; it registers the id here while it runs, and `cancel_stream(id)` cancels
//! the stream's token, the one stop signal every long use case in the core takes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use fathom_core::{lock, CancellationToken};
use serde::{Deserialize, Serialize};

/// Names one running stream; made by the UI (`crypto.randomUUID()`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, specta::Type)]
pub struct StreamId(pub String);

/// Running streams: each with a serial (so a guard forgets only its own entry) and its token.
type Live = Arc<Mutex<HashMap<StreamId, (u64, CancellationToken)>>>;

#[derive(Default)]
pub struct Streams {
    live: Live,
    serial: AtomicU64,
}

impl Streams {
    /// Registers a stream; it is forgotten when the guard drops.
    pub fn open(&self, id: StreamId) -> StreamGuard {
        let token = CancellationToken::new();
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        lock(&self.live).insert(id.clone(), (serial, token.clone()));
        StreamGuard {
            id,
            serial,
            token,
            live: self.live.clone(),
        }
    }

    /// Asks a stream to stop; false if no such stream is running.
    pub fn cancel(&self, id: &StreamId) -> bool {
        match lock(&self.live).get(id) {
            Some((_, token)) => {
                token.cancel();
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
    serial: u64,
    token: CancellationToken,
    live: Live,
}

impl StreamGuard {
    /// The stream's stop signal, for the use case it runs.
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
            .is_some_and(|(serial, _)| *serial == self.serial)
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
        assert!(!guard.token().is_cancelled());
        assert!(streams.cancel(&id));
        assert!(guard.token().is_cancelled());
        drop(guard);
        assert_eq!(streams.running(), 0);
        assert!(!streams.cancel(&id));
        // A stream that reuses an id is not forgotten when the older guard goes.
        let old = streams.open(id.clone());
        let new = streams.open(id.clone());
        drop(old);
        assert_eq!(streams.running(), 1);
        assert!(streams.cancel(&id));
        assert!(new.token().is_cancelled());
    }
}
