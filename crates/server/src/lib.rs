//! Fathom's local API: the model and the library for other tools on this machine, over HTTP.
//!
//! A third face over the app core ([`fathom_core::App`]), beside the desktop app and the CLI:
//! OpenAI-compatible endpoints (`GET /v1/models`, `POST /v1/chat/completions` with streaming,
//! reasoning and tool calls, `POST /v1/embeddings`), so that the `openai` package, Open WebUI or
//! an editor can use Context-1 and the library's embedder; and the library as an MCP server
//! ([`mcp`]: `/mcp` here, and over stdio for `fathom mcp`).
//!
//! What keeps it safe to leave running: it listens on loopback unless told otherwise; every
//! request carries the bearer token; no CORS headers, so web pages cannot read its answers;
//! bodies are capped; and one model serves requests in turn from a bounded queue (a full queue
//! answers 429 at once). A client that disconnects stops its generation within a token, freeing
//! the model for the next.
//!
//! ```no_run
//! use std::sync::Arc;
//! use fathom_server::{Server, ServeOptions};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let app = Arc::new(fathom_core::App::open(fathom_store::AppDirs::resolve()?)?);
//! let model = app.active_model_dir()?;
//! let server = Server::start(app, ServeOptions::new(model)).await?;
//! println!("{} (token {})", server.base_url(), server.token());
//! server.stopped().await;
//! # Ok(()) }
//! ```

mod auth;
mod error;
mod limits;
mod local;
pub mod mcp;
pub mod openai;
mod queue;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use fathom_core::{App, CancellationToken};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde::de::DeserializeOwned;

pub use auth::generate_token;
pub use error::ApiError;
pub use local::{client_setups, ApiStatus, ClientSetup, LocalApi};
pub use queue::Queue;

/// The port `fathom serve` and the app listen on unless told otherwise.
pub const DEFAULT_PORT: u16 = 8484;

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Loopback unless the person opts into their local network.
    pub host: IpAddr,
    /// 0 picks a free port.
    pub port: u16,
    /// The bearer token requests must carry; generated when none is given.
    pub token: Option<String>,
    /// The model folder chat requests run on; `None`: wherever the app's settings run the
    /// model (the chosen model here, or a server), so that the library's tools are served even
    /// before a model is chosen.
    pub model: Option<PathBuf>,
    /// Requests running or waiting at once; more are answered 429.
    pub queue: usize,
    /// The largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Load the model even if the memory check says it does not fit.
    pub allow_unfit: bool,
    /// Requests per minute from one client address (0: no limit); a tenth of it may come at
    /// once.
    pub rate_limit: u32,
    /// Web origins browsers may call the API from (`*`: any); none by default.
    pub cors: Vec<String>,
}

/// Checks web origins for [`ServeOptions::cors`] (`http://localhost:3000`, or `*`), returning
/// them tidied (no trailing slash), or what is wrong with one.
pub fn check_origins(origins: &[String]) -> Result<Vec<String>, String> {
    limits::cors(origins)?;
    Ok(origins
        .iter()
        .map(|o| o.trim().trim_end_matches('/').to_string())
        .filter(|o| !o.is_empty())
        .collect())
}

/// Requests per minute per client address unless told otherwise: far above what a person's
/// tools send, far below a runaway loop.
pub const DEFAULT_RATE_LIMIT: u32 = 1200;

impl ServeOptions {
    pub fn new(model: PathBuf) -> ServeOptions {
        ServeOptions {
            model: Some(model),
            ..ServeOptions::app_engine()
        }
    }

    /// Serving the model wherever the app's settings run it.
    pub fn app_engine() -> ServeOptions {
        ServeOptions {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: DEFAULT_PORT,
            token: None,
            model: None,
            queue: 64,
            // A long conversation with pasted documents, with room to spare.
            max_body_bytes: 8 << 20,
            allow_unfit: false,
            rate_limit: DEFAULT_RATE_LIMIT,
            cors: Vec::new(),
        }
    }
}

/// The model chat requests run on, and the name clients call it by.
#[derive(Debug, Clone)]
pub struct ServedModel {
    pub id: String,
    /// `None`: where the app's settings say.
    pub dir: Option<PathBuf>,
}

