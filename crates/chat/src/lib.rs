//! Conversations with Context-1.
//!
//! [`conversation`] holds the domain (a conversation's setup, user messages, replies made of
//! reasoning, tool calls and answers); [`harmony`] turns it into the token ids the model reads,
//! following the harmony format's history rules, and parses streamed replies back into parts;
//! [`store`] keeps conversations in SQLite; [`export`] writes one as Markdown; [`session`] runs
//! replies on the engine, loading the model on first use and unloading it when idle, or on a
//! server ([`remote`]).

pub mod conversation;
pub mod export;
pub mod harmony;
pub mod remote;
pub mod session;
pub mod store;

pub use conversation::{Conversation, Effort, Message, Part, Setup, Tool};
pub use harmony::{Harmony, ReplyParser};
pub use store::ChatStore;

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("harmony: {0}")]
    Harmony(String),
    #[error("conversation store {}: {message}", path.display())]
    Store {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("no conversation {0}")]
    NoConversation(String),
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Model(String),
    /// The memory check says the model will not run here; the summary says why.
    #[error("{0}")]
    DoesNotFit(String),
}
