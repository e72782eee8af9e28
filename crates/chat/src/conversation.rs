//! A conversation as Fathom keeps it: the setup that becomes the system and developer messages,
//! then user messages and the model's replies. A reply is a list of parts in the order the model
//! produced them; the harmony channels are an encoding detail of [`crate::harmony`].

use serde::{Deserialize, Serialize};

/// How long the model thinks before answering (harmony's `Reasoning:` line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "lowercase")]
pub enum Effort {
    Low,
    #[default]
    Medium,
    High,
}

impl Effort {
    pub fn as_str(self) -> &'static str {
        match self {
            Effort::Low => "low",
            Effort::Medium => "medium",
            Effort::High => "high",
        }
    }
}

impl std::str::FromStr for Effort {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "low" => Ok(Effort::Low),
            "medium" => Ok(Effort::Medium),
            "high" => Ok(Effort::High),
            other => Err(format!(
                "reasoning effort must be low, medium or high, not {other:?}"
            )),
        }
    }
}

/// A function the model may call, declared in the developer message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Tool {
    pub name: String,
    pub description: String,
    /// A JSON schema for the arguments; none for a tool without arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<serde_json::Value>,
}

/// What the system and developer messages say. Fixed when the conversation starts (the date
/// too), so that every turn renders the same prefix and the engine's cache stays valid.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Setup {
    pub effort: Effort,
    /// The conversation's start date, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// The user's own instructions for this conversation (harmony's developer instructions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
}

/// Today's date (local time), `YYYY-MM-DD`, as the system message carries it.
pub fn today() -> String {
    jiff::Zoned::now().date().to_string()
}

impl Setup {
    /// A new conversation's setup, dated today (local time).
    pub fn starting_today(effort: Effort, instructions: Option<String>) -> Setup {
        Setup {
            effort,
            date: Some(today()),
            instructions: instructions.filter(|i| !i.trim().is_empty()),
            tools: Vec::new(),
        }
    }
}

/// One piece of a reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Part {
    /// Chain of thought (the `analysis` channel), shown folded as "thinking".
    Reasoning { text: String },
    /// A note to the user between tool calls (`commentary` without a recipient).
    Commentary { text: String },
    /// A call of a declared function, with what it returned once it has run.
    #[serde(rename_all = "camelCase")]
    ToolCall {
        tool: String,
        arguments: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<String>,
    },
    /// The answer (the `final` channel).
    Answer { text: String },
}

impl Part {
    pub fn text(&self) -> &str {
        match self {
            Part::Reasoning { text } | Part::Commentary { text } | Part::Answer { text } => text,
            Part::ToolCall { arguments, .. } => arguments,
        }
    }
}

/// Figures shown under a reply.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ReplyStats {
    pub prompt_tokens: u32,
    /// Prompt tokens the engine's cache already held.
    pub cached_tokens: u32,
    pub generated_tokens: u32,
    pub tokens_per_second: f64,
    pub time_to_first_token_seconds: f64,
    pub seconds: f64,
}

/// How a reply ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum Ending {
    /// The model finished its answer.
    #[default]
    Done,
    /// The user stopped it.
    Stopped,
    /// It reached the reply's token limit.
    Length,
    /// It called a tool and waits for the result.
    ToolCall,
    /// The model's output broke the format; what came is kept as it was.
    Malformed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "role", rename_all = "camelCase")]
pub enum Message {
    User {
        text: String,
    },
    #[serde(rename_all = "camelCase")]
    Assistant {
        parts: Vec<Part>,
        #[serde(default)]
        ending: Ending,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stats: Option<ReplyStats>,
    },
}

impl Message {
    pub fn user(text: impl Into<String>) -> Self {
        Message::User { text: text.into() }
    }

    pub fn reply(parts: Vec<Part>) -> Self {
        Message::Assistant {
            parts,
            ending: Ending::Done,
            stats: None,
        }
    }

    /// The text a search over conversations looks at.
    pub fn searchable_text(&self) -> String {
        match self {
            Message::User { text } => text.clone(),
            Message::Assistant { parts, .. } => parts
                .iter()
                .map(|p| match p {
                    Part::ToolCall {
                        tool,
                        arguments,
                        output,
                    } => format!("{tool} {arguments} {}", output.as_deref().unwrap_or("")),
                    other => other.text().to_string(),
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub id: String,
    pub title: String,
    pub setup: Setup,
    pub messages: Vec<Message>,
    /// Unix milliseconds.
    pub created_ms: i64,
    pub updated_ms: i64,
}
