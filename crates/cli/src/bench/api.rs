//! `fathom serve-bench`: what the local API costs. The same replies generated in-process (the
//! core, as the app runs them) and through `fathom serve`'s HTTP and SSE on loopback, on the
//! same checkpoint in the same run; then many clients at once, to show the queue loses none.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use fathom_chat::{Effort, Message, Setup};
use fathom_core::{App, CancellationToken, OpenOptions, ReplyWith};
use fathom_server::{ServeOptions, Server};
use serde_json::{json, Value};

use crate::fail;

const QUESTION: &str = "Summarise what BM25 and reciprocal rank fusion each do.";

/// Tokens generated and seconds taken, per round.
#[derive(Debug, serde::Serialize)]
struct Rate {
    tokens: u64,
    seconds: f64,
}

fn per_second(rates: &[Rate]) -> f64 {
    let tokens: u64 = rates.iter().map(|r| r.tokens).sum();
    let seconds: f64 = rates.iter().map(|r| r.seconds).sum();
    tokens as f64 / seconds.max(1e-9)
}

pub async fn run(
    model: &Path,
    tokens: usize,
    rounds: usize,
    clients: usize,
    json_out: bool,
) -> ExitCode {
    match bench(model, tokens, rounds.max(1), clients.max(1)).await {
        Ok(report) if json_out => {
            println!("{report:#}");
            ExitCode::SUCCESS
        }
        Ok(report) => {
            let r = &report;
            println!(
                "in-process   {:>8.1} tokens/s  ({} rounds of {} tokens)",
                r["in_process_tokens_per_second"].as_f64().unwrap_or(0.0),
                rounds,
                tokens
            );
            println!(
                "through API  {:>8.1} tokens/s  (streamed over HTTP on loopback)",
                r["server_tokens_per_second"].as_f64().unwrap_or(0.0)
            );
            println!(
                "overhead     {:>8.2} %   (target: at most 3 %)",
                r["overhead_percent"].as_f64().unwrap_or(0.0)
            );
            println!(
                "{} clients at once: {} answered, {} refused, {} failed, in {:.2} s",
                clients,
                r["concurrent"]["answered"],
                r["concurrent"]["refused"],
                r["concurrent"]["failed"],
                r["concurrent"]["seconds"].as_f64().unwrap_or(0.0)
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

async fn bench(
    model: &Path,
    tokens: usize,
    rounds: usize,
    clients: usize,
) -> Result<Value, String> {
    let data = tempfile::tempdir().map_err(|e| e.to_string())?;
    let app = Arc::new(
        App::open_with(
            fathom_store::AppDirs::under(data.path()),
            OpenOptions {
                background_vectors: false,
            },
        )
        .map_err(|e| e.to_string())?,
    );
    let setup = Setup {
        effort: Effort::Low,
        date: Some(fathom_chat::conversation::today()),
        instructions: None,
        tools: Vec::new(),
    };
    let messages = [Message::user(QUESTION)];
    let with = || ReplyWith {
        model: Some(model.to_path_buf()),
        max_tokens: Some(tokens),
        temperature: Some(0.0),
        allow_unfit: true,
        ..ReplyWith::default()
    };
    // Loads the model and fills the cache with the prompt: both sides then start alike.
    app.reply_to(
        &setup,
        &messages,
        with(),
        &CancellationToken::new(),
        &mut |_| {},
    )
    .await
    .map_err(|e| e.to_string())?;

    let mut ours = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        let reply = app
            .reply_to(
                &setup,
                &messages,
                with(),
                &CancellationToken::new(),
                &mut |_| {},
            )
            .await
            .map_err(|e| e.to_string())?;
        let generated = match reply {
            Message::Assistant { stats: Some(s), .. } => s.generated_tokens as u64,
            _ => 0,
        };
        ours.push(Rate {
            tokens: generated,
            seconds: started.elapsed().as_secs_f64(),
        });
    }

    let mut options = ServeOptions::new(model.to_path_buf());
    options.port = 0;
    options.queue = clients * 2;
    options.allow_unfit = true;
    let server = Server::start(app.clone(), options)
        .await
        .map_err(|e| e.to_string())?;
    let url = format!("{}/chat/completions", server.base_url());
    // reqwest is built with rustls but no crypto provider (see fathom-models).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let body = |max: usize, stream: bool| {
        json!({
            "model": server.model().id,
            "messages": [{"role": "user", "content": QUESTION}],
            "reasoning_effort": "low",
            "max_tokens": max,
            "temperature": 0,
            "stream": stream,
            "stream_options": {"include_usage": true},
        })
        .to_string()
    };
    let mut theirs = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        let text = http
            .post(&url)
            .bearer_auth(server.token())
            .body(body(tokens, true))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        let seconds = started.elapsed().as_secs_f64();
        // The usage chunk is the last before [DONE].
        let generated = text
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .filter_map(|c| c["usage"]["completion_tokens"].as_u64())
            .next_back()
            .ok_or("the stream had no usage")?;
        theirs.push(Rate {
            tokens: generated,
            seconds,
        });
    }

    // Many clients at once: every one answered, in turn.
    let started = Instant::now();
    let requests: Vec<_> = (0..clients)
        .map(|_| {
            let (http, url, token, body) = (
                http.clone(),
                url.clone(),
                server.token().to_string(),
                body(16, false),
            );
            tokio::spawn(async move {
                match http.post(url).bearer_auth(token).body(body).send().await {
                    Ok(r) => r.status().as_u16(),
                    Err(_) => 0,
                }
            })
        })
        .collect();
    let (mut answered, mut refused, mut failed) = (0, 0, 0);
    for request in requests {
        match request.await.unwrap_or(0) {
            200 => answered += 1,
            429 => refused += 1,
            _ => failed += 1,
        }
    }
    let concurrent_seconds = started.elapsed().as_secs_f64();
    server.stop().await;

    let (a, b) = (per_second(&ours), per_second(&theirs));
    Ok(json!({
        "model": model.display().to_string(),
        "tokens_per_round": tokens,
        "in_process": ours,
        "server": theirs,
        "in_process_tokens_per_second": a,
        "server_tokens_per_second": b,
        "overhead_percent": (1.0 - b / a) * 100.0,
        "concurrent": {
            "clients": clients,
            "answered": answered,
            "refused": refused,
            "failed": failed,
            "seconds": concurrent_seconds,
        },
    }))
}