impl ServedModel {
    /// An installed model goes by its repository (`chromadb/context-1-…`); any other folder by
    /// its name.
    pub fn for_dir(app: &App, dir: PathBuf) -> ServedModel {
        let canonical = |p: &std::path::Path| std::fs::canonicalize(p).ok();
        let id = app
            .installed_models()
            .into_iter()
            .find(|m| canonical(m.path.as_ref()) == canonical(&dir))
            .map(|m| m.repo)
            .or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "context-1".into());
        ServedModel { id, dir: Some(dir) }
    }

    /// The model the app's settings run: the server's (as named there) or the chosen one.
    pub fn of_app(app: &App) -> ServedModel {
        let settings = app.settings();
        let named = match settings.engine {
            fathom_store::EnginePlace::Server => settings.server.model,
            fathom_store::EnginePlace::Computer => settings.active_model,
        };
        ServedModel {
            id: named.unwrap_or_else(|| "context-1".into()),
            dir: None,
        }
    }
}

/// What every handler shares.
pub struct Api {
    pub(crate) app: Arc<App>,
    pub(crate) model: ServedModel,
    pub(crate) queue: Queue,
    pub(crate) allow_unfit: bool,
    /// Unix seconds, the `created` of the models listed.
    pub(crate) started: u64,
}

impl Api {
    /// The embedder's model ids: its repository and its short name.
    fn embedder_ids(&self) -> Option<[&'static str; 2]> {
        let repo = fathom_embed::EMBEDDER_REPO;
        let short = repo.rsplit('/').next().unwrap_or(repo);
        self.app.embedder_dir().map(|_| [repo, short])
    }

    /// The ids `/v1/models` lists.
    fn served(&self) -> Vec<String> {
        let mut ids = vec![self.model.id.clone()];
        if let Some([repo, _]) = self.embedder_ids() {
            ids.push(repo.to_string());
        }
        ids
    }

    fn check_chat_model(&self, model: &str) -> Result<(), ApiError> {
        if model == self.model.id {
            Ok(())
        } else {
            Err(ApiError::unknown_model(model, &[&self.model.id]))
        }
    }

    /// The embedder's id as the client named it.
    fn check_embedding_model(&self, model: &str) -> Result<String, ApiError> {
        match self.embedder_ids() {
            Some(ids) if ids.contains(&model) => Ok(model.to_string()),
            Some([repo, _]) => Err(ApiError::unknown_model(model, &[repo])),
            None => Err(ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: Some("model_unavailable"),
                ..ApiError::server(
                    "The embedder is not downloaded: turn on semantic search in Fathom, or run `fathom pull --embedder`.",
                )
            }),
        }
    }
}

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn too_large() -> ApiError {
    ApiError {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        code: Some("request_too_large"),
        ..ApiError::invalid("The request body is larger than this server takes.")
    }
}

/// A body whose declared length is over the limit is refused before any handler runs. Up to a
/// bound it is read and dropped first, so that the client, still sending, gets the answer rather
/// than a reset connection. (Only behind the token: nobody else gets to make it read.)
async fn refuse_large(
    axum::extract::State(max): axum::extract::State<usize>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    const DRAIN_AT_MOST: u64 = 64 << 20;
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > max as u64 => {
            if n <= DRAIN_AT_MOST {
                let _ = axum::body::to_bytes(request.into_body(), n as usize).await;
            }
            too_large().into_response()
        }
        _ => next.run(request).await,
    }
}

/// A JSON body as `T`, or a 400 (413 when too large) that says what is wrong with it.
pub(crate) fn parse_body<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            ApiError::invalid(format!("The request body could not be read: {rejection}"))
        }
    })?;
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid(format!("The request body is not valid JSON: {e}.")))?;
    serde_json::from_value(value).map_err(|e| {
        ApiError::invalid(format!(
            "The request does not have the expected shape: {e}."
        ))
    })
}

