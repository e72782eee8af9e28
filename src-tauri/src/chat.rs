//! Commands of the Chat page: thin calls into `fathom-chat`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use fathom_chat::export::to_markdown;
use fathom_chat::session::{Chat, ReplyEvent, ReplyOptions};
use fathom_chat::store::ConversationSummary;
use fathom_chat::{ChatError, ChatStore, Conversation, Effort, Message, Setup};
use serde::Deserialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_dialog::DialogExt;
use ts_rs::TS;

use crate::commands::SettingsView;
use crate::state::{lock, AppState};
use crate::streams::StreamId;
use crate::CommandError;

impl From<ChatError> for CommandError {
    fn from(e: ChatError) -> Self {
        match e {
            ChatError::DoesNotFit(summary) => CommandError::DoesNotFit { summary },
            ChatError::Model(message) => CommandError::Model {
                message,
                detail: None,
            },
            e => CommandError::Chat {
                message: e.to_string(),
            },
        }
    }
}

pub(crate) fn store(state: &AppState) -> Result<&ChatStore, CommandError> {
    state.chats.as_ref().map_err(|message| CommandError::Chat {
        message: message.clone(),
    })
}

pub(crate) fn chat(state: &AppState) -> Result<Arc<Chat>, CommandError> {
    state
        .chat
        .clone()
        .map_err(|message| CommandError::Chat { message })
}

/// How long an unused model stays loaded, from the settings (0: until Fathom quits).
pub fn idle_unload(minutes: u32) -> Duration {
    match minutes {
        0 => Duration::from_secs(100 * 365 * 24 * 3600),
        m => Duration::from_secs(u64::from(m) * 60),
    }
}

/// Points the chat host at the model chosen on the Models page (with the idle time from the
/// settings); the settings, for the rest of the request.
pub(crate) fn use_active_model(
    state: &AppState,
    chat: &Chat,
) -> Result<fathom_store::Settings, CommandError> {
    let settings = lock(&state.settings).clone();
    let repo = settings
        .active_model
        .clone()
        .ok_or_else(|| CommandError::Model {
            message: "No model chosen yet: download or pick one on the Models page.".into(),
            detail: None,
        })?;
    let model = state
        .models
        .store
        .find(&repo)
        .ok_or_else(|| CommandError::Model {
            message: format!("{repo} is no longer installed: pick a model on the Models page."),
            detail: None,
        })?;
    chat.host.set_model(Some(PathBuf::from(model.path)));
    chat.host
        .set_idle_unload(idle_unload(settings.model_idle_minutes));
    Ok(settings)
}

/// Conversations, most recent first; with a query, those whose title or text contains it.
#[tauri::command]
pub fn list_conversations(
    state: State<'_, AppState>,
    query: Option<String>,
) -> Result<Vec<ConversationSummary>, CommandError> {
    let store = store(&state)?;
    Ok(match query.as_deref().map(str::trim) {
        Some(q) if !q.is_empty() => store.search(q)?,
        _ => store.list()?,
    })
}

#[tauri::command]
pub fn get_conversation(
    state: State<'_, AppState>,
    id: String,
) -> Result<Conversation, CommandError> {
    Ok(store(&state)?.get(&id)?)
}

#[tauri::command]
pub fn new_conversation(
    state: State<'_, AppState>,
    effort: Effort,
    instructions: Option<String>,
) -> Result<Conversation, CommandError> {
    Ok(store(&state)?.create(&Setup::starting_today(effort, instructions), None)?)
}

#[tauri::command]
pub fn rename_conversation(
    state: State<'_, AppState>,
    id: String,
    title: String,
) -> Result<Conversation, CommandError> {
    let store = store(&state)?;
    store.rename(&id, &title)?;
    Ok(store.get(&id)?)
}

#[tauri::command]
pub fn delete_conversation(state: State<'_, AppState>, id: String) -> Result<(), CommandError> {
    Ok(store(&state)?.delete(&id)?)
}

/// Changes the reasoning effort and instructions for the conversation's next replies.
#[tauri::command]
pub fn set_conversation_setup(
    state: State<'_, AppState>,
    id: String,
    effort: Effort,
    instructions: Option<String>,
) -> Result<Conversation, CommandError> {
    let store = store(&state)?;
    let mut setup = store.get(&id)?.setup;
    setup.effort = effort;
    setup.instructions = instructions.filter(|i| !i.trim().is_empty());
    store.set_setup(&id, &setup)?;
    Ok(store.get(&id)?)
}

