//! A library's passages on a Chroma server (Chroma's v2 API, through the official `chroma`
//! crate), for libraries that outgrow one machine or are shared by a team.
//!
//! Files are still read, cut into chunks and embedded on this machine, into the local index
//! (which stays the record of what was indexed from which file version, so a killed or
//! interrupted run resumes). [`ChromaLibrary::sync`] then copies each finished document, its
//! chunks, their metadata and Fathom's vectors to the server, and removes what went away; it
//! compares the server's records with the local index, so it resumes after the server went
//! away mid-copy and never copies a document twice. Search, grep and reading then run on the
//! server ([`fathom_index::Passages`]), with the local index's results contract: chunk ids
//! `document:index`, folders by their library id, excluded ids never returned.
//!
//! A library can also live on the server alone: [`ServerStore`] is the indexer's store there
//! (chunks and vectors written straight to the server, a ledger of finished files kept here),
//! and [`ChromaLibrary::pull`] reads it back, vectors included, when it moves home.
//!
//! Chroma's single-node server has no BM25 or rank fusion (its Search API answers 501 there),
//! so search here is the server's dense query fused by reciprocal rank with a lexical list:
//! the server finds the chunks containing the query's words (`$contains`, its full-text
//! index) and they are ranked here by BM25 over what came back.
//!
//! ```no_run
//! use fathom_chroma::{ChromaLibrary, Connection};
//! use fathom_index::{Passages, SearchQuery};
//!
//! let library = ChromaLibrary::connect(&Connection::local("http://127.0.0.1:8000"), "this-mac")?;
//! let hits = library.search_embedding(
//!     &SearchQuery { text: "quarterly revenue".into(), limit: 10, ..Default::default() },
//!     &|_| None, // lexical alone; pass the query embedder for hybrid search
//! )?;
//! # Ok::<(), fathom_index::IndexError>(())
//! ```

mod lexical;
mod store;
mod sync;
pub mod test_server;

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use chroma::client::{
    ChromaAuthMethod, ChromaHttpClientError, ChromaHttpClientOptions, ChromaRetryOptions,
};
use chroma::types::{
    GetResponse, Include, IncludeList, Key, Metadata, MetadataValue, Schema, Space,
    VectorIndexConfig, Where,
};
use chroma::{ChromaCollection, ChromaHttpClient};
use fathom_index::{Hit, IndexError, Passages, SearchQuery};

pub use store::{PullProgress, PullReport, ServerStore};
pub use sync::{SyncProgress, SyncReport};

/// Where a library on a Chroma server lives (kept in the settings).
pub use fathom_store::ChromaConnection as Connection;

/// How long one request may take before the server counts as gone. The client sets no timeout
/// of its own, so a hung server would hang a search.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A short name for a connection's collection (server, tenant, database, collection), stable
/// and safe in a file name: what keeps a library that lives there apart from others. The same
/// digest as document ids; a token is not part of it (a new token reaches the same collection).
pub fn collection_key(c: &Connection) -> String {
    let url = c.url.trim().trim_end_matches('/');
    let place = format!("{url}\n{}\n{}\n{}", c.tenant, c.database, c.collection);
    fathom_index::document_id(std::path::Path::new(&place))
}

/// A library's passages on a Chroma server.
pub struct ChromaLibrary {
    url: String,
    /// Whose records these are: sync adds and removes only records of this origin (one
    /// machine's library), searches read everyone's.
    origin: String,
    collection: ChromaCollection,
    runtime: ClientRuntime,
    timeout: Duration,
    /// What this machine copied whole to the collection (see [`ChromaLibrary::with_copy_ledger`]).
    copied: Option<fathom_index::Ledger>,
}

/// The client's own runtime, shut down without waiting when dropped: a library dropped in async
/// code (the CLI's commands, the API server) must not block there, which tokio refuses with a
/// panic.
struct ClientRuntime(Option<tokio::runtime::Runtime>);

impl std::ops::Deref for ClientRuntime {
    type Target = tokio::runtime::Runtime;

    fn deref(&self) -> &Self::Target {
        self.0.as_ref().expect("present until dropped")
    }
}

impl Drop for ClientRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl ChromaLibrary {
    /// Connects (checking the server answers and the token is accepted) and opens the
    /// collection, creating it with cosine distance when it does not exist.
    pub fn connect(connection: &Connection, origin: &str) -> Result<Self, IndexError> {
        Self::connect_with(connection, origin, REQUEST_TIMEOUT)
    }

