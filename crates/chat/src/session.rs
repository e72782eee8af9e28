//! Replies on the engine. [`ModelHost`] owns the model for chats: it loads on first use (after
//! the memory-fit check, which only an explicit override skips), stays loaded while in use, and
//! unloads after an idle time. [`Chat::reply`] renders a conversation, streams the reply as it is
//! generated and returns it as a [`Message`]. The engine keeps its KV cache between calls, so the
//! next turn of the same conversation prefills only what is new.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use fathom_engine::{
    BackendKind, Engine, FinishReason, GenerateOptions, LoadOptions, SamplingParams, Stats,
    StreamEvent, TokenStream,
};
use fathom_fit::{Memory, Verdict};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::conversation::{Ending, Message, ReplyStats, Setup};
use crate::harmony::{Harmony, PartKind, CALL};
use crate::remote::Server;
use crate::ChatError;
use fathom_remote::{ServerConfig, Timeouts};

/// What the memory check assumes of `backend` on this platform.
pub fn fit_backend(backend: BackendKind) -> fathom_fit::Backend {
    match backend {
        BackendKind::Mlx => fathom_fit::Backend::current(),
        BackendKind::LlamaCpp => fathom_fit::Backend::LlamaCpp,
    }
}

/// How long an unused model stays in memory unless the user chooses otherwise.
pub const DEFAULT_IDLE_UNLOAD: Duration = Duration::from_secs(15 * 60);

struct Loaded {
    dir: PathBuf,
    engine: Arc<Engine>,
    /// The longest context the memory check allows for this model here.
    max_context: u64,
}

struct HostState {
    dir: Option<PathBuf>,
    /// Where replies run when not on this computer.
    server: Option<Arc<Server>>,
    /// What runs the model here, and where llama.cpp's conversions are kept.
    backend: BackendKind,
    converted: PathBuf,
    loaded: Option<Loaded>,
    /// An engine let go while a reply still held it: a new load waits until it is gone, so two
    /// copies of a model are never in memory at once.
    retiring: Weak<Engine>,
    last_used: Instant,
    idle_unload: Duration,
}

type MemoryProbe = Box<dyn Fn() -> Memory + Send + Sync>;

/// The model chats run on: loaded on first use, unloaded when idle.
pub struct ModelHost {
    state: Arc<Mutex<HostState>>,
    memory: MemoryProbe,
    /// Held while loading (seconds, for a large model), apart from `state`, whose lock is only
    /// ever held briefly: asking whether a model is loaded never waits for a load.
    loading: Mutex<()>,
    /// The last conversion for llama.cpp's progress: (bytes written, total). Watchers see each
    /// change; the value stays after it ends (a later load that converts nothing changes nothing).
    converting: tokio::sync::watch::Sender<Option<(u64, u64)>>,
}

impl ModelHost {
    pub fn new(idle_unload: Duration) -> Arc<Self> {
        Self::with_memory(
            idle_unload,
            Box::new(|| Memory::read(fathom_engine::device::gpu_working_set_bytes())),
        )
    }

