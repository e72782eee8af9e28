//! Conversations in SQLite (`chats.sqlite` under the data directory): one row per
//! conversation, one per message (its JSON, and its text for search). WAL mode and one
//! transaction per change, so a killed process loses at most the change it was making.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::conversation::{Conversation, Message, Setup};
use crate::ChatError;

/// A conversation in the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ConversationSummary {
    pub id: String,
    pub title: String,
    pub updated_ms: i64,
    pub messages: u32,
    /// For a search: a piece of the matching text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
}

pub struct ChatStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA foreign_keys = ON;
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    setup TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    conversation TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    body TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (conversation, position)
);
CREATE INDEX IF NOT EXISTS conversations_updated ON conversations(updated_ms DESC);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    question TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    body TEXT NOT NULL
);
";

/// A saved Ask run in the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    pub id: String,
    pub question: String,
    pub created_ms: i64,
}

/// Longest title made from a first message.
const TITLE_CHARS: usize = 60;

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A title from the first message: its first line, cut at a word near [`TITLE_CHARS`].
pub fn title_from(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.chars().count() <= TITLE_CHARS {
        return line.to_string();
    }
    let cut: String = line.chars().take(TITLE_CHARS).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > TITLE_CHARS / 2 => &cut[..i],
        _ => &cut[..],
    };
    format!("{}…", cut.trim_end())
}

