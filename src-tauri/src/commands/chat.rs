//! Commands of the Chat page.

use std::path::PathBuf;

use fathom_chat::session::ReplyEvent;
use fathom_chat::store::ConversationSummary;
use fathom_chat::{Conversation, Effort};
use fathom_core::ReplyAction;
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_dialog::DialogExt;

use crate::app::{AppState, CommandError, StreamId};

/// Conversations, most recent first; with a query, those whose title or text contains it.
#[tauri::command]
#[specta::specta]
pub fn list_conversations(
    state: State<'_, AppState>,
    query: Option<String>,
) -> Result<Vec<ConversationSummary>, CommandError> {
    Ok(state.core.conversations(query.as_deref())?)
}

#[tauri::command]
#[specta::specta]
pub fn get_conversation(
    state: State<'_, AppState>,
    id: String,
) -> Result<Conversation, CommandError> {
    Ok(state.core.conversation(&id)?)
}

#[tauri::command]
#[specta::specta]
pub fn new_conversation(
    state: State<'_, AppState>,
    effort: Effort,
    instructions: Option<String>,
) -> Result<Conversation, CommandError> {
    Ok(state.core.new_conversation(effort, instructions, None)?)
}

#[tauri::command]
#[specta::specta]
pub fn rename_conversation(
    state: State<'_, AppState>,
    id: String,
    title: String,
) -> Result<Conversation, CommandError> {
    Ok(state.core.rename_conversation(&id, &title)?)
}

#[tauri::command]
#[specta::specta]
pub fn delete_conversation(state: State<'_, AppState>, id: String) -> Result<(), CommandError> {
    Ok(state.core.delete_conversation(&id)?)
}

/// Changes the reasoning effort and instructions for the conversation's next replies.
#[tauri::command]
#[specta::specta]
pub fn set_conversation_setup(
    state: State<'_, AppState>,
    id: String,
    effort: Effort,
    instructions: Option<String>,
) -> Result<Conversation, CommandError> {
    Ok(state
        .core
        .set_conversation_setup(&id, effort, instructions)?)
}

/// Writes the conversation as Markdown to `path`, or where the user picks in a save dialog.
/// Returns the path written, or `None` when the dialog was cancelled.
#[tauri::command]
#[specta::specta]
pub async fn export_conversation<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    id: String,
    path: Option<String>,
) -> Result<Option<String>, CommandError> {
    let (name, markdown) = state.core.export_conversation(&id)?;
    let path = match path {
        Some(p) => PathBuf::from(p),
        None => {
            let (tx, rx) = tokio::sync::oneshot::channel();
            app.dialog()
                .file()
                .set_file_name(name)
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

/// Applies `action` to the stored conversation and streams the model's reply on `on_progress`;
/// `cancel_stream` stops it within a token, keeping what came. Returns the conversation with
/// the reply saved.
#[tauri::command]
#[specta::specta]
pub async fn chat_reply(
    state: State<'_, AppState>,
    id: String,
    action: ReplyAction,
    allow_unfit: bool,
    stream: StreamId,
    on_progress: Channel<ReplyEvent>,
) -> Result<Conversation, CommandError> {
    let guard = state.streams.open(stream);
    Ok(state
        .core
        .reply(
            &id,
            action,
            allow_unfit,
            guard.token(),
            // A closed channel (the page went away) is not an error: the reply is still saved.
            &mut |event| drop(on_progress.send(event)),
        )
        .await?)
}
