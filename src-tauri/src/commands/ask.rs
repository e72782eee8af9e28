//! Commands of the Ask page and the quick-query window.

use fathom_agent::{AgentEvent, Asked};
use fathom_chat::store::RunSummary;
use fathom_core::{Question, SavedRun};
use tauri::ipc::Channel;
use tauri::State;

use crate::app::{AppState, CommandError, StreamId};

/// Context-1 searches the library for `question` with its tools, streaming the trace on
/// `on_progress`, then answers from what it ranked; `cancel_stream` stops it. The run is saved.
#[tauri::command]
#[specta::specta]
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
    let question = Question {
        text: question,
        folder,
        budget,
        allow_unfit,
        ..Question::default()
    };
    Ok(state
        .core
        .ask(question, guard.token(), &mut |event| {
            // A closed channel (the window went away) is not an error: the run is still saved.
            drop(on_progress.send(event))
        })
        .await?)
}

/// Past Ask runs, newest first.
#[tauri::command]
#[specta::specta]
pub fn list_runs(state: State<'_, AppState>) -> Result<Vec<RunSummary>, CommandError> {
    Ok(state.core.runs()?)
}

/// A saved run (as `SavedRun.asked`).
#[tauri::command]
#[specta::specta]
pub fn get_run(state: State<'_, AppState>, id: String) -> Result<Asked, CommandError> {
    Ok(state.core.run(&id)?)
}

#[tauri::command]
#[specta::specta]
pub fn delete_run(state: State<'_, AppState>, id: String) -> Result<(), CommandError> {
    Ok(state.core.delete_run(&id)?)
}