    /// [`ChromaLibrary::connect`] with another limit on each request.
    pub fn connect_with(
        connection: &Connection,
        origin: &str,
        timeout: Duration,
    ) -> Result<Self, IndexError> {
        let url = connection.url.trim().trim_end_matches('/').to_string();
        let bad = |why: String| IndexError::Remote(format!("Chroma server {url:?}: {why}"));
        let endpoint: reqwest::Url = url.parse().map_err(|e| bad(format!("not a URL ({e})")))?;
        if !matches!(endpoint.scheme(), "http" | "https") {
            return Err(bad("the URL must start with http:// or https://".into()));
        }
        if origin.is_empty() {
            return Err(bad("no origin given for this library's records".into()));
        }
        // reqwest's rustls has no crypto provider of its own here (see Cargo.toml), and its
        // client wants one even for plain http.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let auth_method = match connection.token.as_deref().filter(|t| !t.is_empty()) {
            Some(token) => ChromaAuthMethod::cloud_api_key(token)
                .map_err(|_| bad("the token has characters a header cannot carry".into()))?,
            None => ChromaAuthMethod::None,
        };
        let client = ChromaHttpClient::new(ChromaHttpClientOptions {
            endpoint,
            tenant_id: Some(connection.tenant.clone()),
            database_name: Some(connection.database.clone()),
            auth_method,
            retry_options: ChromaRetryOptions {
                max_retries: 2,
                ..Default::default()
            },
            ..Default::default()
        });
        let runtime = ClientRuntime(Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("fathom-chroma")
                .enable_all()
                .build()
                .map_err(|e| bad(format!("cannot start its client ({e})")))?,
        ));
        let name = connection.collection.clone();
        let schema = Schema::default()
            .create_index(
                None,
                VectorIndexConfig {
                    space: Some(Space::Cosine),
                    embedding_function: None,
                    source_key: None,
                    hnsw: None,
                    spann: None,
                }
                .into(),
            )
            .map_err(|e| bad(format!("collection schema: {e}")))?;
        let opening = Opening { url: &url, timeout };
        opening.run(&runtime, "the heartbeat", {
            let client = client.clone();
            async move { client.heartbeat().await.map(|_| ()) }
        })?;
        let collection = opening.run(&runtime, "opening the collection", async move {
            client
                .get_or_create_collection(&name, Some(schema), None)
                .await
        })?;
        Ok(ChromaLibrary {
            url,
            origin: origin.to_string(),
            collection,
            runtime,
            timeout,
            copied: None,
        })
    }

    /// Keeps a ledger at `path` of the documents [`ChromaLibrary::sync`] copied whole (one per
    /// collection, on this machine). A copy then reads what the server holds from it instead of
    /// listing every record's metadata (pages of a few thousand: minutes at millions of chunks)
    /// whenever the collection's count is the ledger's; when they differ (another machine's
    /// records, records removed by someone else, a copy cut off before the ledger caught up) it
    /// lists as before and starts the ledger again from what it found. The ledger never runs
    /// ahead of the server: documents leave it before their records go and enter it after
    /// theirs are written.
    pub fn with_copy_ledger(mut self, path: &std::path::Path) -> Result<Self, IndexError> {
        self.copied = Some(fathom_index::Ledger::open(path)?);
        Ok(self)
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Chunks in the collection (every origin's).
    pub fn count(&self) -> Result<u64, IndexError> {
        let c = self.collection.clone();
        Ok(self.run("counting", async move { c.count().await })? as u64)
    }

    /// Runs one request on the client's runtime, within the time limit, with errors that say
    /// which server and what was being done.
    fn run<T: Send>(
        &self,
        what: &str,
        request: impl Future<Output = Result<T, ChromaHttpClientError>> + Send,
    ) -> Result<T, IndexError> {
        Opening {
            url: &self.url,
            timeout: self.timeout,
        }
        .run(&self.runtime, what, request)
    }

    /// Records matching `filter`, with their text and metadata, as hits.
    fn get_hits(&self, filter: Where, limit: Option<u32>) -> Result<Vec<Hit>, IndexError> {
        Ok(self
            .get_hits_each(vec![filter], limit)?
            .pop()
            .unwrap_or_default())
    }

    /// [`ChromaLibrary::get_hits`] for several filters, asked at once (a query's words).
    fn get_hits_each(
        &self,
        filters: Vec<Where>,
        limit: Option<u32>,
    ) -> Result<Vec<Vec<Hit>>, IndexError> {
        let c = self.collection.clone();
        let n = filters.len();
        let responses = self.run("reading chunks", async move {
            let mut asked = tokio::task::JoinSet::new();
            for (i, filter) in filters.into_iter().enumerate() {
                let c = c.clone();
                asked.spawn(async move {
                    let include = IncludeList(vec![Include::Document, Include::Metadata]);
                    (
                        i,
                        c.get(None, Some(filter), limit, None, Some(include)).await,
                    )
                });
            }
            let mut out: Vec<Option<GetResponse>> = (0..n).map(|_| None).collect();
            while let Some(joined) = asked.join_next().await {
                // A request task only ends by returning (the client does not panic).
                if let Ok((i, response)) = joined {
                    out[i] = Some(response?);
                }
            }
            Ok(out)
        })?;
        Ok(responses
            .into_iter()
            .map(|r| r.map(hits_of).unwrap_or_default())
            .collect())
    }

    /// The dense side: (hit, cosine), best first.
    fn dense(&self, q: &SearchQuery, vector: Vec<f32>, k: usize) -> Result<Vec<Hit>, IndexError> {
        let c = self.collection.clone();
        let filter = scope(q.folder.as_deref(), &q.exclude);
        let r = self.run("a dense search", async move {
            c.query(
                vec![vector],
                Some(k as u32),
                filter,
                None,
                Some(IncludeList(vec![
                    Include::Document,
                    Include::Metadata,
                    Include::Distance,
                ])),
            )
            .await
        })?;
        let ids = r.ids.into_iter().next().unwrap_or_default();
        let docs = r
            .documents
            .and_then(|d| d.into_iter().next())
            .unwrap_or_default();
        let metas = r
            .metadatas
            .and_then(|m| m.into_iter().next())
            .unwrap_or_default();
        let dists = r
            .distances
            .and_then(|d| d.into_iter().next())
            .unwrap_or_default();
        Ok(ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let distance = dists.get(i).copied().flatten().unwrap_or(1.0);
                record_hit(
                    id,
                    docs.get(i).cloned().flatten(),
                    metas.get(i).cloned().flatten(),
                    1.0 - distance,
                )
            })
            .collect())
    }
}