/// The MCP endpoint (streamable HTTP) over the same core, ended by `shutdown`.
fn mcp_service(
    api: &Api,
    loopback: bool,
    max_body_bytes: usize,
    shutdown: CancellationToken,
) -> StreamableHttpService<mcp::Library, LocalSessionManager> {
    let library = mcp::Library::new(api.app.clone(), api.model.dir.clone(), api.allow_unfit);
    let mut config = StreamableHttpServerConfig::default()
        .with_cancellation_token(shutdown)
        .with_max_request_body_bytes(max_body_bytes);
    if !loopback {
        // Reached by other machines' names: the token is what admits a request.
        config = config.disable_allowed_hosts();
    }
    StreamableHttpService::new(
        move || Ok(library.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    )
}

/// What the API lets through besides the token.
#[derive(Default)]
pub struct Limits {
    pub rate: Option<limits::Limiter>,
    pub cors: Option<tower_http::cors::CorsLayer>,
}

/// The API's routes over `api`, behind the token: OpenAI's under `/v1`, MCP at `/mcp`. The
/// rate limit needs the peer's address: serve it with `into_make_service_with_connect_info`.
pub fn router(
    api: Arc<Api>,
    token: &str,
    max_body_bytes: usize,
    loopback: bool,
    limits: Limits,
    shutdown: CancellationToken,
) -> Router {
    let token: Arc<str> = token.into();
    let mcp = mcp_service(&api, loopback, max_body_bytes, shutdown);
    let router = Router::new()
        .route_service("/mcp", mcp)
        .route("/v1/models", get(openai::models))
        .route("/v1/models/{*id}", get(openai::model))
        .route("/v1/chat/completions", post(openai::chat::handle))
        .route("/v1/completions", post(openai::completions::handle))
        .route("/v1/responses", post(openai::responses::handle))
        .route("/v1/embeddings", post(openai::embeddings::handle))
        .fallback(|uri: Uri| async move { ApiError::not_found(uri.path()).into_response() })
        .method_not_allowed_fallback(|| async {
            ApiError {
                status: StatusCode::METHOD_NOT_ALLOWED,
                ..ApiError::invalid("This endpoint does not take that method.")
            }
            .into_response()
        })
        .with_state(api)
        .layer(axum::middleware::from_fn_with_state(
            max_body_bytes,
            refuse_large,
        ))
        .layer(axum::middleware::from_fn_with_state(
            token,
            auth::require_token,
        ))
        .layer(DefaultBodyLimit::max(max_body_bytes));
    // Outside the token: a flood is refused before any work, and a browser's preflight (which
    // carries no token) is answered, with CORS headers on every answer, refusals included.
    let router = match limits.rate {
        Some(limiter) => router.layer(axum::middleware::from_fn_with_state(
            limiter,
            limits::limit_rate,
        )),
        None => router,
    };
    match limits.cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Model(String),
    #[error("{0}")]
    Options(String),
}

/// A running server; it stops when [`Server::stop`] is called or the value is dropped.
pub struct Server {
    address: SocketAddr,
    token: String,
    model: ServedModel,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Listens and serves in the background (on the current Tokio runtime).
    pub async fn start(app: Arc<App>, options: ServeOptions) -> Result<Server, ServeError> {
        let model = match &options.model {
            Some(dir) if !dir.join("config.json").is_file() => {
                return Err(ServeError::Model(format!(
                    "{} is not a model folder (it has no config.json)",
                    dir.display()
                )))
            }
            Some(dir) => ServedModel::for_dir(&app, dir.clone()),
            None => ServedModel::of_app(&app),
        };
        let token = options.token.clone().unwrap_or_else(generate_token);
        let limits = Limits {
            rate: limits::limiter(options.rate_limit),
            cors: limits::cors(&options.cors).map_err(ServeError::Options)?,
        };
        let requested = SocketAddr::new(options.host, options.port);
        let listener = tokio::net::TcpListener::bind(requested)
            .await
            .map_err(|source| ServeError::Listen {
                address: requested,
                source,
            })?;
        let address = listener.local_addr().map_err(|source| ServeError::Listen {
            address: requested,
            source,
        })?;
        let queue = Queue::new(options.queue);
        let api = Arc::new(Api {
            app,
            model: model.clone(),
            queue: queue.clone(),
            allow_unfit: options.allow_unfit,
            started: unix_now(),
        });
        let shutdown = CancellationToken::new();
        let router = router(
            api,
            &token,
            options.max_body_bytes,
            options.host.is_loopback(),
            limits,
            shutdown.child_token(),
        );
        let stopping = shutdown.clone();
        let task = tokio::spawn(async move {
            let service = router.into_make_service_with_connect_info::<SocketAddr>();
            let serve = axum::serve(listener, service).with_graceful_shutdown(async move {
                stopping.cancelled().await;
                // Waiting requests are refused; running ones end with their clients.
                queue.close();
            });
            if let Err(e) = serve.await {
                log::error!("the API server stopped: {e}");
            }
        });
        Ok(Server {
            address,
            token,
            model,
            shutdown,
            task: Some(task),
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `http://host:port/v1`: what OpenAI clients take as their base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.address)
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn model(&self) -> &ServedModel {
        &self.model
    }

    /// Stops accepting requests and waits for those in flight to end.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Waits until the server stops.
    pub async fn stopped(mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