/// Writes the conversation as Markdown to `path`, or where the user picks in a save dialog.
/// Returns the path written, or `None` when the dialog was cancelled.
#[tauri::command]
pub async fn export_conversation<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    id: String,
    path: Option<String>,
) -> Result<Option<String>, CommandError> {
    let conversation = store(&state)?.get(&id)?;
    let markdown = to_markdown(&conversation);
    let path = match path {
        Some(p) => PathBuf::from(p),
        None => {
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
            let name = if name.trim().is_empty() {
                "Conversation".into()
            } else {
                name
            };
            let (tx, rx) = tokio::sync::oneshot::channel();
            app.dialog()
                .file()
                .set_file_name(format!("{}.md", name.trim()))
                .add_filter("Markdown", &["md"])
                .save_file(move |picked| {
                    let _ = tx.send(picked.and_then(|p| p.into_path().ok()));
                });
            match rx.await.ok().flatten() {
                Some(p) => p,
                None => return Ok(None),
            }
        }
    };
    std::fs::write(&path, markdown).map_err(|e| CommandError::Storage {
        message: format!("cannot write {}: {e}", path.display()),
    })?;
    Ok(Some(path.display().to_string()))
}

/// What the user asked for: a new message, another reply to the last one, or an earlier
/// message changed (what followed it goes).
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ReplyAction {
    Send { text: String },
    Regenerate,
    Edit { index: usize, text: String },
}

/// Applies `action` to the stored conversation and streams the model's reply on `on_progress`;
/// `cancel_stream` stops it within a token, keeping what came. Returns the conversation with
/// the reply saved.
#[tauri::command]
pub async fn chat_reply(
    state: State<'_, AppState>,
    id: String,
    action: ReplyAction,
    allow_unfit: bool,
    stream: StreamId,
    on_progress: Channel<ReplyEvent>,
) -> Result<Conversation, CommandError> {
    let guard = state.streams.open(stream);
    let store = store(&state)?;
    let chat = chat(&state)?;
    // The model comes first: the vector pass waits until the reply ends.
    let _hold = crate::search::hold_vectors(&state);
    let mut conversation = store.get(&id)?;
    let messages = &mut conversation.messages;
    match action {
        ReplyAction::Send { text } => {
            if text.trim().is_empty() {
                return Err(CommandError::Chat {
                    message: "the message is empty".into(),
                });
            }
            let message = Message::user(text);
            store.append(&id, std::slice::from_ref(&message))?;
            messages.push(message);
        }
        ReplyAction::Regenerate => {
            let last_user = messages
                .iter()
                .rposition(|m| matches!(m, Message::User { .. }))
                .ok_or_else(|| CommandError::Chat {
                    message: "nothing to reply to yet".into(),
                })?;
            messages.truncate(last_user + 1);
            store.replace_from(&id, last_user + 1, &[])?;
        }
        ReplyAction::Edit { index, text } => {
            if !matches!(messages.get(index), Some(Message::User { .. })) || text.trim().is_empty()
            {
                return Err(CommandError::Chat {
                    message: format!("message {index} is not a message of yours to edit"),
                });
            }
            let message = Message::user(text);
            store.replace_from(&id, index, std::slice::from_ref(&message))?;
            messages.truncate(index);
            messages.push(message);
        }
    }
    let settings = use_active_model(&state, &chat)?;
    let options = ReplyOptions {
        allow_unfit: allow_unfit || settings.ignore_fit,
        max_tokens: settings.reply_max_tokens.max(1) as usize,
        ..ReplyOptions::default()
    };
    let reply = chat
        .reply(
            &conversation.setup,
            &conversation.messages,
            &options,
            guard.token(),
            // A closed channel (the page went away) is not an error: the reply is still saved.
            &mut |event| drop(on_progress.send(event)),
        )
        .await?;
    store.append(&id, &[reply])?;
    Ok(store.get(&id)?)
}

/// Frees the model's memory now; the next reply loads it again.
#[tauri::command]
pub fn unload_model(state: State<'_, AppState>) -> Result<(), CommandError> {
    chat(&state)?.host.unload();
    Ok(())
}

/// Minutes an unused model stays loaded (0: until Fathom quits).
#[tauri::command]
pub fn set_model_idle_minutes(
    state: State<'_, AppState>,
    minutes: u32,
) -> Result<SettingsView, CommandError> {
    state.update_settings(|s| s.model_idle_minutes = minutes)?;
    if let Ok(chat) = &state.chat {
        chat.host.set_idle_unload(idle_unload(minutes));
    }
    Ok(crate::commands::get_settings(state))
}
