//! `fathom serve`: the local API (OpenAI-compatible, and MCP at `/mcp`) on this machine, until
//! Ctrl-C; `fathom mcp`: the library as an MCP server on standard input and output.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use fathom_core::App;
use fathom_server::{ServeOptions, Server};

use crate::{fail, model_dir};

#[derive(Args)]
pub struct ServeArgs {
    /// The model folder to serve; else the app's model (or the only one installed).
    #[arg(long)]
    model: Option<PathBuf>,
    /// The address to listen on. Loopback by default; 0.0.0.0 opens it to the local network.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// 0 picks a free port.
    #[arg(long, default_value_t = fathom_server::DEFAULT_PORT)]
    port: u16,
    /// The bearer token clients must send (else FATHOM_API_TOKEN, else a new one is printed).
    #[arg(long)]
    token: Option<String>,
    /// Requests running or waiting at once; more are answered 429.
    #[arg(long, default_value_t = 64)]
    queue: usize,
    /// Load the model even if the memory check says it will not fit.
    #[arg(long)]
    allow_unfit: bool,
    /// Requests per minute from one client address; 0 for no limit.
    #[arg(long, default_value_t = fathom_server::DEFAULT_RATE_LIMIT)]
    rate_limit: u32,
    /// A web origin browsers may call the API from (http://localhost:3000); repeat for more,
    /// `*` for any. None by default.
    #[arg(long = "cors", value_name = "ORIGIN")]
    cors: Vec<String>,
}

pub async fn run(app: App, args: ServeArgs) -> ExitCode {
    let model = match model_dir(&app, args.model) {
        Ok(dir) => dir,
        Err(e) => return fail(e),
    };
    let token = args
        .token
        .or_else(|| std::env::var("FATHOM_API_TOKEN").ok())
        .filter(|t| !t.trim().is_empty());
    let chosen = token.is_some();
    let options = ServeOptions {
        host: args.host,
        port: args.port,
        token,
        queue: args.queue,
        allow_unfit: args.allow_unfit,
        rate_limit: args.rate_limit,
        cors: args.cors,
        model,
        ..ServeOptions::app_engine()
    };
    let server = match Server::start(Arc::new(app), options).await {
        Ok(server) => server,
        Err(e) => return fail(e),
    };
    // Scripts read these lines: the address first, then the token.
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "Serving {} at {}",
        server.model().id,
        server.base_url()
    );
    if chosen {
        let _ = writeln!(out, "Token: the one given");
    } else {
        let _ = writeln!(out, "Token: {}", server.token());
    }
    let _ = out.flush();
    if !args.host.is_loopback() {
        eprintln!(
            "fathom: listening on {}: other machines on the network can reach it (with the token)",
            args.host
        );
    }
    if tokio::signal::ctrl_c().await.is_err() {
        return fail("cannot wait for Ctrl-C");
    }
    eprintln!("fathom: stopping");
    // Requests in flight get a moment to end; a stream still going is cut.
    let _ = tokio::time::timeout(Duration::from_secs(5), server.stop()).await;
    ExitCode::SUCCESS
}

/// `fathom mcp`: until the client closes standard input. Standard output is the protocol's:
/// everything else goes to standard error.
pub async fn mcp(app: App, model: Option<PathBuf>, allow_unfit: bool) -> ExitCode {
    // Without a model Ask says so when called; the other tools need none.
    let model = model_dir(&app, model).ok().flatten();
    let library = fathom_server::mcp::Library::new(Arc::new(app), model, allow_unfit);
    match fathom_server::mcp::serve_stdio(library).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}
