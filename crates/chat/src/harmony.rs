//! The harmony format through OpenAI's own implementation (the `openai-harmony` crate, the Rust
//! core of the Python package the tests compare with). Fathom adds two things: the vocabulary
//! ships inside the binary (the crate would download it), and the mapping between Fathom's
//! conversations and harmony messages, with the history rule that drops a finished reply's
//! reasoning.

use std::path::Path;
use std::sync::{Arc, Mutex};

use openai_harmony::chat::{
    Author, Conversation as HConversation, DeveloperContent, Message as HMessage, ReasoningEffort,
    Role, SystemContent, ToolDescription,
};
use openai_harmony::{HarmonyEncoding, HarmonyEncodingName, StreamableParser};
use sha2::{Digest, Sha256};

use crate::conversation::{Effort, Message, Part, Setup};
use crate::ChatError;

/// o200k_base, the BPE under harmony's encoding; the crate checks this hash when it loads it.
const VOCAB: &[u8] = include_bytes!("../../../assets/harmony/o200k_base.tiktoken");
const VOCAB_FILE: &str = "o200k_base.tiktoken";
const VOCAB_SHA256: &str = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d";
/// Where the crate looks for a local vocabulary instead of downloading one.
const VOCAB_DIR_ENV: &str = "TIKTOKEN_ENCODINGS_BASE";

pub const RETURN: u32 = 200002;
pub const CALL: u32 = 200012;

static LOADED: Mutex<Option<Arc<HarmonyEncoding>>> = Mutex::new(None);

/// Harmony's encoding for gpt-oss, loaded once per process.
#[derive(Clone)]
pub struct Harmony {
    encoding: Arc<HarmonyEncoding>,
}

impl std::fmt::Debug for Harmony {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Harmony")
    }
}

impl Harmony {
    /// Loads the encoding, writing the bundled vocabulary under `dir` first if it is not there.
    /// The crate reads its vocabulary's location from the environment; a program should call
    /// this (or [`Harmony::prepare`]) early, before it starts threads that might read the
    /// environment from C.
    pub fn load(dir: &Path) -> Result<Harmony, ChatError> {
        let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(encoding) = loaded.as_ref() {
            return Ok(Harmony {
                encoding: encoding.clone(),
            });
        }
        Self::prepare(dir)?;
        let encoding = openai_harmony::load_harmony_encoding(HarmonyEncodingName::HarmonyGptOss)
            .map_err(|e| ChatError::Harmony(format!("cannot load the encoding: {e:#}")))?;
        let encoding = Arc::new(encoding);
        *loaded = Some(encoding.clone());
        Ok(Harmony { encoding })
    }

    /// Writes the vocabulary under `dir` (unless an intact copy is there) and points the crate
    /// at it.
    pub fn prepare(dir: &Path) -> Result<(), ChatError> {
        let path = dir.join(VOCAB_FILE);
        let intact = std::fs::read(&path)
            .map(|bytes| hex::encode(Sha256::digest(&bytes)) == VOCAB_SHA256)
            .unwrap_or(false);
        if !intact {
            let fail = |e: std::io::Error| {
                ChatError::Harmony(format!("cannot write {}: {e}", path.display()))
            };
            std::fs::create_dir_all(dir).map_err(fail)?;
            // Written beside and renamed, so a crash never leaves half a vocabulary.
            let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
            std::io::Write::write_all(&mut tmp, VOCAB).map_err(fail)?;
            tmp.persist(&path).map_err(|e| fail(e.error))?;
        }
        if std::env::var_os(VOCAB_DIR_ENV).as_deref() != Some(dir.as_os_str()) {
            std::env::set_var(VOCAB_DIR_ENV, dir);
        }
        Ok(())
    }

    /// Token ids of `messages` after `setup`, ending with the start of the assistant's turn.
    pub fn render(&self, setup: &Setup, messages: &[Message]) -> Result<Vec<u32>, ChatError> {
        let conversation = HConversation::from_messages(to_harmony(setup, messages));
        self.encoding
            .render_conversation_for_completion(&conversation, Role::Assistant, None)
            .map_err(|e| ChatError::Harmony(format!("cannot render the conversation: {e:#}")))
    }

