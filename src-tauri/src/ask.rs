//! Commands of the Ask page and the quick-query window: thin calls into `fathom-agent`.

use fathom_agent::harness::ChatModel;
use fathom_agent::tools::Corpus;
use fathom_agent::{AgentEvent, Asked, Budget, Harness};
use fathom_chat::session::ReplyOptions;
use fathom_chat::store::RunSummary;
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::State;
use ts_rs::TS;

use crate::state::AppState;
use crate::streams::StreamId;
use crate::CommandError;

/// An Ask run as saved in the history.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SavedRun {
    pub id: String,
    pub asked: Asked,
}

/// Context-1 searches the library for `question` with its tools, streaming the trace on
/// `on_progress`, then answers from what it ranked; `cancel_stream` stops it. The run is saved.
#[tauri::command]
pub async fn ask_library(
    state: State<'_, AppState>,
    question: String,
    folder: Option<String>,
    budget: Option<usize>,
    allow_unfit: bool,
    stream: StreamId,
    on_progress: Channel<AgentEvent>,
) -> Result<SavedRun, CommandError> {
    let guard = state.streams.open(stream);
    if question.trim().is_empty() {
        return Err(CommandError::Chat {
            message: "the question is empty".into(),
        });
    }
    let chat = crate::chat::chat(&state)?;
    let index = crate::search::index(&state)?;
    let settings = crate::chat::use_active_model(&state, &chat)?;
    let budget = budget.map_or_else(Budget::default, Budget::new);
    // The model comes first: the vector pass waits until the run ends.
    let _hold = crate::search::hold_vectors(&state);
    let embed = state.semantic.as_ref().and_then(|s| s.query_embed());
    let mut generate = ChatModel {
        chat: &chat,
        options: ReplyOptions {
            allow_unfit: allow_unfit || settings.ignore_fit,
            max_tokens: settings.reply_max_tokens.max(1) as usize,
            // The memory check is asked about the whole budget, and the answer's turn after it.
            context: (budget.total + fathom_agent::answer::ANSWER_CONTEXT) as u64,
            ..ReplyOptions::default()
        },
    };
    let harness = Harness::new(
        Corpus {
            index: &index,
            folder,
            embed: embed.as_deref(),
        },
        chat.harmony.clone(),
        &question,
        budget,
        Some(fathom_chat::conversation::today()),
    );
    let asked = harness
        .ask(&question, &mut generate, guard.token(), &mut |event| {
            // A closed channel (the window went away) is not an error: the run is still saved.
            drop(on_progress.send(event))
        })
        .await?;
    let body = serde_json::to_value(&asked).map_err(|e| CommandError::Chat {
        message: e.to_string(),
    })?;
    let id = crate::chat::store(&state)?.save_run(&question, &body)?;
    Ok(SavedRun { id, asked })
}

/// Past Ask runs, newest first.
#[tauri::command]
pub fn list_runs(state: State<'_, AppState>) -> Result<Vec<RunSummary>, CommandError> {
    Ok(crate::chat::store(&state)?.list_runs()?)
}

/// A saved run (as `SavedRun.asked`).
#[tauri::command]
pub fn get_run(state: State<'_, AppState>, id: String) -> Result<serde_json::Value, CommandError> {
    Ok(crate::chat::store(&state)?.get_run(&id)?)
}

#[tauri::command]
pub fn delete_run(state: State<'_, AppState>, id: String) -> Result<(), CommandError> {
    Ok(crate::chat::store(&state)?.delete_run(&id)?)
}
