//! Ask: the search harness Context-1 was trained with, over the user's library.
//!
//! The model gets four tools ([`tools`]: `search_corpus`, `grep_corpus`, `read_document`,
//! `prune_chunks`, and the `multi_tool_use` wrapper for several at once) and a token
//! [`budget::Budget`]; [`harness`] runs the loop — generate, run the calls, show the results with
//! the usage line — until the model replies with its ranking, which [`output`] parses into ranked
//! documents.

pub mod answer;
pub mod budget;
pub mod harness;
pub mod output;
pub mod prompt;
pub mod tools;

pub use answer::{Answer, Citation};
pub use budget::Budget;
pub use harness::{AgentEvent, Asked, Generate, Harness, Run, RunEnding};
pub use output::{parse_ranking, RankedDocument};
