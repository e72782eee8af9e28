//! Fathom as an MCP server: the library for assistants (Claude Desktop, Cursor, …) through the
//! Model Context Protocol, over stdio (`fathom mcp`) and streamable HTTP (`/mcp` beside the
//! OpenAI endpoints). Tools: `search`, `grep`, `read_document`, `list_folders`, and `ask`, which
//! runs Context-1's agentic search and answers with checked citations, reporting progress as it
//! goes. Documents are named by the ids the index gives them: nothing outside the library is
//! ever read, and an id is never taken as a path.

use std::path::PathBuf;
use std::sync::Arc;

use fathom_core::{App, CancellationToken, Question, Search};
use fathom_index::Hit;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ContentBlock, Implementation, ProgressNotificationParam, ProtocolVersion,
    RequestMetaObject, ServerCapabilities, ServerConfig,
};
use rmcp::{tool, tool_handler, tool_router, Peer, RoleServer, ServerHandler};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The protocol revisions served: the current one, and 2025-11-25 for clients that have not
/// moved on (each client gets the newest both sides know).
pub const PROTOCOL_VERSIONS: [ProtocolVersion; 2] =
    [ProtocolVersion::V_2026_07_28, ProtocolVersion::V_2025_11_25];

#[derive(Clone)]
pub struct Library {
    app: Arc<App>,
    /// The model `ask` runs on; else the app's.
    model: Option<PathBuf>,
    allow_unfit: bool,
    tool_router: ToolRouter<Self>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchArgs {
    /// What to look for, in words.
    pub query: String,
    /// Only this library folder (its path or id, as list_folders gives them).
    pub folder: Option<String>,
    /// How many passages (1 to 50; 10 when not given).
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GrepArgs {
    /// A regular expression (Rust syntax) matched against each passage.
    pub pattern: String,
    pub folder: Option<String>,
    /// How many passages (1 to 50; 20 when not given).
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReadArgs {
    /// The document's id, from a search, grep or ask result.
    pub id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AskArgs {
    /// The question, in words.
    pub question: String,
    pub folder: Option<String>,
    /// Tokens the search may use in all (Context-1's default when not given).
    pub budget: Option<u32>,
}

/// A passage as the tools return it.
#[derive(Debug, Serialize)]
struct Passage {
    document_id: String,
    path: String,
    /// The passage's position in its document.
    chunk: u32,
    /// 1-based line (text formats) and page (PDF, slides; 0 when none) where it starts.
    line: u32,
    page: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f32>,
    text: String,
}

impl Passage {
    fn from(hit: Hit, scored: bool) -> Passage {
        Passage {
            document_id: hit.doc_id,
            path: hit.path,
            chunk: hit.chunk,
            line: hit.line,
            page: hit.page,
            score: scored.then_some(hit.score),
            text: hit.text,
        }
    }
}

fn json_result(value: impl Serialize) -> CallToolResult {
    match ContentBlock::json(value) {
        Ok(content) => CallToolResult::success(vec![content]),
        Err(e) => CallToolResult::error(vec![ContentBlock::text(e.message.to_string())]),
    }
}

/// Passages found by `find` (blocking index work, off the runtime), as a tool's result.
async fn passages(
    scored: bool,
    find: impl FnOnce() -> fathom_core::Result<Vec<Hit>> + Send + 'static,
) -> CallToolResult {
    match tokio::task::spawn_blocking(find).await {
        Ok(Ok(hits)) => json_result(
            hits.into_iter()
                .map(|h| Passage::from(h, scored))
                .collect::<Vec<_>>(),
        ),
        Ok(Err(e)) => failed(e),
        Err(e) => failed(e),
    }
}

/// A tool that ran and failed: the caller's assistant reads why.
fn failed(e: impl std::fmt::Display) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(e.to_string())])
}

impl Library {
    pub fn new(app: Arc<App>, model: Option<PathBuf>, allow_unfit: bool) -> Library {
        Library {
            app,
            model,
            allow_unfit,
            tool_router: Self::tool_router(),
        }
    }