/// The server and time limit a request runs against (before the library exists, too).
struct Opening<'a> {
    url: &'a str,
    timeout: Duration,
}

impl Opening<'_> {
    fn run<T: Send>(
        &self,
        runtime: &tokio::runtime::Runtime,
        what: &str,
        request: impl Future<Output = Result<T, ChromaHttpClientError>> + Send,
    ) -> Result<T, IndexError> {
        let timeout = self.timeout;
        let limited = async move { tokio::time::timeout(timeout, request).await };
        // A caller already on a runtime (the API server, the app's commands) cannot block on
        // another from its own thread: it waits on a scoped thread instead.
        let outcome = if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::scope(|s| {
                s.spawn(|| runtime.block_on(limited))
                    .join()
                    .map_err(|_| IndexError::Remote("the Chroma client panicked".into()))
            })?
        } else {
            runtime.block_on(limited)
        };
        match outcome {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(explain(self.url, what, e)),
            Err(_) => Err(IndexError::Remote(format!(
                "the Chroma server at {} did not answer {what} within {} s",
                self.url,
                timeout.as_secs()
            ))),
        }
    }
}

/// A client error as a person can act on it: whether the server is down, refused the token or
/// said something else, and where.
fn explain(url: &str, what: &str, e: ChromaHttpClientError) -> IndexError {
    use chroma::client::ChromaHttpClientError as E;
    IndexError::Remote(match e {
        E::RequestError(e) if e.is_connect() => format!(
            "cannot reach the Chroma server at {url} ({what}): is it running, and is the address right?"
        ),
        E::RequestError(e) if e.is_timeout() => {
            format!("the Chroma server at {url} did not answer {what} in time")
        }
        E::RequestError(e) => {
            format!("the Chroma server at {url} went away during {what} ({e})")
        }
        E::ApiError(message, status) if status.as_u16() == 401 || status.as_u16() == 403 => {
            format!(
                "the Chroma server at {url} refused the token ({what}: {message}, HTTP {}): check the token in Settings",
                status.as_u16()
            )
        }
        E::ApiError(message, status) => format!(
            "the Chroma server at {url} refused {what}: {message} (HTTP {})",
            status.as_u16()
        ),
        other => format!("Chroma at {url}, {what}: {other}"),
    })
}