    /// Tokens at the end of a rendered prompt that open the assistant's turn
    /// (`<|start|>assistant`): the point where the next turn's prompt parts from this one.
    pub fn reply_opening_len(&self) -> usize {
        self.encode_with_special_tokens("<|start|>assistant").len()
    }

    /// Generation ends at `<|return|>` (answer done) or `<|call|>` (a tool call to run).
    pub fn stop_tokens(&self) -> Vec<u32> {
        vec![RETURN, CALL]
    }

    /// Token ids of text in which harmony's special tokens (`<|call|>`, …) are meant as such: what
    /// a model would emit, for scripted replies in tests.
    pub fn encode_with_special_tokens(&self, text: &str) -> Vec<u32> {
        self.encoding.tokenizer().encode_with_special_tokens(text)
    }

    pub fn decode(&self, tokens: &[u32]) -> String {
        self.encoding
            .tokenizer()
            .decode_utf8(tokens)
            .unwrap_or_else(|_| "\u{fffd}".into())
    }

    /// The bytes of `tokens`, special tokens spelled out: for streaming text that may split a
    /// character across tokens.
    pub fn decode_bytes(&self, tokens: &[u32]) -> Vec<u8> {
        self.encoding
            .tokenizer()
            .decode_bytes(tokens)
            .unwrap_or_default()
    }

    /// Token ids of plain text: `<|call|>` in it is text, not the special token.
    pub fn encode_ordinary(&self, text: &str) -> Vec<u32> {
        self.encoding.tokenizer().encode_ordinary(text)
    }

    pub fn count_tokens(&self, text: &str) -> usize {
        self.encoding.tokenizer().encode_ordinary(text).len()
    }

    pub fn parser(&self) -> ReplyParser {
        ReplyParser::new(self)
    }
}