    /// With a given view of the machine's memory (tests).
    pub fn with_memory(idle_unload: Duration, memory: MemoryProbe) -> Arc<Self> {
        let state = Arc::new(Mutex::new(HostState {
            dir: None,
            server: None,
            backend: BackendKind::Mlx,
            converted: std::env::temp_dir().join("fathom-converted"),
            loaded: None,
            retiring: Weak::new(),
            last_used: Instant::now(),
            idle_unload,
        }));
        watch_idle(Arc::downgrade(&state));
        Arc::new(ModelHost {
            state,
            memory,
            loading: Mutex::new(()),
            converting: tokio::sync::watch::Sender::new(None),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HostState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Which model chats use; a different one unloads the current one.
    pub fn set_model(&self, dir: Option<PathBuf>) {
        let mut state = self.lock();
        if state.loaded.as_ref().map(|l| &l.dir) != dir.as_ref() {
            retire(&mut state);
        }
        state.dir = dir;
    }

    /// Runs replies on `server` (an OpenAI-compatible one) instead of this computer, or with
    /// `None`, here again. The model loaded here is let go: the point is to free the memory.
    /// What runs the model on this computer (MLX until told), and the folder llama.cpp's
    /// conversion of a checkpoint goes to. A loaded model on another backend is let go.
    pub fn set_backend(&self, backend: BackendKind, converted: PathBuf) {
        let mut state = self.lock();
        if state.backend != backend {
            retire(&mut state);
        }
        state.backend = backend;
        state.converted = converted;
    }

    pub fn backend(&self) -> BackendKind {
        self.lock().backend
    }

    pub fn set_server(&self, server: Option<ServerConfig>) -> Result<(), ChatError> {
        self.set_server_with(server, Timeouts::default())
    }

    /// As [`ModelHost::set_server`], waiting as long as `timeouts` say (tests).
    pub fn set_server_with(
        &self,
        server: Option<ServerConfig>,
        timeouts: Timeouts,
    ) -> Result<(), ChatError> {
        let mut state = self.lock();
        match server {
            None => state.server = None,
            // The same server keeps its connections and what was learnt about it.
            Some(config) if state.server.as_ref().is_some_and(|s| s.config == config) => {}
            Some(config) => {
                state.server = Some(Arc::new(Server::new(config, timeouts)?));
                retire(&mut state);
            }
        }
        Ok(())
    }

    /// The server replies run on, if not this computer.
    pub fn server(&self) -> Option<Arc<Server>> {
        self.lock().server.clone()
    }

    pub fn set_idle_unload(&self, idle: Duration) {
        self.lock().idle_unload = idle;
    }

    pub fn is_loaded(&self) -> bool {
        self.lock().loaded.is_some()
    }

    /// Follows the conversions first loads on llama.cpp make: `Some((bytes written, total))` on
    /// each change.
    pub fn conversion(&self) -> tokio::sync::watch::Receiver<Option<(u64, u64)>> {
        self.converting.subscribe()
    }

    /// Frees the model now (a generation in progress keeps its engine until it ends).
    pub fn unload(&self) {
        retire(&mut self.lock());
    }

    /// The engine, loading it if needed (blocking: seconds for a large model). A model the
    /// memory check says will not fit at `context` tokens is refused with the reason, unless
    /// `allow_unfit`. Returns the engine and the context the check allows.
    pub fn engine(&self, context: u64, allow_unfit: bool) -> Result<(Arc<Engine>, u64), ChatError> {
        let _one_load_at_a_time = self.loading.lock().unwrap_or_else(|e| e.into_inner());
        let (dir, retiring, backend, converted) = {
            let mut state = self.lock();
            state.last_used = Instant::now();
            let dir = state.dir.clone().ok_or_else(|| {
                ChatError::Model("no model chosen: download one on the Models page".into())
            })?;
            if let Some(loaded) = &state.loaded {
                return Ok((loaded.engine.clone(), loaded.max_context));
            }
            let converted = state.converted.clone();
            (dir, state.retiring.clone(), state.backend, converted)
        };
        // A reply that still holds the previous engine stops within a token once its stream
        // is dropped or cancelled; wait for it rather than hold two models.
        let deadline = Instant::now() + Duration::from_secs(60);
        while retiring.strong_count() > 0 {
            if Instant::now() > deadline {
                return Err(ChatError::Model(
                    "the previous model is still in use; try again when its reply has ended".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let report =
            fathom_fit::check_dir(&dir, &(self.memory)(), context, fit_backend(backend))
                .map_err(|e| ChatError::Model(format!("cannot check {}: {e}", dir.display())))?;
        let max_context = match report.verdict {
            Verdict::Fits | Verdict::FitsShorterContext => report.max_context,
            Verdict::DoesNotFit if allow_unfit => report.model_max_context,
            Verdict::DoesNotFit => return Err(ChatError::DoesNotFit(report.summary)),
        };
        let options = match backend {
            BackendKind::Mlx => LoadOptions::mlx(),
            BackendKind::LlamaCpp => {
                let converting = self.converting.clone();
                LoadOptions {
                    on_convert: Some(Arc::new(move |done, total| {
                        converting.send_replace(Some((done, total)));
                    })),
                    ..LoadOptions::llamacpp(max_context as usize, converted)
                }
            }
        };
        let engine = Arc::new(load(&dir, options)?);
        let mut state = self.lock();
        if state.dir.as_ref() != Some(&dir) || state.backend != backend {
            return Err(ChatError::Model(
                "the model was changed while it loaded; try again".into(),
            ));
        }
        state.loaded = Some(Loaded {
            dir,
            engine: engine.clone(),
            max_context,
        });
        state.last_used = Instant::now();
        Ok((engine, max_context))
    }

    fn touch(&self) {
        self.lock().last_used = Instant::now();
    }
}

/// Lets go of the loaded engine, remembering it until the last reply using it ends.
fn retire(state: &mut HostState) {
    if let Some(loaded) = state.loaded.take() {
        state.retiring = Arc::downgrade(&loaded.engine);
    }
}

fn load(dir: &Path, options: LoadOptions) -> Result<Engine, ChatError> {
    let backend = options.backend;
    Engine::load_with(dir, options)
        .map_err(|e| ChatError::Model(format!("cannot load the model ({backend}): {e}")))
}

/// Checks now and then whether the model has been idle long enough to unload; ends with the host.
fn watch_idle(state: Weak<Mutex<HostState>>) {
    let _ = std::thread::Builder::new()
        .name("fathom-chat-idle".into())
        .spawn(move || loop {
            let Some(state) = state.upgrade() else { return };
            let pause = {
                let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
                let idle = s.last_used.elapsed();
                // An engine someone still holds (a reply streaming) is in use, not idle.
                let in_use = s
                    .loaded
                    .as_ref()
                    .is_some_and(|l| Arc::strong_count(&l.engine) > 1);
                if in_use {
                    s.last_used = Instant::now();
                } else if s.loaded.is_some() && idle >= s.idle_unload {
                    retire(&mut s);
                }
                (s.idle_unload / 4).clamp(Duration::from_millis(50), Duration::from_secs(10))
            };
            drop(state);
            std::thread::sleep(pause);
        });
}

/// What a streaming reply reports, in order: perhaps `loading`, then `delta`s, then `done` or
/// `failed`.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum ReplyEvent {
    /// The model is being loaded (first use, or after an idle unload).
    Loading,
    /// The first load on llama.cpp converts the checkpoint to GGUF (once; a minute or more for
    /// a full-size model): bytes written of the total.
    #[serde(rename_all = "camelCase")]
    Converting {
        done_bytes: u64,
        total_bytes: u64,
    },
    /// Part `index` of the reply grew by `text`.
    #[serde(rename_all = "camelCase")]
    Delta {
        index: usize,
        part: DeltaKind,
        /// The function a tool-call part calls.
        tool: Option<String>,
        text: String,
    },
    Done {
        message: Message,
    },
    Failed {
        error: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum DeltaKind {
    Reasoning,
    Commentary,
    ToolCall,
    Answer,
}

#[derive(Debug, Clone)]
pub struct ReplyOptions {
    /// At most this many tokens in the reply (also bounded by the context that fits).
    pub max_tokens: usize,
    pub sampling: SamplingParams,
    /// Load a model the memory check refuses.
    pub allow_unfit: bool,
    /// The context the memory check is asked about.
    pub context: u64,
}

impl Default for ReplyOptions {
    fn default() -> Self {
        ReplyOptions {
            max_tokens: 8192,
            // gpt-oss's recommended sampling.
            sampling: SamplingParams {
                temperature: 1.0,
                top_p: 1.0,
                ..SamplingParams::default()
            },
            allow_unfit: false,
            context: fathom_fit::DEFAULT_CONTEXT,
        }
    }
}

pub struct Chat {
    pub harmony: Harmony,
    pub host: Arc<ModelHost>,
}

impl Chat {
    pub fn new(harmony: Harmony, host: Arc<ModelHost>) -> Self {
        Chat { harmony, host }
    }

    /// The reply to `messages` (which end with the user's message, or a tool result). Events
    /// stream to `on_event` as tokens arrive; cancelling `stop` ends the reply within a token,
    /// keeping what came. The returned message is also sent as the `done` event.
    pub async fn reply(
        &self,
        setup: &Setup,
        messages: &[Message],
        options: &ReplyOptions,
        stop: &CancellationToken,
        on_event: &mut (dyn FnMut(ReplyEvent) + Send),
    ) -> Result<Message, ChatError> {
        let outcome = self.run(setup, messages, options, stop, on_event).await;
        match &outcome {
            Ok(message) => on_event(ReplyEvent::Done {
                message: message.clone(),
            }),
            Err(e) => on_event(ReplyEvent::Failed {
                error: e.to_string(),
            }),
        }
        outcome
    }

    async fn run(
        &self,
        setup: &Setup,
        messages: &[Message],
        options: &ReplyOptions,
        stop: &CancellationToken,
        on_event: &mut (dyn FnMut(ReplyEvent) + Send),
    ) -> Result<Message, ChatError> {
        let prompt = self.harmony.render(setup, messages)?;
        let server = self.host.server();
        let local = match server {
            Some(_) => None,
            None => Some(self.engine_reporting(options, on_event).await?),
        };
        let mut parser = self.harmony.parser();
        let mut last = None;
        let mut on_token = |t| {
            last = Some(t);
            if let Some(delta) = parser.push(t) {
                let (part, tool) = match delta.kind {
                    PartKind::Reasoning => (DeltaKind::Reasoning, None),
                    PartKind::Commentary => (DeltaKind::Commentary, None),
                    PartKind::ToolCall { tool } => (DeltaKind::ToolCall, Some(tool)),
                    PartKind::Answer => (DeltaKind::Answer, None),
                };
                on_event(ReplyEvent::Delta {
                    index: delta.index,
                    part,
                    tool,
                    text: delta.text,
                });
            }
        };
        let stats = match server {
            Some(server) => {
                server
                    .reply(
                        &self.harmony,
                        setup,
                        messages,
                        prompt,
                        options,
                        stop,
                        &mut on_token,
                    )
                    .await?
            }
            None => {
                let (engine, max_context) = local.expect("a local engine when no server");
                if stop.is_cancelled() {
                    // Stopped while the model loaded: nothing was generated.
                    return Ok(Message::Assistant {
                        parts: Vec::new(),
                        ending: Ending::Stopped,
                        stats: None,
                    });
                }
                let room = (max_context as usize).saturating_sub(prompt.len());
                if room == 0 {
                    return Err(ChatError::Input(format!(
                        "the conversation ({} tokens) fills the {max_context}-token context this machine allows: start a new one",
                        prompt.len()
                    )));
                }
                let mut stream = engine.generate(
                    prompt.clone(),
                    GenerateOptions {
                        max_tokens: options.max_tokens.min(room),
                        sampling: options.sampling,
                        stop_tokens: self.harmony.stop_tokens(),
                        reuse_cache: true,
                        // Before the reply opens: a reply that leaves nothing in the history
                        // (or is regenerated, or the last message edited) parts from the next
                        // prompt there.
                        marks: vec![prompt
                            .len()
                            .saturating_sub(self.harmony.reply_opening_len())],
                        ..GenerateOptions::default()
                    },
                );
                let stats = drive(&mut stream, stop, &mut on_token).await?;
                drop(engine);
                self.host.touch();
                stats
            }
        };
        // A reply cut short (stopped, out of tokens) inside a message header has nothing worth
        // keeping there; one that broke the format keeps its raw text.
        let cut = stats.finish_reason != FinishReason::Stop;
        let (parts, error) = parser.finish(cut);
        let ending = match (stats.finish_reason, error) {
            (FinishReason::Cancelled, _) => Ending::Stopped,
            (FinishReason::Length, _) => Ending::Length,
            (FinishReason::Stop, Some(_)) => Ending::Malformed,
            (FinishReason::Stop, None) if last == Some(CALL) => Ending::ToolCall,
            (FinishReason::Stop, None) => Ending::Done,
        };
        Ok(Message::Assistant {
            parts,
            ending,
            stats: Some(ReplyStats {
                prompt_tokens: stats.prompt_tokens as u32,
                cached_tokens: stats.cached_tokens as u32,
                generated_tokens: stats.generated_tokens as u32,
                tokens_per_second: stats.decode_tokens_per_second,
                time_to_first_token_seconds: stats.time_to_first_token_seconds,
                seconds: stats.prefill_seconds + stats.decode_seconds,
            }),
        })
    }

    /// The engine, loaded on its own thread if it is not (blocking: seconds for a large model),
    /// and the context the memory check allows.
    async fn engine(&self, options: &ReplyOptions) -> Result<(Arc<Engine>, u64), ChatError> {
        let host = self.host.clone();
        let (context, allow) = (options.context, options.allow_unfit);
        tokio::task::spawn_blocking(move || host.engine(context, allow))
            .await
            .map_err(|e| ChatError::Model(format!("the loader stopped: {e}")))?
    }

    /// [`Self::engine`], telling `on_event` that the model loads and how a conversion goes.
    async fn engine_reporting(
        &self,
        options: &ReplyOptions,
        on_event: &mut (dyn FnMut(ReplyEvent) + Send),
    ) -> Result<(Arc<Engine>, u64), ChatError> {
        if self.host.is_loaded() {
            return self.engine(options).await;
        }
        on_event(ReplyEvent::Loading);
        let mut conversion = self.host.conversion();
        let load = self.engine(options);
        tokio::pin!(load);
        loop {
            tokio::select! {
                // Progress first, so that the last report (the whole file) is not lost to a load
                // that finishes at the same moment.
                biased;
                Ok(()) = conversion.changed() => {
                    let now = *conversion.borrow_and_update();
                    if let Some((done, total)) = now {
                        on_event(ReplyEvent::Converting { done_bytes: done, total_bytes: total });
                    }
                }
                loaded = &mut load => return loaded,
            }
        }
    }

    /// Generates after a raw prompt (harmony's special tokens included), for callers that
    /// render their own prompts: stops at harmony's stop tokens, at `options.max_tokens`, or
    /// within a token of `stop`; each token goes to `on_token`. Shares the engine and its cache
    /// with replies.
    pub async fn complete(
        &self,
        prompt: Vec<u32>,
        options: &ReplyOptions,
        stop: &CancellationToken,
        on_token: &mut (dyn FnMut(u32) + Send),
    ) -> Result<Stats, ChatError> {
        if prompt.is_empty() {
            return Err(ChatError::Input("the prompt is empty".into()));
        }
        if let Some(server) = self.host.server() {
            return server
                .complete(&self.harmony, prompt, options, stop, on_token)
                .await;
        }
        let (engine, max_context) = self.engine(options).await?;
        if let Some(bad) = prompt.iter().find(|&&t| t >= engine.vocab_size) {
            return Err(ChatError::Input(format!(
                "token {bad} is outside the model's vocabulary ({} tokens)",
                engine.vocab_size
            )));
        }
        let room = (max_context as usize).saturating_sub(prompt.len());
        if room == 0 {
            return Err(ChatError::Input(format!(
                "the prompt ({} tokens) fills the {max_context}-token context this machine allows",
                prompt.len()
            )));
        }
        // A prompt rendered as harmony ends by opening the assistant's turn: as with replies, the
        // next prompt parts from this one there when this turn leaves nothing in the history.
        let opening = self
            .harmony
            .encode_with_special_tokens("<|start|>assistant");
        let marks = match prompt.len().checked_sub(opening.len()) {
            Some(at) if at > 0 && prompt[at..] == opening[..] => vec![at],
            _ => Vec::new(),
        };
        let mut stream = engine.generate(
            prompt,
            GenerateOptions {
                max_tokens: options.max_tokens.clamp(1, room),
                sampling: options.sampling,
                stop_tokens: self.harmony.stop_tokens(),
                reuse_cache: true,
                marks,
                ..GenerateOptions::default()
            },
        );
        let stats = drive(&mut stream, stop, on_token).await?;
        drop(engine);
        self.host.touch();
        Ok(stats)
    }
}

/// Pulls a generation to its end, handing each token to `on_token`; cancelling `stop` ends it
/// within a token (the engine then finishes as cancelled, with its figures).
async fn drive(
    stream: &mut TokenStream,
    stop: &CancellationToken,
    on_token: &mut (dyn FnMut(u32) + Send),
) -> Result<Stats, ChatError> {
    let mut stopping = false;
    loop {
        let event = tokio::select! {
            event = stream.next() => event,
            _ = stop.cancelled(), if !stopping => {
                stopping = true;
                stream.cancel();
                continue;
            }
        };
        match event {
            Some(StreamEvent::Token(t)) => on_token(t),
            Some(StreamEvent::Finished(stats)) => return Ok(stats),
            Some(StreamEvent::Failed(e)) => return Err(ChatError::Model(e)),
            None => return Err(ChatError::Model("the engine stopped".into())),
        }
    }
}
