//! The checkpoint's `tokenizer.json` through the `tokenizers` crate, and streaming decode.

use std::path::Path;

use crate::EngineError;

/// Tokens that end a harmony reply (`<|return|>`, `<|call|>`) or a raw completion.
const STOP_TOKENS: &[&str] = &["<|return|>", "<|call|>", "<|endoftext|>"];

pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
}

impl Tokenizer {
    pub fn from_dir(dir: &Path) -> Result<Self, EngineError> {
        let file = dir.join("tokenizer.json");
        let inner =
            tokenizers::Tokenizer::from_file(&file).map_err(|e| EngineError::Checkpoint {
                file,
                message: format!("cannot load the tokenizer: {e}"),
            })?;
        Ok(Tokenizer { inner })
    }

    pub fn encode(&self, text: &str) -> Result<Vec<u32>, EngineError> {
        let encoding = self
            .inner
            .encode(text, false)
            .map_err(|e| EngineError::Input(format!("cannot tokenize: {e}")))?;
        Ok(encoding.get_ids().to_vec())
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String, EngineError> {
        self.inner
            .decode(ids, false)
            .map_err(|e| EngineError::Input(format!("cannot detokenize: {e}")))
    }

    /// The ids of the stop tokens this vocabulary has.
    pub fn stop_tokens(&self) -> Vec<u32> {
        STOP_TOKENS
            .iter()
            .filter_map(|t| self.inner.token_to_id(t))
            .collect()
    }
}

/// Turns a stream of ids into a stream of text. A character split over several byte-level
/// tokens is held back until it is complete, so no half character is ever shown.
pub struct Detokenizer<'a> {
    tokenizer: &'a Tokenizer,
    ids: Vec<u32>,
    shown: usize,
}

impl<'a> Detokenizer<'a> {
    pub fn new(tokenizer: &'a Tokenizer) -> Self {
        Detokenizer {
            tokenizer,
            ids: Vec::new(),
            shown: 0,
        }
    }

    /// The text that `id` adds, if any can be shown yet.
    pub fn push(&mut self, id: u32) -> Result<String, EngineError> {
        self.ids.push(id);
        let text = self.tokenizer.decode(&self.ids)?;
        if text.ends_with('\u{FFFD}')
            || text.len() < self.shown
            || !text.is_char_boundary(self.shown)
        {
            return Ok(String::new());
        }
        let new = text[self.shown..].to_string();
        self.shown = text.len();
        Ok(new)
    }

    /// What is still held back when the stream ends (an incomplete character shows as U+FFFD).
    pub fn finish(&mut self) -> Result<String, EngineError> {
        let text = self.tokenizer.decode(&self.ids)?;
        let rest = text.get(self.shown..).unwrap_or_default().to_string();
        self.shown = text.len();
        Ok(rest)
    }
}
