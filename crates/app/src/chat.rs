//! The conversations' use cases: the stored conversations, and a reply from the model.

use std::path::PathBuf;
use std::sync::Arc;

use fathom_chat::session::{Chat, ReplyEvent, ReplyOptions};
use fathom_chat::store::ConversationSummary;
use fathom_chat::{Conversation, Effort, Message, Setup};
use fathom_engine::{BackendKind, LoadOptions};
use fathom_store::{ComputeBackend, EnginePlace, ServerSettings};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::app::{backend_kind, converted_dir, idle_unload, App};
use crate::{Error, Result};

/// How one reply may differ from the settings' defaults (for faces whose callers choose: the
/// API server's requests, the CLI's flags).
#[derive(Debug, Clone, Default)]
pub struct ReplyWith {
    /// A model folder; else the active model.
    pub model: Option<PathBuf>,
    pub max_tokens: Option<usize>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub seed: Option<u64>,
    /// Load the model even if the memory check says it does not fit.
    pub allow_unfit: bool,
}

/// What the person asked for: a new message, another reply to the last one, or an earlier
/// message changed (what followed it goes).
#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ReplyAction {
    Send { text: String },
    Regenerate,
    Edit { index: usize, text: String },
}

impl App {
    /// Conversations, most recent first; with a query, those whose title or text contains it.
    pub fn conversations(&self, query: Option<&str>) -> Result<Vec<ConversationSummary>> {
        let store = self.store()?;
        Ok(match query.map(str::trim) {
            Some(q) if !q.is_empty() => store.search(q)?,
            _ => store.list()?,
        })
    }

    pub fn conversation(&self, id: &str) -> Result<Conversation> {
        Ok(self.store()?.get(id)?)
    }

    pub fn new_conversation(
        &self,
        effort: Effort,
        instructions: Option<String>,
        title: Option<&str>,
    ) -> Result<Conversation> {
        Ok(self
            .store()?
            .create(&Setup::starting_today(effort, instructions), title)?)
    }

    pub fn rename_conversation(&self, id: &str, title: &str) -> Result<Conversation> {
        let store = self.store()?;
        store.rename(id, title)?;
        Ok(store.get(id)?)
    }

    pub fn delete_conversation(&self, id: &str) -> Result<()> {
        Ok(self.store()?.delete(id)?)
    }

    /// Changes the reasoning effort and instructions for the conversation's next replies.
    pub fn set_conversation_setup(
        &self,
        id: &str,
        effort: Effort,
        instructions: Option<String>,
    ) -> Result<Conversation> {
        let store = self.store()?;
        let mut setup = store.get(id)?.setup;
        setup.effort = effort;
        setup.instructions = instructions.filter(|i| !i.trim().is_empty());
        store.set_setup(id, &setup)?;
        Ok(store.get(id)?)
    }

    /// The conversation as Markdown, with a file name made from its title.
    pub fn export_conversation(&self, id: &str) -> Result<(String, String)> {
        let conversation = self.store()?.get(id)?;
        let name: String = conversation
            .title
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == ' ' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let name = match name.trim() {
            "" => "Conversation".to_string(),
            n => n.to_string(),
        };
        Ok((
            format!("{name}.md"),
            fathom_chat::export::to_markdown(&conversation),
        ))
    }

    /// The conversation store, for faces that keep conversations their own way (the CLI's
    /// `--save` and `--continue`).
    pub fn conversation_store(&self) -> Result<&fathom_chat::ChatStore> {
        self.store()
    }

    /// Points the chat host at `model` (else the model chats run on, with the idle time from the
    /// settings); the chat and the reply options the settings give. For faces that hold their own
    /// messages (the CLI's terminal chat, the API server); [`App::reply`] uses it too.
    pub fn chat_session(
        &self,
        model: Option<PathBuf>,
        allow_unfit: bool,
    ) -> Result<(Arc<Chat>, ReplyOptions)> {
        let chat = self.chat()?;
        let settings = self.settings();
        match model {
            // A model named by the caller runs here.
            Some(dir) => {
                chat.host.set_server(None)?;
                chat.host.set_model(Some(dir));
            }
            None if settings.engine == EnginePlace::Server => {
                chat.host
                    .set_server(Some(server_config(&settings.server)?))?;
            }
            None => {
                chat.host.set_server(None)?;
                chat.host.set_model(Some(self.active_model_dir()?));
            }
        }
        chat.host
            .set_idle_unload(idle_unload(settings.model_idle_minutes));
        let options = ReplyOptions {
            allow_unfit: allow_unfit || settings.ignore_fit,
            max_tokens: settings.reply_max_tokens.max(1) as usize,
            ..ReplyOptions::default()
        };
        Ok((chat, options))
    }

