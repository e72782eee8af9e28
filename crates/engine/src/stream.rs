//! The engine as a service: a worker thread owns the model (MLX arrays are not shared between
//! threads) and runs one generation at a time; each generation is an async stream of tokens that
//! can be cancelled, or dropped, at any moment and stops within one token.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::generate::{GenerateOptions, PromptCache, Stats};
use crate::{EngineError, Model};

#[derive(Debug, Clone)]
pub enum StreamEvent {
    Token(u32),
    Finished(Stats),
    Failed(String),
}

struct Job {
    prompt: Vec<u32>,
    options: GenerateOptions,
    events: UnboundedSender<StreamEvent>,
    cancel: Arc<AtomicBool>,
}

pub struct Engine {
    jobs: Option<mpsc::Sender<Job>>,
    /// Set when the engine is dropped: queued and running generations stop at the next token.
    shutdown: Arc<AtomicBool>,
    worker: Option<JoinHandle<()>>,
    pub vocab_size: u32,
}

impl Engine {
    /// Loads the checkpoint on the engine's own thread.
    pub fn load(dir: impl Into<PathBuf>) -> Result<Self, EngineError> {
        let dir = dir.into();
        let (ready_tx, ready_rx) = mpsc::channel();
        let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
        let shutdown = Arc::new(AtomicBool::new(false));
        let stopping = shutdown.clone();
        let worker = std::thread::Builder::new()
            .name("fathom-engine".into())
            .spawn(move || {
                let model = match Model::load(&dir) {
                    Ok(model) => {
                        let _ = ready_tx.send(Ok(model.config.vocab_size as u32));
                        model
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                // One kept cache: the conversation generated last continues without a full prefill.
                let mut cache = PromptCache::new(&model);
                for job in jobs_rx {
                    let cancel = job.cancel.clone();
                    let events = job.events.clone();
                    let outcome = model.generate_with(
                        &mut cache,
                        &job.prompt,
                        &job.options,
                        &|| cancel.load(Ordering::SeqCst) || stopping.load(Ordering::SeqCst),
                        &mut |t| {
                            let _ = events.send(StreamEvent::Token(t));
                        },
                    );
                    let _ = job.events.send(match outcome {
                        Ok((_, stats)) => StreamEvent::Finished(stats),
                        Err(e) => StreamEvent::Failed(e.to_string()),
                    });
                }
            })
            .map_err(|e| EngineError::Input(format!("cannot start the engine thread: {e}")))?;
        let vocab_size = ready_rx
            .recv()
            .map_err(|_| EngineError::Input("the engine thread stopped while loading".into()))??;
        Ok(Engine {
            jobs: Some(jobs_tx),
            shutdown,
            worker: Some(worker),
            vocab_size,
        })
    }

    /// Starts a generation; tokens arrive on the returned stream as they are produced.
    pub fn generate(&self, prompt: Vec<u32>, options: GenerateOptions) -> TokenStream {
        let (events, rx) = unbounded_channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let job = Job {
            prompt,
            options,
            events: events.clone(),
            cancel: cancel.clone(),
        };
        if self
            .jobs
            .as_ref()
            .is_none_or(|jobs| jobs.send(job).is_err())
        {
            let _ = events.send(StreamEvent::Failed("the engine has stopped".into()));
        }
        TokenStream { events: rx, cancel }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::SeqCst);
        self.jobs.take();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

pub struct TokenStream {
    events: UnboundedReceiver<StreamEvent>,
    cancel: Arc<AtomicBool>,
}

impl TokenStream {
    pub async fn next(&mut self) -> Option<StreamEvent> {
        self.events.recv().await
    }

    /// For callers outside an async runtime (the CLI).
    pub fn blocking_next(&mut self) -> Option<StreamEvent> {
        self.events.blocking_recv()
    }

    /// Asks the engine to stop; the stream then ends with `Finished` (reason `Cancelled`).
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }
}

impl Drop for TokenStream {
    fn drop(&mut self) {
        self.cancel();
    }
}
