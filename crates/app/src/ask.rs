//! Ask: Context-1 searches the library with its own tools, ranks what it found and answers from
//! it with checked citations. Runs are kept, typed, in the conversation store.

use std::path::PathBuf;

use fathom_agent::harness::ChatModel;
use fathom_agent::tools::Corpus;
use fathom_agent::{AgentEvent, Asked, Budget, Harness};
use fathom_chat::store::RunSummary;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::{Error, Result};

/// A question for the library, with how the search may run.
#[derive(Debug, Clone, Default)]
pub struct Question {
    pub text: String,
    /// Only this library folder (its id).
    pub folder: Option<String>,
    /// Tokens the search may use in all ([`Budget::default`] when not given).
    pub budget: Option<usize>,
    /// Load the model even if the memory check says it does not fit.
    pub allow_unfit: bool,
    /// A model folder; else the active model.
    pub model: Option<PathBuf>,
    /// Most model turns before it must rank what it has.
    pub max_turns: Option<u32>,
    /// Longest single reply, in tokens (else the settings' reply limit).
    pub max_tokens: Option<usize>,
    pub seed: Option<u64>,
}

/// An Ask run as saved in the history.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SavedRun {
    pub id: String,
    pub asked: Asked,
}

impl App {
    /// Runs `question`, streaming the trace to `on_event`; a stop ends it, ranking what was
    /// found so far. The run is saved in the history.
    pub async fn ask(
        &self,
        question: Question,
        stop: &CancellationToken,
        on_event: &mut (dyn FnMut(AgentEvent) + Send),
    ) -> Result<SavedRun> {
        if question.text.trim().is_empty() {
            return Err(Error::Chat("the question is empty".into()));
        }
        let passages = self.passages()?;
        let store = self.store()?;
        let (chat, mut options) =
            self.chat_session(question.model.clone(), question.allow_unfit)?;
        let budget = question.budget.map_or_else(Budget::default, Budget::new);
        // The memory check is asked about the whole budget, and the answer's turn after it.
        options.context = (budget.total + fathom_agent::answer::ANSWER_CONTEXT) as u64;
        if let Some(max) = question.max_tokens {
            options.max_tokens = max;
        }
        options.sampling.seed = question.seed;
        // The model comes first: the vector pass waits until the run ends.
        let _hold = self.hold_vectors();
        let embed = self.query_embed();
        let mut model = ChatModel {
            chat: &chat,
            options,
        };
        let mut harness = Harness::new(
            Corpus {
                index: &*passages,
                folder: question.folder.clone(),
                embed: embed.as_deref(),
            },
            chat.harmony.clone(),
            &question.text,
            budget,
            Some(fathom_chat::conversation::today()),
        );
        if let Some(turns) = question.max_turns {
            harness.max_turns = turns;
        }
        let asked = harness
            .ask(&question.text, &mut model, stop, on_event)
            .await?;
        let id = store.save_run(&question.text, &asked)?;
        Ok(SavedRun { id, asked })
    }

    /// Past Ask runs, newest first.
    pub fn runs(&self) -> Result<Vec<RunSummary>> {
        Ok(self.store()?.list_runs()?)
    }

    /// A saved run.
    pub fn run(&self, id: &str) -> Result<Asked> {
        Ok(self.store()?.get_run(id)?)
    }

    pub fn delete_run(&self, id: &str) -> Result<()> {
        Ok(self.store()?.delete_run(id)?)
    }
}