/// Fathom's conversation as harmony messages. A reply that reached its answer loses its
/// reasoning (the model need not re-read it, and was trained without it); a reply still in a
/// chain of tool calls keeps it.
pub fn to_harmony(setup: &Setup, messages: &[Message]) -> Vec<HMessage> {
    let mut system = SystemContent::new().with_reasoning_effort(match setup.effort {
        Effort::Low => ReasoningEffort::Low,
        Effort::Medium => ReasoningEffort::Medium,
        Effort::High => ReasoningEffort::High,
    });
    if let Some(date) = &setup.date {
        system = system.with_conversation_start_date(date.clone());
    }
    let mut out = vec![HMessage::from_role_and_content(Role::System, system)];
    if setup.instructions.is_some() || !setup.tools.is_empty() {
        let mut developer = DeveloperContent::new();
        if let Some(instructions) = &setup.instructions {
            developer = developer.with_instructions(instructions.clone());
        }
        if !setup.tools.is_empty() {
            developer = developer.with_function_tools(
                setup
                    .tools
                    .iter()
                    .map(|t| ToolDescription::new(&t.name, &t.description, t.parameters.clone()))
                    .collect(),
            );
        }
        out.push(HMessage::from_role_and_content(Role::Developer, developer));
    }
    for message in messages {
        match message {
            Message::User { text } => {
                out.push(HMessage::from_role_and_content(Role::User, text.clone()))
            }
            Message::Assistant { parts, .. } => {
                let answered = parts.iter().any(|p| matches!(p, Part::Answer { .. }));
                for part in parts {
                    let assistant = |text: &str, channel: &str| {
                        HMessage::from_role_and_content(Role::Assistant, text.to_string())
                            .with_channel(channel)
                    };
                    match part {
                        Part::Reasoning { .. } if answered => {}
                        Part::Reasoning { text } => out.push(assistant(text, "analysis")),
                        Part::Commentary { text } => out.push(assistant(text, "commentary")),
                        Part::Answer { text } => out.push(assistant(text, "final")),
                        Part::ToolCall {
                            tool,
                            arguments,
                            output,
                        } => {
                            let name = format!("functions.{tool}");
                            out.push(
                                assistant(arguments, "commentary")
                                    .with_recipient(&name)
                                    .with_content_type("<|constrain|>json"),
                            );
                            if let Some(output) = output {
                                out.push(
                                    HMessage::from_author_and_content(
                                        Author::new(Role::Tool, name),
                                        output.clone(),
                                    )
                                    .with_recipient("assistant")
                                    .with_channel("commentary"),
                                );
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// What the kind of a streamed part is, known once its header is parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartKind {
    Reasoning,
    Commentary,
    ToolCall { tool: String },
    Answer,
}

impl PartKind {
    fn of(channel: Option<&str>, recipient: Option<&str>) -> PartKind {
        match (recipient, channel) {
            (Some(r), _) if r != "all" && r != "assistant" => PartKind::ToolCall {
                tool: r.strip_prefix("functions.").unwrap_or(r).to_string(),
            },
            (_, Some("analysis")) => PartKind::Reasoning,
            (_, Some("commentary")) => PartKind::Commentary,
            _ => PartKind::Answer,
        }
    }

    fn part(&self, text: String) -> Part {
        match self {
            PartKind::Reasoning => Part::Reasoning { text },
            PartKind::Commentary => Part::Commentary { text },
            PartKind::Answer => Part::Answer { text },
            PartKind::ToolCall { tool } => Part::ToolCall {
                tool: tool.clone(),
                arguments: text,
                output: None,
            },
        }
    }
}

/// A piece of streamed text: part `index` (of kind `kind`) grew by `text`.
#[derive(Debug, Clone, PartialEq)]
pub struct Delta {
    pub index: usize,
    pub kind: PartKind,
    pub text: String,
}

/// Text from bytes that arrive in pieces (a token can end inside a character): whole characters
/// only, bytes that are no character as U+FFFD.
#[derive(Debug, Default)]
pub struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut text = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    text.push_str(s);
                    self.pending.clear();
                    return text;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    text.push_str(&String::from_utf8_lossy(&self.pending[..valid]));
                    match e.error_len() {
                        Some(bad) => {
                            text.push('\u{fffd}');
                            self.pending.drain(..valid + bad);
                        }
                        // The start of a character the next piece ends.
                        None => {
                            self.pending.drain(..valid);
                            return text;
                        }
                    }
                }
            }
        }
    }

    /// What is left at the end (an unfinished character, as U+FFFD).
    pub fn finish(&mut self) -> String {
        let rest = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        rest
    }
}

/// A message header longer than this is not one: the model has left the format (a real header,
/// `<|channel|>commentary to=functions.search <|constrain|>json`, is about a dozen tokens).
const MAX_HEADER_TOKENS: usize = 96;

/// Turns the model's reply, token by token, into [`Part`]s. Once the output breaks the format,
/// the rest is kept, and streamed, as raw text so nothing the model said is lost.
pub struct ReplyParser {
    inner: StreamableParser,
    encoding: Arc<HarmonyEncoding>,
    /// Tokens after the format broke.
    raw: Vec<u32>,
    error: Option<String>,
    /// Tokens in a row that added no text: a header being read.
    quiet: usize,
    /// The part the raw text streams into.
    raw_index: usize,
    /// Raw bytes not yet sent: the start of a character split across tokens.
    raw_bytes: Utf8Stream,
}

impl ReplyParser {
    fn new(harmony: &Harmony) -> ReplyParser {
        ReplyParser {
            inner: StreamableParser::new((*harmony.encoding).clone(), Some(Role::Assistant))
                .expect("harmony's own stop tokens render"),
            encoding: harmony.encoding.clone(),
            raw: Vec::new(),
            error: None,
            quiet: 0,
            raw_index: 0,
            raw_bytes: Utf8Stream::default(),
        }
    }

    /// Feeds one token; returns the text it added, if any.
    pub fn push(&mut self, token: u32) -> Option<Delta> {
        if self.error.is_some() {
            self.raw.push(token);
            return self.raw_delta(&[token]);
        }
        let messages = self.inner.messages().len();
        if let Err(e) = self.inner.process(token) {
            let mut tokens = self.header_tokens();
            tokens.push(token);
            return self.break_format(format!("{e:#}"), tokens);
        }
        if let Some(text) = self.inner.last_content_delta().ok().flatten() {
            if !text.is_empty() {
                self.quiet = 0;
                return Some(Delta {
                    index: self.inner.messages().len(),
                    kind: self.current_kind(),
                    text,
                });
            }
        }
        if self.inner.messages().len() != messages {
            self.quiet = 0;
        } else {
            self.quiet += 1;
        }
        if self.quiet > MAX_HEADER_TOKENS {
            let tokens = self.inner.tokens();
            let run = tokens[tokens.len() - self.quiet..].to_vec();
            return self.break_format("the reply's message header never ended".into(), run);
        }
        None
    }

    /// The tokens of the header being read, if the parser is in one.
    fn header_tokens(&self) -> Vec<u32> {
        let state: serde_json::Value = self
            .inner
            .state_json()
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        state["header_tokens"]
            .as_array()
            .map(|h| {
                h.iter()
                    .filter_map(|t| t.as_u64().map(|t| t as u32))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// From here on the reply is raw text, in a part after what was parsed.
    fn break_format(&mut self, error: String, tokens: Vec<u32>) -> Option<Delta> {
        self.error = Some(error);
        let partial = !self.inner.current_content().unwrap_or_default().is_empty();
        self.raw_index = self.inner.messages().len() + usize::from(partial);
        self.raw = tokens.clone();
        self.raw_delta(&tokens)
    }

    /// The text `tokens` add to the raw part, whole characters only.
    fn raw_delta(&mut self, tokens: &[u32]) -> Option<Delta> {
        let tokenizer = self.encoding.tokenizer();
        let mut text = String::new();
        for &t in tokens {
            if let Ok(bytes) = tokenizer.decode_bytes([t]) {
                text.push_str(&self.raw_bytes.push(&bytes));
            }
        }
        (!text.is_empty()).then_some(Delta {
            index: self.raw_index,
            kind: PartKind::Answer,
            text,
        })
    }

    fn current_kind(&self) -> PartKind {
        PartKind::of(
            self.inner.current_channel().as_deref(),
            self.inner.current_recipient().as_deref(),
        )
    }

    /// The parts of the reply, and why the format broke if it did. A reply cut short (`cut`:
    /// stopped, out of tokens) keeps its unfinished last part, but not a half-read header
    /// (`assistant<|channel|>fin` is not something the model said); a reply that ended on its
    /// own inside a header keeps the header's text, as it did not follow the format.
    pub fn finish(self, cut: bool) -> (Vec<Part>, Option<String>) {
        let kind = self.current_kind();
        let partial = self.inner.current_content().unwrap_or_default();
        let mut parts: Vec<Part> = self.inner.messages().iter().map(from_harmony).collect();
        if !partial.is_empty() {
            parts.push(kind.part(partial));
        }
        // A reply that ended on its own inside a message header: what the header held is not
        // lost either.
        let header = match (&self.error, cut) {
            (None, false) => self.header_tokens(),
            _ => Vec::new(),
        };
        let mut raw = self.raw;
        let mut error = self.error;
        if !header.is_empty() {
            raw = header;
            error = Some("the reply ended inside a message header".into());
        }
        if !raw.is_empty() {
            let text = self
                .encoding
                .tokenizer()
                .decode_utf8(&raw)
                .unwrap_or_else(|_| {
                    String::from_utf8_lossy(
                        &self
                            .encoding
                            .tokenizer()
                            .decode_bytes(&raw)
                            .unwrap_or_default(),
                    )
                    .into_owned()
                });
            parts.push(Part::Answer { text });
        }
        (parts, error)
    }
}

fn from_harmony(message: &HMessage) -> Part {
    let text: String = message
        .content
        .iter()
        .filter_map(|c| match c {
            openai_harmony::chat::Content::Text(t) => Some(t.text.as_str()),
            _ => None,
        })
        .collect();
    PartKind::of(message.channel.as_deref(), message.recipient.as_deref()).part(text)
}
