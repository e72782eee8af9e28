//! The engine as a service: a worker thread owns the model on its backend (MLX arrays and
//! llama.cpp contexts are not shared between threads) and runs one generation at a time; each generation is an async stream of tokens that
//! can be cancelled, or dropped, at any moment and stops within one token.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::backend::{Backend, BackendKind, Mlx};
use crate::generate::{GenerateOptions, PromptCache, Stats};
use crate::{llamacpp, EngineError, Model};

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
    pub backend: BackendKind,
}

/// Told the bytes written and the total as a first load converts the checkpoint for llama.cpp.
pub type OnConvert = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// How an [`Engine`] runs its checkpoint.
#[derive(Clone)]
pub struct LoadOptions {
    pub backend: BackendKind,
    /// Most positions a conversation holds: llama.cpp allocates its KV cache for this up front
    /// (MLX grows its cache as needed).
    pub context: usize,
    /// Where checkpoints converted for llama.cpp are kept (converted on first load).
    pub converted: PathBuf,
    /// CPU threads for llama.cpp; all of them when `None`.
    pub threads: Option<usize>,
    /// Progress of the one-time conversion (a minute or more for a full-size model).
    pub on_convert: Option<OnConvert>,
}

impl std::fmt::Debug for LoadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadOptions")
            .field("backend", &self.backend)
            .field("context", &self.context)
            .field("converted", &self.converted)
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

impl LoadOptions {
    /// MLX, which needs nothing else.
    pub fn mlx() -> Self {
        LoadOptions {
            backend: BackendKind::Mlx,
            context: 0,
            converted: PathBuf::new(),
            threads: None,
            on_convert: None,
        }
    }

    /// llama.cpp with `context` positions, converting into `converted`.
    pub fn llamacpp(context: usize, converted: impl Into<PathBuf>) -> Self {
        LoadOptions {
            backend: BackendKind::LlamaCpp,
            context,
            converted: converted.into(),
            threads: None,
            on_convert: None,
        }
    }
}

impl Engine {
    /// Loads the checkpoint on MLX, on the engine's own thread.
    pub fn load(dir: impl Into<PathBuf>) -> Result<Self, EngineError> {
        Self::load_with(dir, LoadOptions::mlx())
    }

    /// Loads the checkpoint on the backend `options` name, on the engine's own thread (MLX arrays
    /// and llama.cpp contexts stay on the thread that made them).
    pub fn load_with(dir: impl Into<PathBuf>, options: LoadOptions) -> Result<Self, EngineError> {
        let dir = dir.into();
        let backend = options.backend;
        let (ready_tx, ready_rx) = mpsc::channel();
        let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
        let shutdown = Arc::new(AtomicBool::new(false));
        let stopping = shutdown.clone();
        let worker = std::thread::Builder::new()
            .name("fathom-engine".into())
            .spawn(move || match options.backend {
                BackendKind::Mlx => {
                    let model = match Model::load(&dir) {
                        Ok(model) => model,
                        Err(e) => return drop(ready_tx.send(Err(e))),
                    };
                    let _ = ready_tx.send(Ok(model.config.vocab_size as u32));
                    serve(
                        PromptCache::new(Mlx::new(&model)),
                        jobs_rx,
                        &stopping,
                        false,
                    );
                }
                BackendKind::LlamaCpp => {
                    let report = |done: u64, total: u64| {
                        if let Some(on_convert) = &options.on_convert {
                            on_convert(done, total);
                        }
                    };
                    let loaded = llamacpp::prepare_reporting(&dir, &options.converted, &report)
                        .and_then(|path| llamacpp::GgufModel::load(&path));
                    let model = match loaded {
                        Ok(model) => model,
                        Err(e) => return drop(ready_tx.send(Err(e))),
                    };
                    let context = llamacpp::ContextOptions {
                        threads: options.threads,
                        ..llamacpp::ContextOptions::new(options.context)
                    };
                    let backend = match model.context(&context) {
                        Ok(backend) => backend,
                        Err(e) => return drop(ready_tx.send(Err(e))),
                    };
                    let _ = ready_tx.send(Ok(backend.vocab_size() as u32));
                    serve(PromptCache::new(backend), jobs_rx, &stopping, true);
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
            backend,
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

/// Runs jobs one after another on one kept cache, so the conversation generated last continues
/// without a full prefill. With `passing_threads` (llama.cpp), each reply is made on a thread of
/// its own, whose OpenMP team ends with it: a team kept alive between
/// replies would slow the query encoder's steps (see `fathom_llama::on_passing_thread`). Not
/// MLX's: it keeps a worker for every thread that ever evaluated arrays.
fn serve<B: Backend>(
    mut cache: PromptCache<B>,
    jobs: mpsc::Receiver<Job>,
    stopping: &AtomicBool,
    passing_threads: bool,
) {
    for job in jobs {
        let generate = |cache: &mut PromptCache<B>| {
            cache.generate(
                &job.prompt,
                &job.options,
                &|| job.cancel.load(Ordering::SeqCst) || stopping.load(Ordering::SeqCst),
                &mut |t| {
                    let _ = job.events.send(StreamEvent::Token(t));
                },
            )
        };
        let outcome = if passing_threads {
            fathom_llama::on_passing_thread(&mut cache, generate)
                .unwrap_or_else(|e| Err(EngineError::Input(e)))
        } else {
            generate(&mut cache)
        };
        let _ = job.events.send(match outcome {
            Ok((_, stats)) => StreamEvent::Finished(stats),
            Err(e) => StreamEvent::Failed(e.to_string()),
        });
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
