//! `fathom`: Fathom's capabilities on the command line, for power users, scripts and benchmarks.

mod ask;
mod bench;
mod chat;
mod library;
mod models;
mod serve;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use fathom_chat::session::Chat;
use fathom_core::{App, CancellationToken, OpenOptions};
use fathom_engine::{
    Detokenizer, Engine, GenerateOptions, SamplingParams, Stats, StreamEvent, Tokenizer,
};
use serde::Serialize;

#[derive(Parser)]
#[command(
    name = "fathom",
    version,
    about = "Private agentic search over your documents with Context-1"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// What runs the model on this computer for this command: mlx or llamacpp (default: the
    /// app's setting, which is MLX on a Mac and llama.cpp elsewhere). `bench` takes several,
    /// comma-separated, and measures each.
    #[arg(long, global = true, value_delimiter = ',')]
    backend: Vec<fathom_engine::BackendKind>,
}

/// `--backend`, for every App this process opens.
static BACKEND: std::sync::OnceLock<fathom_engine::BackendKind> = std::sync::OnceLock::new();

#[derive(Subcommand)]
enum Command {
    /// Ask the library: Context-1 searches it with its own tools and ranks the documents that
    /// matter, each with why.
    Ask(ask::AskArgs),
    /// Chat with the model: interactive in a terminal, else one reply to the conversation on
    /// standard input (a message, or JSON).
    Chat(chat::ChatArgs),
    /// Serve the model and the library's embedder to other tools on this machine: an
    /// OpenAI-compatible API (`/v1/chat/completions`, `/v1/responses`, `/v1/completions`, `/v1/embeddings`,
    /// `/v1/models`) and the library as an MCP server at `/mcp`, behind a token.
    Serve(serve::ServeArgs),
    /// Where chat, Ask and the API run the model: on this computer, or on an OpenAI-compatible
    /// server (vLLM, llama.cpp's server, LM Studio, another Fathom). Shared with the app's
    /// Settings. Without a choice, says where it runs now.
    Engine {
        #[command(subcommand)]
        place: Option<EngineCommand>,
    },
    /// Serve the library to an assistant (Claude Desktop, Cursor, …) as an MCP server over
    /// standard input and output: search, grep, read_document, list_folders and ask.
    Mcp {
        /// The model `ask` runs on; else the app's model (or the only one installed).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Load the model even if the memory check says it will not fit.
        #[arg(long)]
        allow_unfit: bool,
    },
    /// Generate text (or token ids) from a prompt with a local model.
    Generate(GenerateArgs),
    /// Measure load time, prefill and decode speed, time to first token and peak memory, next to
    /// mlx-lm on the same checkpoint in the same run, and print the ratios.
    Bench(BenchArgs),
    /// Convert a checkpoint (dense BF16 chromadb/context-1, OpenAI MXFP4, MLX) into an MLX MXFP4
    /// checkpoint that loads directly, or with `--to gguf` into the GGUF file llama.cpp runs
    /// (MXFP4 repacked bit for bit; the app does this by itself on first load with llama.cpp).
    Convert {
        /// The checkpoint to convert.
        src: PathBuf,
        /// A new directory (mlx) or file (gguf) for the result.
        dst: PathBuf,
        #[arg(long, value_enum, default_value = "mlx")]
        to: ConvertTarget,
    },
    /// The catalogue, installed models and partial downloads.
    Models {
        #[arg(long)]
        json: bool,
    },
    /// Download a model from Hugging Face (HF_ENDPOINT, HF_TOKEN honoured) into the Hugging Face
    /// cache; an interrupted download resumes. Checks first that it fits in memory.
    Pull {
        /// Repository id; the catalogue's default when omitted.
        repo: Option<String>,
        #[arg(long, default_value = "main")]
        revision: String,
        /// Access token for gated or private repositories (else the app's, else HF_TOKEN).
        #[arg(long)]
        token: Option<String>,
        /// Context length the memory check assumes.
        #[arg(long)]
        context: Option<u64>,
        /// Download even if the memory check says it cannot run here.
        #[arg(long)]
        anyway: bool,
        /// Download the library's embedder (all-MiniLM-L6-v2, 90 MB) for dense and hybrid search.
        #[arg(long, conflicts_with = "repo")]
        embedder: bool,
    },
    /// Delete a downloaded model (and its converted copy).
    Rm { repo: String },
    /// The library's folders and their index.
    #[command(subcommand)]
    Index(IndexCommand),
    /// Search the library: BM25, fused with dense retrieval when the embedder is here.
    Search {
        query: String,
        /// Only this library folder (its path).
        #[arg(long)]
        folder: Option<String>,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// The local API's cost: tokens per second through `fathom serve` beside in-process on the
    /// same checkpoint, then many clients at once through its queue.
    ServeBench {
        #[arg(long)]
        model: PathBuf,
        /// Tokens per reply.
        #[arg(long, default_value_t = 128)]
        tokens: usize,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Clients sending at once.
        #[arg(long, default_value_t = 32)]
        clients: usize,
        #[arg(long)]
        json: bool,
    },
    /// Retrieval quality and speed on a BEIR-layout test set (corpus.jsonl.gz, queries.jsonl,
    /// qrels.tsv), e.g. ../shared/data/scifact: nDCG@10, recall@100, indexing rate, latency.
    SearchBench {
        /// A BEIR-layout folder; omitted with --generated-chunks.
        #[arg(required_unless_present = "generated_chunks")]
        data: Option<PathBuf>,
        /// Instead: index a generated corpus of at least this many chunks and time it.
        #[arg(long)]
        generated_chunks: Option<usize>,
        #[arg(long, default_value_t = fathom_index::chunk::CHUNK_TOKENS)]
        chunk_tokens: usize,
        #[arg(long, default_value_t = fathom_index::chunk::OVERLAP_TOKENS)]
        overlap_tokens: usize,
        /// A sentence-transformers model directory (all-MiniLM-L6-v2): adds dense and hybrid
        /// (with --generated-chunks: the vector pass's throughput and query-embedding latency).
        #[arg(long)]
        embedder: Option<PathBuf>,
        /// With --generated-chunks and --embedder: stop the vector pass after this many seconds
        /// and report its rate (the whole corpus takes hours on a CPU).
        #[arg(long)]
        embed_seconds: Option<f64>,
        /// With --generated-chunks: also copy the library to this Chroma server (a new
        /// collection) and time the copy and the same hybrid searches there.
        #[arg(long, requires = "generated_chunks")]
        chroma: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Will a model run here? REPO (read from Hugging Face before downloading) or a local DIR.
    Fit {
        target: String,
        /// Context length to check, in tokens.
        #[arg(long)]
        context: Option<u64>,
        #[arg(long, default_value = "main")]
        revision: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum EngineCommand {
    /// Run the model here, the one chosen on the Models page (or with --model).
    Computer,
    /// Run the model on a server; its model list is fetched first, to show it answers.
    Server {
        /// Its address, with or without /v1: http://192.168.1.20:8000/v1
        url: String,
        /// The API key, sent as a bearer token.
        #[arg(long)]
        key: Option<String>,
        /// The model to ask for (the server's first when not given).
        #[arg(long)]
        model: Option<String>,
    },
}

#[derive(Subcommand)]
enum IndexCommand {
    /// Add folders to the library and index them.
    Add { paths: Vec<PathBuf> },
    /// Folders, document and chunk counts, files that failed and why, pages needing OCR.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Remove a folder and its documents from the library.
    Rm { path: PathBuf },
    /// Bring every folder's index up to date (only changed files are redone).
    Update,
    /// Where the library lives: on this computer, or on a Chroma server (files are still read
    /// and embedded here, then copied there; search and Ask run there), beside the index here
    /// or (`--only`) alone. Shared with the app's Settings. Without a choice, says where it
    /// lives and its size.
    Place {
        #[command(subcommand)]
        place: Option<PlaceCommand>,
    },
    /// Copy what changed to the library's Chroma server now (`index add` and `update` do it
    /// after their vectors); a stopped copy resumes where it stopped.
    Sync,
}

#[derive(Subcommand)]
enum PlaceCommand {
    /// Search the index on this computer (it never left).
    Computer,
    /// Keep the library on a Chroma server; the server is checked first.
    Chroma {
        /// Its address: http://192.168.1.20:8000
        url: String,
        #[arg(long, default_value = "default_tenant")]
        tenant: String,
        #[arg(long, default_value = "default_database")]
        database: String,
        #[arg(long, default_value = "fathom")]
        collection: String,
        /// Sent as x-chroma-token (Chroma Cloud, or a gateway that checks it).
        #[arg(long)]
        token: Option<String>,
        /// Keep it on the server alone: the index here is copied there and emptied, and
        /// indexing writes straight there (needs the embedder: `fathom pull --embedder`).
        #[arg(long)]
        only: bool,
    },
}

#[derive(Args)]
struct GenerateArgs {
    /// Model directory (config.json, *.safetensors, tokenizer.json).
    #[arg(long)]
    model: PathBuf,
    /// Prompt text, tokenized with the model's tokenizer.
    #[arg(long, conflicts_with = "tokens", required_unless_present = "tokens")]
    prompt: Option<String>,
    /// Prompt as token ids, comma-separated.
    #[arg(long, value_delimiter = ',')]
    tokens: Option<Vec<u32>>,
    #[arg(long, default_value_t = 256)]
    max_tokens: usize,
    /// Sampling temperature; 0 is greedy.
    #[arg(long = "temp", default_value_t = 0.0)]
    temperature: f32,
    #[arg(long, default_value_t = 1.0)]
    top_p: f32,
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    #[arg(long, default_value_t = 0.0)]
    min_p: f32,
    /// Seed for reproducible sampling.
    #[arg(long)]
    seed: Option<u64>,
    /// Print one JSON object (token ids, text, statistics) instead of streaming text.
    #[arg(long)]
    json: bool,
    /// Load the model even if the memory check says it will not fit.
    #[arg(long)]
    ignore_fit: bool,
}

#[derive(Args)]
pub struct BenchArgs {
    #[arg(long)]
    model: PathBuf,
    /// Prompt lengths to prefill, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "512,2048")]
    prompt_lens: Vec<usize>,
    /// Tokens to generate after each prompt (the first comes from the prefill).
    #[arg(long, default_value_t = 16)]
    decode_tokens: usize,
    /// Python with mlx-lm to run the reference (e.g. .tools/py-ref/bin/python); none skips it.
    #[arg(long)]
    reference_python: Option<PathBuf>,
    /// Prompt lengths for the reference, if it must be shortened to fit the time.
    #[arg(long, value_delimiter = ',')]
    reference_prompt_lens: Option<Vec<usize>>,
    #[arg(long)]
    reference_decode_tokens: Option<usize>,
    /// llama.cpp's own `llama-bench` (tests/bench/build_llama_bench.sh builds it from the source
    /// Fathom links): run on the same GGUF after Fathom's llama.cpp backend, as its baseline.
    #[arg(long)]
    llama_bench: Option<PathBuf>,
    /// Print both reports as JSON.
    #[arg(long)]
    json: bool,
    /// Instead of speed: measure peak memory at these context lengths (each in a fresh process)
    /// and print it next to `fathom fit`'s prediction.
    #[arg(long, value_delimiter = ',')]
    memory_at: Option<Vec<usize>>,
    /// One memory measurement in this process (what `--memory-at` runs), printed as JSON.
    #[arg(long, hide = true)]
    memory_probe: Option<usize>,
}

#[derive(Serialize)]
struct GenerateReport {
    prompt_tokens: Vec<u32>,
    tokens: Vec<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    /// What ran the model: mlx or llamacpp.
    backend: fathom_engine::BackendKind,
    stats: Stats,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("fathom: {message}");
    ExitCode::FAILURE
}

/// Fathom's state, as the app keeps it (FATHOM_DATA_DIR, else the platform's folders). Without
/// the app's background vector pass: a command adds vectors in the foreground and exits.
fn open_app() -> Result<App, String> {
    let dirs = fathom_store::AppDirs::resolve().map_err(|e| e.to_string())?;
    let app = App::open_with(
        dirs,
        OpenOptions {
            background_vectors: false,
        },
    )
    .map_err(|e| e.to_string())?;
    if let Some(&backend) = BACKEND.get() {
        app.use_backend(backend);
    }
    Ok(app)
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ConvertTarget {
    Mlx,
    Gguf,
}

/// The model a command runs on: `--model DIR`, else none (`Ok(None)`) when the settings run the
/// model on a server, else the model chosen in the app, else the only one installed (on the
/// command line there is no Models page to choose one on).
fn model_dir(app: &App, given: Option<PathBuf>) -> Result<Option<PathBuf>, String> {
    if let Some(dir) = given {
        return Ok(Some(dir));
    }
    if app.settings().engine == fathom_store::EnginePlace::Server {
        return Ok(None);
    }
    match app.active_model_dir() {
        Ok(dir) => Ok(Some(dir)),
        Err(e) => match app.installed_models().as_slice() {
            [only] if app.settings().active_model.is_none() => Ok(Some(PathBuf::from(&only.path))),
            _ => Err(format!(
                "{e} (or give --model DIR; `fathom pull` downloads the default)"
            )),
        },
    }
}

/// `fathom engine`: shows or changes where the model runs.
async fn engine(app: &App, place: Option<EngineCommand>) -> ExitCode {
    use fathom_store::{EnginePlace, ServerSettings};
    let saved = app.settings().server;
    let result: Result<(), String> = match place {
        None => Ok(()),
        Some(EngineCommand::Computer) => app
            .set_engine(EnginePlace::Computer, saved)
            .map_err(|e| e.to_string()),
        Some(EngineCommand::Server { url, key, model }) => {
            let server = ServerSettings { url, key, model };
            match app.server_models(&server).await {
                Ok(models) if models.is_empty() => {
                    Err("the server answers but serves no models".into())
                }
                Ok(models) => {
                    println!("{} serves: {}", server.url, models.join(", "));
                    app.set_engine(EnginePlace::Server, server)
                        .map_err(|e| e.to_string())
                }
                Err(e) => Err(e.to_string()),
            }
        }
    };
    if let Err(e) = result {
        return fail(e);
    }
    let settings = app.settings();
    match settings.engine {
        EnginePlace::Computer => println!(
            "The model runs on this computer ({}).",
            settings
                .active_model
                .as_deref()
                .unwrap_or("no model chosen yet")
        ),
        EnginePlace::Server => println!(
            "The model runs on the server at {} ({}).",
            settings.server.url,
            settings
                .server
                .model
                .as_deref()
                .unwrap_or("its first model")
        ),
    }
    ExitCode::SUCCESS
}

/// The chat engine on the command's model (see [`model_dir`]).
fn chat_for(app: &App, model: Option<PathBuf>, allow_unfit: bool) -> Result<Arc<Chat>, String> {
    let dir = model_dir(app, model)?;
    app.chat_session(dir, allow_unfit)
        .map(|(chat, _)| chat)
        .map_err(|e| e.to_string())
}

/// A stop signal that Ctrl-C sets; abort the task when the work is done.
fn stop_on_ctrl_c() -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let stop = CancellationToken::new();
    let set = stop.clone();
    let task = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            set.cancel();
        }
    });
    (stop, task)
}

async fn generate(args: GenerateArgs) -> ExitCode {
    // The tokenizer is needed for text; with token ids it only contributes stop tokens.
    let tokenizer = match (&args.prompt, Tokenizer::from_dir(&args.model)) {
        (_, Ok(t)) => Some(t),
        (None, Err(_)) => None,
        (Some(_), Err(e)) => return fail(e),
    };
    let prompt = match (&args.prompt, args.tokens.clone()) {
        (Some(text), _) => match tokenizer.as_ref().map(|t| t.encode(text)) {
            Some(Ok(ids)) => ids,
            Some(Err(e)) => return fail(e),
            None => unreachable!("a text prompt has a tokenizer"),
        },
        (None, Some(ids)) => ids,
        (None, None) => return fail("give --prompt or --tokens"),
    };
    let options = GenerateOptions {
        max_tokens: args.max_tokens,
        sampling: SamplingParams {
            temperature: args.temperature,
            top_p: args.top_p,
            top_k: args.top_k,
            min_p: args.min_p,
            seed: args.seed,
        },
        stop_tokens: tokenizer
            .as_ref()
            .map(|t| t.stop_tokens())
            .unwrap_or_default(),
        ..GenerateOptions::default()
    };
    let app = match open_app() {
        Ok(app) => app,
        Err(e) => return fail(e),
    };
    // Refuse what cannot fit before loading 11 GB into memory that is not there.
    if !args.ignore_fit {
        let context = (prompt.len() + args.max_tokens) as u64;
        match fathom_core::fit_dir(&args.model, context, app.backend()) {
            Ok(r) if r.verdict != fathom_fit::Verdict::Fits => {
                return fail(format!(
                    "{} (at {context} tokens; --ignore-fit loads it anyway)",
                    r.summary
                ))
            }
            Ok(_) => {}
            Err(e) => return fail(e),
        }
    }
    let load = app.load_options(prompt.len() + args.max_tokens);
    let engine = match Engine::load_with(&args.model, load) {
        Ok(engine) => engine,
        Err(e) => return fail(e),
    };
    let mut stream = engine.generate(prompt.clone(), options);
    let mut detok = tokenizer.as_ref().map(Detokenizer::new);
    let mut tokens = Vec::new();
    let mut text = String::new();
    let mut stdout = std::io::stdout();
    let stats = loop {
        let event = tokio::select! {
            event = stream.next() => event,
            _ = tokio::signal::ctrl_c() => {
                // Stop cleanly: the engine finishes the current token and reports.
                stream.cancel();
                continue;
            }
        };
        match event {
            Some(StreamEvent::Token(t)) => {
                tokens.push(t);
                if let Some(d) = detok.as_mut() {
                    match d.push(t) {
                        Ok(piece) => {
                            if !args.json {
                                let _ = write!(stdout, "{piece}");
                                let _ = stdout.flush();
                            }
                            text.push_str(&piece);
                        }
                        Err(e) => return fail(e),
                    }
                } else if !args.json {
                    let _ = write!(stdout, "{t} ");
                    let _ = stdout.flush();
                }
            }
            Some(StreamEvent::Finished(stats)) => {
                if let Some(rest) = detok.as_mut().and_then(|d| d.finish().ok()) {
                    if !args.json {
                        let _ = write!(stdout, "{rest}");
                    }
                    text.push_str(&rest);
                }
                break stats;
            }
            Some(StreamEvent::Failed(e)) => return fail(e),
            None => return fail("the engine stopped unexpectedly"),
        }
    };
    if args.json {
        let report = GenerateReport {
            prompt_tokens: prompt,
            tokens,
            text: tokenizer.is_some().then_some(text),
            backend: engine.backend,
            stats,
        };
        println!("{}", serde_json::to_string(&report).expect("serializable"));
    } else {
        println!();
        eprintln!(
            "{} tokens · prefill {:.1} tok/s · decode {:.1} tok/s · first token {:.2} s · peak {:.1} MB",
            stats.generated_tokens,
            stats.prefill_tokens_per_second,
            stats.decode_tokens_per_second,
            stats.time_to_first_token_seconds,
            stats.peak_memory_bytes as f64 / 1e6
        );
    }
    ExitCode::SUCCESS
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let backends = cli.backend.clone();
    match (&cli.command, backends.as_slice()) {
        (Command::Bench(_), _) | (_, []) => {}
        (_, [one]) => {
            let _ = BACKEND.set(*one);
        }
        _ => return fail("--backend takes one backend here (several only for bench)"),
    }
    // The core's warnings (an embedder that cannot be used, a cache that moved) on standard error.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format_timestamp(None)
        .format_target(false)
        .init();
    // Before any MLX call: on macOS this points MLX at the metallib shipped beside `fathom` and
    // starts Metal under mlx-rs's error handler. Commands that need no model still work without.
    if let Err(e) = fathom_engine::device::prepare() {
        eprintln!("fathom: {e}");
    }
    // Commands on Fathom's state open it once; the rest (generate, bench, convert, fit DIR)
    // need none.
    let app = || open_app();
    match cli.command {
        Command::Ask(args) => match app() {
            Ok(app) => ask::run(&app, args).await,
            Err(e) => fail(e),
        },
        Command::Chat(args) => match app() {
            Ok(app) => chat::run(&app, args).await,
            Err(e) => fail(e),
        },
        Command::Serve(args) => match app() {
            Ok(app) => serve::run(app, args).await,
            Err(e) => fail(e),
        },
        Command::Engine { place } => match app() {
            Ok(app) => engine(&app, place).await,
            Err(e) => fail(e),
        },
        Command::Mcp { model, allow_unfit } => match app() {
            Ok(app) => serve::mcp(app, model, allow_unfit).await,
            Err(e) => fail(e),
        },
        Command::Generate(args) => generate(args).await,
        Command::Bench(args) => {
            let backends = if backends.is_empty() {
                vec![fathom_engine::BackendKind::Mlx]
            } else {
                backends
            };
            bench::run(args, &backends)
        }
        Command::Models { json } => match app() {
            Ok(app) => models::list(&app, json),
            Err(e) => fail(e),
        },
        Command::Pull {
            revision,
            token,
            embedder: true,
            ..
        } => match app() {
            Ok(app) => models::pull_embedder(&app, &revision, token).await,
            Err(e) => fail(e),
        },
        Command::Pull {
            repo,
            revision,
            token,
            context,
            anyway,
            ..
        } => {
            let args = models::PullArgs {
                repo,
                revision,
                token,
                context,
                anyway,
            };
            match app() {
                Ok(app) => models::pull_cmd(&app, args).await,
                Err(e) => fail(e),
            }
        }
        Command::Rm { repo } => match app() {
            Ok(app) => models::rm(&app, &repo),
            Err(e) => fail(e),
        },
        Command::Index(command) => {
            let app = match app() {
                Ok(app) => app,
                Err(e) => return fail(e),
            };
            match command {
                IndexCommand::Add { paths } => library::add(&app, &paths).await,
                IndexCommand::Status { json } => library::status(&app, json),
                IndexCommand::Rm { path } => library::rm(&app, &path),
                IndexCommand::Update => library::update(&app).await,
                IndexCommand::Place { place } => library::place(
                    &app,
                    place.map(|p| match p {
                        PlaceCommand::Computer => None,
                        PlaceCommand::Chroma {
                            url,
                            tenant,
                            database,
                            collection,
                            token,
                            only,
                        } => Some((
                            fathom_store::ChromaConnection {
                                url,
                                tenant,
                                database,
                                collection,
                                token,
                            },
                            only,
                        )),
                    }),
                ),
                IndexCommand::Sync => library::sync(&app),
            }
        }
        Command::Search {
            query,
            folder,
            limit,
            json,
        } => match app() {
            Ok(app) => library::search(&app, &query, folder.as_deref(), limit, json),
            Err(e) => fail(e),
        },
        Command::ServeBench {
            model,
            tokens,
            rounds,
            clients,
            json,
        } => bench::api::run(&model, tokens, rounds, clients, json).await,
        Command::SearchBench {
            data,
            generated_chunks,
            chunk_tokens,
            overlap_tokens,
            embedder,
            embed_seconds,
            chroma,
            json,
        } => match (generated_chunks, data) {
            (Some(n), _) => bench::search::scale_bench(
                n,
                embedder.as_deref(),
                embed_seconds,
                chroma.as_deref(),
                json,
            ),
            (None, Some(data)) => bench::search::search_bench(
                &data,
                chunk_tokens,
                overlap_tokens,
                embedder.as_deref(),
                json,
            ),
            (None, None) => fail("give a data folder or --generated-chunks"),
        },
        Command::Fit {
            target,
            context,
            revision,
            json,
        } => models::fit(&target, context, &revision, json).await,
        Command::Convert {
            src,
            dst,
            to: ConvertTarget::Gguf,
        } => match fathom_engine::llamacpp::gguf::convert(&src, &dst) {
            Ok(r) => {
                eprintln!(
                    "wrote {} ({} tensors: {} MXFP4 repacked, {} affine as Q4_1, {} affine dequantized; {:.1} MB in {:.1} s)",
                    dst.display(),
                    r.tensors,
                    r.mxfp4_repacked,
                    r.affine_as_q4_1,
                    r.affine_dequantized,
                    r.bytes as f64 / 1e6,
                    r.seconds
                );
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        Command::Convert { src, dst, .. } => match fathom_engine::convert::convert(&src, &dst) {
            Ok(report) => {
                eprintln!(
                    "wrote {} ({} tensors, {} modules quantized, {:.1} MB)",
                    dst.display(),
                    report.tensors,
                    report.quantized_modules,
                    report.bytes as f64 / 1e6
                );
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
    }
}