/// The metadata filter for a folder and the ids to leave out (`None`: everything).
fn scope(folder: Option<&str>, exclude: &[String]) -> Option<Where> {
    let mut parts = Vec::new();
    if let Some(folder) = folder {
        parts.push(Key::field("folder").eq(folder));
    }
    if !exclude.is_empty() {
        // Chroma filters no record id out, only metadata: each record carries its id there too.
        parts.push(Key::field("chunk_id").not_in(exclude.to_vec()));
    }
    all_of(parts)
}

fn all_of(parts: Vec<Where>) -> Option<Where> {
    parts.into_iter().reduce(|a, b| a & b)
}

fn text_of(m: &Metadata, key: &str) -> String {
    match m.get(key) {
        Some(MetadataValue::Str(s)) => s.clone(),
        _ => String::new(),
    }
}

fn int_of(m: &Metadata, key: &str) -> i64 {
    match m.get(key) {
        Some(MetadataValue::Int(n)) => *n,
        _ => 0,
    }
}

/// A get's records as hits.
fn hits_of(r: GetResponse) -> Vec<Hit> {
    let docs = r.documents.unwrap_or_default();
    let metas = r.metadatas.unwrap_or_default();
    r.ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            record_hit(
                id,
                docs.get(i).cloned().flatten(),
                metas.get(i).cloned().flatten(),
                0.0,
            )
        })
        .collect()
}

/// A record as the local index's hit.
fn record_hit(id: &str, text: Option<String>, meta: Option<Metadata>, score: f32) -> Hit {
    let m = meta.unwrap_or_default();
    let doc_id = match text_of(&m, "doc_id") {
        d if d.is_empty() => id.split(':').next().unwrap_or(id).to_string(),
        d => d,
    };
    Hit {
        chunk_id: id.to_string(),
        doc_id,
        folder: text_of(&m, "folder"),
        path: text_of(&m, "path"),
        chunk: int_of(&m, "chunk").max(0) as u32,
        score,
        text: text.unwrap_or_default(),
        line: int_of(&m, "line").max(0) as u32,
        page: int_of(&m, "page").max(0) as u32,
    }
}

impl Passages for ChromaLibrary {
    fn search_embedding(
        &self,
        q: &SearchQuery,
        embed: &(dyn Fn(&str) -> Option<Vec<f32>> + Sync),
    ) -> Result<Vec<Hit>, IndexError> {
        let depth = q.depth();
        // The two sides at once: the query is embedded and its dense search runs on the server
        // while the server looks for its words (one after the other, a search took the sum of
        // two round trips).
        let (lexical, dense) = std::thread::scope(|s| {
            let dense = s.spawn(|| match q.vector.clone().or_else(|| embed(&q.text)) {
                Some(vector) => self.dense(q, vector, depth).map(Some),
                None => Ok(None),
            });
            let lexical = lexical::search(self, q, depth);
            let dense = dense
                .join()
                .unwrap_or_else(|_| Err(IndexError::Remote("the query embedder panicked".into())));
            (lexical, dense)
        });
        let lexical = lexical?;
        let Some(dense) = dense? else {
            let mut hits = lexical;
            hits.truncate(q.limit);
            return Ok(hits);
        };
        let fused = fathom_index::dense::rrf(
            &[
                lexical.iter().map(|h| h.chunk_id.clone()).collect(),
                dense.iter().map(|h| h.chunk_id.clone()).collect(),
            ],
            60.0,
        );
        let mut known: HashMap<String, Hit> = dense
            .into_iter()
            .chain(lexical)
            .map(|h| (h.chunk_id.clone(), h))
            .collect();
        Ok(fused
            .into_iter()
            .take(q.limit)
            .filter_map(|(id, score)| known.remove(&id).map(|h| Hit { score, ..h }))
            .collect())
    }

    fn grep(
        &self,
        pattern: &str,
        folder: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Hit>, IndexError> {
        // Checked here first (the server runs the same regex crate) for the same message as
        // the local index gives.
        regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| IndexError::Query(format!("bad pattern: {e}")))?;
        let mut parts = vec![Key::Document.regex(pattern)];
        parts.extend(folder.map(|f| Key::field("folder").eq(f)));
        let mut hits = self.get_hits(all_of(parts).expect("one part"), Some(limit as u32))?;
        hits.sort_by(|a, b| (&a.path, a.chunk).cmp(&(&b.path, b.chunk)));
        Ok(hits)
    }

    fn read_document(&self, doc_id: &str) -> Result<Vec<Hit>, IndexError> {
        let mut hits = self.get_hits(Key::field("doc_id").eq(doc_id), None)?;
        hits.sort_by_key(|h| h.chunk);
        Ok(hits)
    }
}