    /// A folder as the caller named it (path or id), as its id.
    fn folder(&self, folder: Option<String>) -> Result<Option<String>, String> {
        match folder.filter(|f| !f.trim().is_empty()) {
            None => Ok(None),
            Some(f) => self
                .app
                .find_folder(&f)
                .map(|folder| Some(folder.id))
                .map_err(|_| {
                    format!("{f:?} is not a folder in the library; list_folders names them")
                }),
        }
    }
}

#[tool_router]
impl Library {
    #[tool(
        description = "Search the user's indexed documents (hybrid: BM25 and meaning). Returns passages with their document id, path and position, best first."
    )]
    pub async fn search(&self, Parameters(args): Parameters<SearchArgs>) -> CallToolResult {
        if args.query.trim().is_empty() {
            return failed("The query is empty.");
        }
        let folder = match self.folder(args.folder) {
            Ok(f) => f,
            Err(e) => return failed(e),
        };
        let app = self.app.clone();
        let limit = args.limit.unwrap_or(10).clamp(1, 50) as usize;
        let search = Search {
            text: args.query,
            folder,
            limit: Some(limit),
        };
        passages(true, move || app.search(search)).await
    }

    #[tool(
        description = "Find passages of the user's indexed documents that match a regular expression (exact names, numbers, phrases), in index order."
    )]
    pub async fn grep(&self, Parameters(args): Parameters<GrepArgs>) -> CallToolResult {
        let folder = match self.folder(args.folder) {
            Ok(f) => f,
            Err(e) => return failed(e),
        };
        let app = self.app.clone();
        let limit = args.limit.unwrap_or(20).clamp(1, 50) as usize;
        let pattern = args.pattern;
        passages(false, move || app.grep(&pattern, folder.as_deref(), limit)).await
    }

    #[tool(
        description = "Read one indexed document in full, passage by passage, by the id a search, grep or ask result gave."
    )]
    pub async fn read_document(&self, Parameters(args): Parameters<ReadArgs>) -> CallToolResult {
        let app = self.app.clone();
        match tokio::task::spawn_blocking(move || app.document(&args.id)).await {
            Ok(Ok(chunks)) => {
                let path = chunks.first().map(|c| c.path.clone()).unwrap_or_default();
                let id = chunks.first().map(|c| c.doc_id.clone()).unwrap_or_default();
                let text: Vec<String> = chunks.into_iter().map(|c| c.text).collect();
                json_result(serde_json::json!({
                    "document_id": id,
                    "path": path,
                    "passages": text,
                }))
            }
            Ok(Err(e)) => failed(e),
            Err(e) => failed(e),
        }
    }

    #[tool(
        description = "The folders in the user's library, with their ids and how many documents each holds."
    )]
    pub async fn list_folders(&self) -> CallToolResult {
        let status = self.app.library_status().unwrap_or_default();
        let folders: Vec<serde_json::Value> = self
            .app
            .folders()
            .into_iter()
            .map(|f| {
                let s = status.iter().find(|s| s.folder == f.id);
                serde_json::json!({
                    "id": f.id,
                    "path": f.path,
                    "documents": s.map(|s| s.documents),
                    "passages": s.map(|s| s.chunks),
                })
            })
            .collect();
        json_result(folders)
    }

    #[tool(
        description = "Ask a question of the user's library: Context-1 searches it with its own tools over several turns, ranks the documents that matter (each with why), and answers from them with citations checked against the text. Slow (the local model runs); reports progress."
    )]
    pub async fn ask(
        &self,
        Parameters(args): Parameters<AskArgs>,
        meta: RequestMetaObject,
        client: Peer<RoleServer>,
        stop: CancellationToken,
    ) -> CallToolResult {
        let folder = match self.folder(args.folder) {
            Ok(f) => f,
            Err(e) => return failed(e),
        };
        let question = Question {
            text: args.question,
            folder,
            budget: args.budget.map(|b| b as usize),
            allow_unfit: self.allow_unfit,
            model: self.model.clone(),
            ..Question::default()
        };
        // Progress goes out from its own task: the run's events come from the working thread.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(f64, Option<f64>, String)>();
        let reporter = meta.get_progress_token().map(|token| {
            tokio::spawn(async move {
                while let Some((progress, total, message)) = rx.recv().await {
                    let mut param = ProgressNotificationParam::new(token.clone(), progress)
                        .with_message(message);
                    if let Some(total) = total {
                        param = param.with_total(total);
                    }
                    let _ = client.notify_progress(param).await;
                }
            })
        });
        // Owns the sender: dropping it after the run ends the reporter.
        let mut on_event = move |event: fathom_agent::AgentEvent| {
            use fathom_agent::AgentEvent as E;
            let update = match &event {
                E::Turn { turn } => Some((0.0, None, format!("Searching (turn {turn})"))),
                E::Usage { used, total } => Some((
                    f64::from(*used),
                    Some(f64::from(*total)),
                    format!("Searching: {used} of {total} tokens used"),
                )),
                E::Ranked { documents } => Some((
                    0.0,
                    None,
                    format!("Ranked {} documents; answering", documents.len()),
                )),
                _ => None,
            };
            if let Some(u) = update {
                let _ = tx.send(u);
            }
        };
        let outcome = self.app.ask(question, &stop, &mut on_event).await;
        drop(on_event);
        if let Some(reporter) = reporter {
            let _ = reporter.await;
        }
        let saved = match outcome {
            Ok(saved) => saved,
            Err(e) => return failed(e),
        };
        let asked = saved.asked;
        json_result(serde_json::json!({
            "question": asked.run.question,
            "documents": asked.run.documents.iter().map(|d| serde_json::json!({
                "document_id": d.doc_id,
                "path": d.path,
                "justification": d.justification,
            })).collect::<Vec<_>>(),
            "answer": asked.answer.as_ref().map(|a| a.text.clone()),
            "citations": asked.answer.as_ref().map(|a| a.citations.iter().map(|c| serde_json::json!({
                "number": c.number,
                "document_id": c.doc_id,
                "path": c.path,
                "quote": c.quote,
                "verified": c.verified,
                "line": c.line,
                "page": c.page,
            })).collect::<Vec<_>>()).unwrap_or_default(),
            "ending": asked.run.ending,
            "turns": asked.run.turns,
            "run_id": saved.id,
        }))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Library {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().build());
        info.protocol_version = PROTOCOL_VERSIONS[0].clone();
        info.server_info = Implementation::new("fathom", env!("CARGO_PKG_VERSION"));
        info.instructions = Some(
            "Fathom searches the user's own documents, on their machine. Use search or grep to find passages, read_document to read one whole, and ask for a researched answer with cited sources."
                .into(),
        );
        info
    }

    fn supported_protocol_versions(&self) -> std::borrow::Cow<'static, [ProtocolVersion]> {
        std::borrow::Cow::Borrowed(&PROTOCOL_VERSIONS)
    }
}

/// Serves the library over stdio until the client closes it (`fathom mcp`).
pub async fn serve_stdio(library: Library) -> Result<(), String> {
    use rmcp::ServiceExt;
    let service = library
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| format!("the MCP client did not start a session: {e}"))?;
    service
        .waiting()
        .await
        .map(|_| ())
        .map_err(|e| format!("the MCP session ended: {e}"))
}