    /// Applies `action` to the stored conversation and streams the model's reply to `on_event`;
    /// a stop ends it within a token, keeping what came. Returns the conversation with the reply
    /// saved.
    pub async fn reply(
        &self,
        id: &str,
        action: ReplyAction,
        allow_unfit: bool,
        stop: &CancellationToken,
        on_event: &mut (dyn FnMut(ReplyEvent) + Send),
    ) -> Result<Conversation> {
        let store = self.store()?;
        // The model comes first: the vector pass waits until the reply ends.
        let _hold = self.hold_vectors();
        let mut conversation = store.get(id)?;
        let messages = &mut conversation.messages;
        match action {
            ReplyAction::Send { text } => {
                if text.trim().is_empty() {
                    return Err(Error::Chat("the message is empty".into()));
                }
                let message = Message::user(text);
                store.append(id, std::slice::from_ref(&message))?;
                messages.push(message);
            }
            ReplyAction::Regenerate => {
                let last_user = messages
                    .iter()
                    .rposition(|m| matches!(m, Message::User { .. }))
                    .ok_or_else(|| Error::Chat("nothing to reply to yet".into()))?;
                messages.truncate(last_user + 1);
                store.replace_from(id, last_user + 1, &[])?;
            }
            ReplyAction::Edit { index, text } => {
                if !matches!(messages.get(index), Some(Message::User { .. }))
                    || text.trim().is_empty()
                {
                    return Err(Error::Chat(format!(
                        "message {index} is not a message of yours to edit"
                    )));
                }
                let message = Message::user(text);
                store.replace_from(id, index, std::slice::from_ref(&message))?;
                messages.truncate(index);
                messages.push(message);
            }
        }
        let (chat, options) = self.chat_session(None, allow_unfit)?;
        let reply = chat
            .reply(
                &conversation.setup,
                &conversation.messages,
                &options,
                stop,
                on_event,
            )
            .await?;
        store.append(id, &[reply])?;
        Ok(store.get(id)?)
    }

    /// The model's reply to `messages` (which end with a user message or a tool's output), kept
    /// nowhere: for callers that hold their own conversation (the API server). Streams to
    /// `on_event`; a stop ends it within a token, keeping what came.
    pub async fn reply_to(
        &self,
        setup: &Setup,
        messages: &[Message],
        with: ReplyWith,
        stop: &CancellationToken,
        on_event: &mut (dyn FnMut(ReplyEvent) + Send),
    ) -> Result<Message> {
        if messages.is_empty() {
            return Err(Error::Chat("there are no messages to reply to".into()));
        }
        let _hold = self.hold_vectors();
        let (chat, mut options) = self.chat_session(with.model, with.allow_unfit)?;
        if let Some(max) = with.max_tokens {
            options.max_tokens = max.max(1);
        }
        if let Some(t) = with.temperature {
            options.sampling.temperature = t;
        }
        if let Some(p) = with.top_p {
            options.sampling.top_p = p;
        }
        options.sampling.seed = with.seed;
        Ok(chat
            .reply(setup, messages, &options, stop, on_event)
            .await?)
    }

    /// Harmony's encoding, as replies use it (for faces that take raw prompts).
    pub fn harmony(&self) -> Result<fathom_chat::Harmony> {
        Ok(self.chat()?.harmony.clone())
    }