impl ChatStore {
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, ChatError> {
        let path = path.into();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| store_err(&path, e))?;
        }
        let conn = Connection::open(&path).map_err(|e| store_err(&path, e))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| store_err(&path, e))?;
        conn.execute_batch(SCHEMA)
            .map_err(|e| store_err(&path, e))?;
        Ok(ChatStore {
            path,
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, ChatError> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut conn).map_err(|e| store_err(&self.path, e))
    }

    /// Starts a conversation; its title comes from the first message unless given.
    pub fn create(&self, setup: &Setup, title: Option<&str>) -> Result<Conversation, ChatError> {
        let now = now_ms();
        let conversation = Conversation {
            id: uuid::Uuid::new_v4().to_string(),
            title: title.unwrap_or("").to_string(),
            setup: setup.clone(),
            messages: Vec::new(),
            created_ms: now,
            updated_ms: now,
        };
        let setup = serde_json::to_string(setup).expect("setup serializes");
        self.with(|c| {
            c.execute(
                "INSERT INTO conversations (id, title, setup, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?4)",
                params![conversation.id, conversation.title, setup, now],
            )
        })?;
        Ok(conversation)
    }

    pub fn get(&self, id: &str) -> Result<Conversation, ChatError> {
        let row = self.with(|c| {
            c.query_row(
                "SELECT title, setup, created_ms, updated_ms FROM conversations WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                },
            )
            .optional()
        })?;
        let (title, setup, created_ms, updated_ms) =
            row.ok_or_else(|| ChatError::NoConversation(id.to_string()))?;
        let bodies = self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT position, body FROM messages WHERE conversation = ?1 ORDER BY position",
            )?;
            let rows =
                stmt.query_map([id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let corrupt = |what: String| ChatError::Store {
            path: self.path.clone(),
            message: format!("conversation {id}: {what}"),
        };
        let setup = serde_json::from_str(&setup).map_err(|e| corrupt(format!("setup: {e}")))?;
        let messages = bodies
            .into_iter()
            .map(|(pos, body)| {
                serde_json::from_str(&body).map_err(|e| corrupt(format!("message {pos}: {e}")))
            })
            .collect::<Result<Vec<Message>, _>>()?;
        Ok(Conversation {
            id: id.to_string(),
            title,
            setup,
            messages,
            created_ms,
            updated_ms,
        })
    }

    /// Most recently changed first.
    pub fn list(&self) -> Result<Vec<ConversationSummary>, ChatError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT id, title, updated_ms, (SELECT COUNT(*) FROM messages m WHERE m.conversation = id)
                 FROM conversations ORDER BY updated_ms DESC, rowid DESC",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(ConversationSummary {
                    id: r.get(0)?,
                    title: r.get(1)?,
                    updated_ms: r.get(2)?,
                    messages: r.get(3)?,
                    snippet: None,
                })
            })?;
            rows.collect()
        })
    }

    /// Conversations whose title or any message contains `query` (case-insensitive for ASCII),
    /// with a snippet around the first match in the messages.
    pub fn search(&self, query: &str) -> Result<Vec<ConversationSummary>, ChatError> {
        let query = query.trim();
        if query.is_empty() {
            return self.list();
        }
        let pattern = format!(
            "%{}%",
            query
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let found = self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT id, title, updated_ms,
                        (SELECT COUNT(*) FROM messages m WHERE m.conversation = id),
                        (SELECT text FROM messages m WHERE m.conversation = id
                           AND m.text LIKE ?1 ESCAPE '\\' ORDER BY position LIMIT 1)
                 FROM conversations
                 WHERE title LIKE ?1 ESCAPE '\\'
                    OR EXISTS (SELECT 1 FROM messages m WHERE m.conversation = id
                               AND m.text LIKE ?1 ESCAPE '\\')
                 ORDER BY updated_ms DESC, rowid DESC",
            )?;
            let rows = stmt.query_map([&pattern], |r| {
                Ok((
                    ConversationSummary {
                        id: r.get(0)?,
                        title: r.get(1)?,
                        updated_ms: r.get(2)?,
                        messages: r.get(3)?,
                        snippet: None,
                    },
                    r.get::<_, Option<String>>(4)?,
                ))
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        Ok(found
            .into_iter()
            .map(|(mut s, text)| {
                s.snippet = text.map(|t| snippet(&t, query));
                s
            })
            .collect())
    }

    pub fn rename(&self, id: &str, title: &str) -> Result<(), ChatError> {
        let title = title.trim();
        if title.is_empty() {
            return Err(ChatError::Input("a title cannot be empty".into()));
        }
        self.touch(id, |c, now| {
            c.execute(
                "UPDATE conversations SET title = ?2, updated_ms = ?3 WHERE id = ?1",
                params![id, title, now],
            )
        })
    }

    /// Changes the setup (a different reasoning effort, new instructions) for later replies.
    pub fn set_setup(&self, id: &str, setup: &Setup) -> Result<(), ChatError> {
        let setup = serde_json::to_string(setup).expect("setup serializes");
        self.touch(id, |c, now| {
            c.execute(
                "UPDATE conversations SET setup = ?2, updated_ms = ?3 WHERE id = ?1",
                params![id, setup, now],
            )
        })
    }

    pub fn delete(&self, id: &str) -> Result<(), ChatError> {
        let n = self.with(|c| c.execute("DELETE FROM conversations WHERE id = ?1", [id]))?;
        if n == 0 {
            return Err(ChatError::NoConversation(id.to_string()));
        }
        Ok(())
    }

    /// Keeps the first `keep` messages and appends `messages` after them: appending a turn,
    /// regenerating the last reply, editing an earlier message (which drops what followed).
    /// A conversation without a title takes one from its first user message.
    pub fn replace_from(
        &self,
        id: &str,
        keep: usize,
        messages: &[Message],
    ) -> Result<(), ChatError> {
        let title = messages.iter().find_map(|m| match m {
            Message::User { text } => Some(title_from(text)),
            _ => None,
        });
        self.touch(id, |c, now| {
            let tx = c.transaction()?;
            let exists = tx
                .query_row("SELECT 1 FROM conversations WHERE id = ?1", [id], |_| Ok(()))
                .optional()?
                .is_some();
            if !exists {
                return Ok(0);
            }
            tx.execute(
                "DELETE FROM messages WHERE conversation = ?1 AND position >= ?2",
                params![id, keep as i64],
            )?;
            let held: i64 = tx.query_row(
                "SELECT COUNT(*) FROM messages WHERE conversation = ?1",
                [id],
                |r| r.get(0),
            )?;
            for (i, m) in messages.iter().enumerate() {
                tx.execute(
                    "INSERT INTO messages (conversation, position, body, text) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        id,
                        held + i as i64,
                        serde_json::to_string(m).expect("messages serialize"),
                        m.searchable_text()
                    ],
                )?;
            }
            if let Some(title) = &title {
                tx.execute(
                    "UPDATE conversations SET title = ?2 WHERE id = ?1 AND title = ''",
                    params![id, title],
                )?;
            }
            let n = tx.execute(
                "UPDATE conversations SET updated_ms = ?2 WHERE id = ?1",
                params![id, now],
            )?;
            tx.commit()?;
            Ok(n)
        })
    }

    /// Appends messages at the end.
    pub fn append(&self, id: &str, messages: &[Message]) -> Result<(), ChatError> {
        self.replace_from(id, usize::MAX >> 1, messages)
    }

    /// Keeps an Ask run (stored as JSON; the type is the caller's, `fathom_agent::Asked` in
    /// Fathom); returns its id.
    pub fn save_run<T: serde::Serialize>(
        &self,
        question: &str,
        run: &T,
    ) -> Result<String, ChatError> {
        let body = serde_json::to_string(run).map_err(|e| store_err(&self.path, e))?;
        let id = uuid::Uuid::new_v4().to_string();
        self.with(|c| {
            c.execute(
                "INSERT INTO runs (id, question, created_ms, body) VALUES (?1, ?2, ?3, ?4)",
                params![id, question, now_ms(), body],
            )
        })?;
        Ok(id)
    }

    /// Saved runs, newest first.
    pub fn list_runs(&self) -> Result<Vec<RunSummary>, ChatError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT id, question, created_ms FROM runs ORDER BY created_ms DESC, rowid DESC",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(RunSummary {
                    id: r.get(0)?,
                    question: r.get(1)?,
                    created_ms: r.get(2)?,
                })
            })?;
            rows.collect()
        })
    }

    /// A saved run as `T`; a run saved in a shape `T` cannot read (by an older Fathom) is an
    /// error that says so, not a run with missing parts.
    pub fn get_run<T: serde::de::DeserializeOwned>(&self, id: &str) -> Result<T, ChatError> {
        let body: Option<String> = self.with(|c| {
            c.query_row("SELECT body FROM runs WHERE id = ?1", [id], |r| r.get(0))
                .optional()
        })?;
        let body = body.ok_or_else(|| ChatError::NoConversation(id.to_string()))?;
        serde_json::from_str(&body).map_err(|e| ChatError::Store {
            path: self.path.clone(),
            message: format!("run {id} cannot be read by this version of Fathom: {e}"),
        })
    }

    pub fn delete_run(&self, id: &str) -> Result<(), ChatError> {
        let n = self.with(|c| c.execute("DELETE FROM runs WHERE id = ?1", [id]))?;
        if n == 0 {
            return Err(ChatError::NoConversation(id.to_string()));
        }
        Ok(())
    }

    fn touch(
        &self,
        id: &str,
        f: impl FnOnce(&mut Connection, i64) -> rusqlite::Result<usize>,
    ) -> Result<(), ChatError> {
        let n = self.with(|c| f(c, now_ms()))?;
        if n == 0 {
            return Err(ChatError::NoConversation(id.to_string()));
        }
        Ok(())
    }
}

fn store_err(path: &Path, e: impl std::fmt::Display) -> ChatError {
    ChatError::Store {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// About 120 characters of `text` around the first (ASCII case-insensitive) match of `query`.
fn snippet(text: &str, query: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let at = lower.find(&query.to_ascii_lowercase()).unwrap_or(0);
    let start = text[..at]
        .char_indices()
        .rev()
        .nth(50)
        .map_or(0, |(i, _)| i);
    let body: String = text[start..].chars().take(120).collect();
    let body = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let lead = if start > 0 { "…" } else { "" };
    let tail = if text[start..].chars().count() > 120 {
        "…"
    } else {
        ""
    };
    format!("{lead}{body}{tail}")
}