    /// Generates after a raw prompt (token ids, harmony's special tokens included), as the
    /// engine sees it: for callers that render their own prompts (the API's `/v1/completions`,
    /// agent harnesses). Stops at harmony's stop tokens, at `with.max_tokens` (16 when not
    /// given, as OpenAI's completions do), or within a token of `stop`; each token goes to
    /// `on_token`. The engine's cache is shared with chat replies, so a prompt that continues
    /// an earlier one prefills only what is new.
    pub async fn complete(
        &self,
        prompt: Vec<u32>,
        with: ReplyWith,
        stop: &CancellationToken,
        on_token: &mut (dyn FnMut(u32) + Send),
    ) -> Result<fathom_engine::Stats> {
        let _hold = self.hold_vectors();
        let (chat, mut options) = self.chat_session(with.model, with.allow_unfit)?;
        options.max_tokens = with.max_tokens.unwrap_or(16);
        if let Some(t) = with.temperature {
            options.sampling.temperature = t;
        }
        if let Some(p) = with.top_p {
            options.sampling.top_p = p;
        }
        options.sampling.seed = with.seed;
        Ok(chat.complete(prompt, &options, stop, on_token).await?)
    }

    /// Where chat and Ask run: on this computer, or on `server`. Choosing a server checks its
    /// address (not that it answers: [`App::server_models`] does) and frees the local model.
    pub fn set_engine(&self, place: EnginePlace, server: ServerSettings) -> Result<()> {
        let server = ServerSettings {
            url: server.url.trim().to_string(),
            key: server
                .key
                .map(|k| k.trim().to_string())
                .filter(|k| !k.is_empty()),
            model: server
                .model
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty()),
        };
        let config = match place {
            EnginePlace::Server => Some(server_config(&server)?),
            EnginePlace::Computer => None,
        };
        self.update_settings(|s| {
            s.engine = place;
            s.server = server;
        })?;
        if let Ok(chat) = &self.chat {
            chat.host.set_server(config)?;
        }
        Ok(())
    }

    /// What runs the model on this computer (Settings → "Where the model runs"); a loaded model
    /// on another backend is let go.
    pub fn set_backend(&self, choice: ComputeBackend) -> Result<()> {
        self.update_settings(|s| s.backend = choice)?;
        self.use_backend(backend_kind(choice));
        Ok(())
    }

    /// Runs the model on `backend` from now on without changing the settings (the CLI's
    /// `--backend`).
    pub fn use_backend(&self, backend: BackendKind) {
        if let Ok(chat) = &self.chat {
            chat.host.set_backend(backend, converted_dir(&self.dirs));
        }
    }

    /// How a face that runs the engine itself (`fathom generate`, the benchmarks) loads a model
    /// for `context` positions: the backend chat uses, the folder its conversions go to.
    pub fn load_options(&self, context: usize) -> LoadOptions {
        match self.backend() {
            BackendKind::Mlx => LoadOptions::mlx(),
            BackendKind::LlamaCpp => LoadOptions::llamacpp(context, converted_dir(&self.dirs)),
        }
    }

    /// What runs the model on this computer now.
    pub fn backend(&self) -> BackendKind {
        match &self.chat {
            Ok(chat) => chat.host.backend(),
            Err(_) => backend_kind(self.settings().backend),
        }
    }

    /// The models `server` offers (which also shows that it answers, and takes the key).
    pub async fn server_models(&self, server: &ServerSettings) -> Result<Vec<String>> {
        let remote = fathom_remote::Remote::new(server_config(server)?)
            .map_err(|e| Error::model(e.to_string()))?;
        remote
            .models()
            .await
            .map_err(|e| Error::model(e.to_string()))
    }

    /// Frees the model's memory now; the next reply loads it again.
    pub fn unload_model(&self) -> Result<()> {
        self.chat()?.host.unload();
        Ok(())
    }

    /// Whether the model is in memory now.
    pub fn model_loaded(&self) -> bool {
        matches!(&self.chat, Ok(chat) if chat.host.is_loaded())
    }
}

/// The server chat and Ask run on, from the settings.
fn server_config(server: &ServerSettings) -> Result<fathom_remote::ServerConfig> {
    if server.url.trim().is_empty() {
        return Err(Error::model(
            "No server address set: enter one in Settings, under where the model runs.",
        ));
    }
    let config = fathom_remote::ServerConfig {
        url: server.url.clone(),
        key: server.key.clone(),
        model: server.model.clone(),
    };
    // The address is checked now, so a bad one is refused when it is entered.
    fathom_remote::Remote::new(config.clone()).map_err(|e| Error::model(e.to_string()))?;
    Ok(config)
}
