//! Fathom's remote engine against a real `fathom serve` on loopback: an app whose settings run
//! the model on a server replies, and asks, exactly as one running the same checkpoint itself
//! (same tokens: greedy, or the same seed), over raw prompts and over chat completions for a
//! server that takes none; a wrong key and a missing server are clear errors.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fathom_chat::conversation::Ending;
use fathom_chat::{Message, Setup};
use fathom_core::{App, OpenOptions, Question, ReplyWith};
use fathom_server::{ServeOptions, Server};
use fathom_store::{EnginePlace, ServerSettings};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

fn fixtures() -> PathBuf {
    std::env::var_os("FATHOM_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/fixtures/gpt-oss")
        })
}

fn open(dir: &Path) -> App {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    App::open_with(
        fathom_store::AppDirs::under(dir),
        OpenOptions {
            background_vectors: false,
        },
    )
    .unwrap()
}

const TOKEN: &str = "remote-test-token";

async fn fathom_serve(dir: &Path) -> Server {
    let mut options = ServeOptions::new(fixtures().join("chat"));
    options.port = 0;
    options.token = Some(TOKEN.into());
    Server::start(Arc::new(open(dir)), options).await.unwrap()
}

fn on_server(app: &App, url: String, key: &str) {
    app.set_engine(
        EnginePlace::Server,
        ServerSettings {
            url,
            key: Some(key.into()),
            model: None,
        },
    )
    .unwrap();
}

fn greedy(model: Option<PathBuf>, max_tokens: usize) -> ReplyWith {
    ReplyWith {
        model,
        max_tokens: Some(max_tokens),
        temperature: Some(0.0),
        ..ReplyWith::default()
    }
}

async fn reply(app: &App, with: ReplyWith, messages: &[Message]) -> fathom_core::Result<Message> {
    app.reply_to(
        &Setup::starting_today(fathom_chat::Effort::Low, Some("Answer briefly.".into())),
        messages,
        with,
        &CancellationToken::new(),
        &mut |_| {},
    )
    .await
}

fn parts_and_ending(m: &Message) -> (Value, Ending, u32) {
    match m {
        Message::Assistant {
            parts,
            ending,
            stats,
        } => (
            serde_json::to_value(parts).unwrap(),
            *ending,
            stats.as_ref().unwrap().generated_tokens,
        ),
        Message::User { .. } => panic!("a reply is the assistant's"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_on_a_fathom_server_is_the_reply_made_here() {
    let tmp = tempfile::tempdir().unwrap();
    let server = fathom_serve(&tmp.path().join("server")).await;
    let here = open(&tmp.path().join("here"));
    let remote = open(&tmp.path().join("remote"));
    on_server(&remote, format!("http://{}/v1", server.address()), TOKEN);

    let mut messages = vec![Message::user("What do otters keep under the kelp?")];
    let local = reply(&here, greedy(Some(fixtures().join("chat")), 24), &messages)
        .await
        .unwrap();
    let far = reply(&remote, greedy(None, 24), &messages).await.unwrap();
    assert_eq!(parts_and_ending(&far), parts_and_ending(&local));
    assert!(
        !remote.model_loaded(),
        "nothing is loaded where the server runs it"
    );

    // The next turn: the server's cache holds the shared prefix.
    messages.push(far);
    messages.push(Message::user("And the seals?"));
    let local = reply(&here, greedy(Some(fixtures().join("chat")), 16), &messages)
        .await
        .unwrap();
    let far = reply(&remote, greedy(None, 16), &messages).await.unwrap();
    assert_eq!(parts_and_ending(&far), parts_and_ending(&local));
    let Message::Assistant {
        stats: Some(stats), ..
    } = &far
    else {
        unreachable!()
    };
    assert!(
        stats.cached_tokens > 0 && stats.cached_tokens < stats.prompt_tokens,
        "the server's usage says its cache served the shared prefix: {stats:?}"
    );

    // Token for token: a raw prompt that opens the final channel, so the text is the answer's.
    let harmony = here.harmony().unwrap();
    let mut prompt = harmony
        .render(
            &Setup::starting_today(fathom_chat::Effort::Low, None),
            &[Message::user("Otters?")],
        )
        .unwrap();
    prompt.extend(harmony.encode_with_special_tokens("<|channel|>final<|message|>"));
    let mut tokens = [Vec::new(), Vec::new()];
    for (app, model, out) in [
        (&here, Some(fixtures().join("chat")), 0),
        (&remote, None, 1),
    ] {
        let got = &mut tokens[out];
        app.complete(
            prompt.clone(),
            greedy(model, 24),
            &CancellationToken::new(),
            &mut |t| got.push(t),
        )
        .await
        .unwrap();
    }
    assert_eq!(tokens[1], tokens[0]);
    assert!(!tokens[0].is_empty());
}

/// Passes requests on to `to`, except raw prompts: a server that offers only chat completions.
async fn without_raw_prompts(State(to): State<String>, request: Request) -> Response {
    if request.uri().path() == "/v1/completions" {
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    }
    let url = format!("{to}{}", request.uri());
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 24).await.unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut forward = client.request(parts.method, url).body(body);
    for (name, value) in &parts.headers {
        if name != "host" {
            forward = forward.header(name, value);
        }
    }
    let answer = forward.send().await.unwrap();
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        response = response.header(name, value);
    }
    response
        .body(Body::from_stream(answer.bytes_stream()))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_raw_prompts_answers_through_chat_completions() {
    let tmp = tempfile::tempdir().unwrap();
    let server = fathom_serve(&tmp.path().join("server")).await;
    let to = format!("http://{}", server.address());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = listener.local_addr().unwrap();
    let router = axum::Router::new()
        .fallback(without_raw_prompts)
        .with_state(to.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let remote = open(&tmp.path().join("remote"));
    on_server(&remote, format!("http://{proxy}"), TOKEN);
    let messages = [Message::user("What do otters keep under the kelp?")];
    let far = reply(&remote, greedy(None, 24), &messages).await.unwrap();

    // The server's own answer to the same conversation as a chat completion.
    let body = serde_json::json!({
        "model": "chat",
        "messages": [
            {"role": "developer", "content": "Answer briefly."},
            {"role": "user", "content": "What do otters keep under the kelp?"},
        ],
        "reasoning_effort": "low",
        "max_tokens": 24,
        "temperature": 0,
        "top_p": 1.0,
    });
    let direct: Value = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{to}/v1/chat/completions"))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let message = &direct["choices"][0]["message"];
    let (parts, _, generated) = parts_and_ending(&far);
    let text_of = |kind: &str| -> String {
        parts
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["kind"] == kind)
            .map(|p| p["text"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(
        text_of("answer"),
        message["content"].as_str().unwrap_or_default(),
        "{parts} vs {direct}"
    );
    assert_eq!(
        text_of("reasoning"),
        message["reasoning"].as_str().unwrap_or_default(),
        "{parts} vs {direct}"
    );
    assert_eq!(
        u64::from(generated),
        direct["usage"]["completion_tokens"].as_u64().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_on_a_fathom_server_runs_as_it_does_here() {
    let tmp = tempfile::tempdir().unwrap();
    let notes = tmp.path().join("notes");
    std::fs::create_dir_all(&notes).unwrap();
    std::fs::write(
        notes.join("otters.md"),
        "# Otters\n\nSea otters keep their favourite stones in a pouch under the forearm.\n",
    )
    .unwrap();
    std::fs::write(
        notes.join("kelp.md"),
        "# Kelp\n\nKelp forests shelter otters, urchins and fish along the coast.\n",
    )
    .unwrap();
    let server = fathom_serve(&tmp.path().join("server")).await;
    let here = open(&tmp.path().join("here"));
    let remote = open(&tmp.path().join("remote"));
    on_server(&remote, format!("http://{}", server.address()), TOKEN);
    let mut runs = Vec::new();
    for (app, model) in [(&here, Some(fixtures().join("chat"))), (&remote, None)] {
        let id = app.add_folders(&[&notes]).unwrap().added[0].id.clone();
        app.index_folder(&id, &CancellationToken::new(), &mut |_| {})
            .unwrap();
        let run = app
            .ask(
                Question {
                    text: "Where do otters keep their stones?".into(),
                    model,
                    max_turns: Some(2),
                    max_tokens: Some(24),
                    seed: Some(7),
                    ..Question::default()
                },
                &CancellationToken::new(),
                &mut |_| {},
            )
            .await
            .unwrap();
        let mut asked = serde_json::to_value(&run.asked).unwrap();
        strip_timings(&mut asked);
        runs.push(asked);
    }
    assert_eq!(runs[0], runs[1]);
    // Random weights rarely keep to harmony, so the turns may hold no parts; the tokens they
    // used are counted, and compared above.
    assert!(
        runs[0]["run"]["turns"].as_u64() > Some(0) && runs[0]["run"]["used"].as_u64() > Some(0),
        "{}",
        runs[0]
    );
}

/// Figures that differ between any two runs (times, speeds).
fn strip_timings(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| {
                !k.to_lowercase().contains("second")
                    && k != "cachedTokens"
                    && k != "peakMemoryBytes"
            });
            map.values_mut().for_each(strip_timings);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_timings),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_or_a_missing_server_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let server = fathom_serve(&tmp.path().join("server")).await;
    let remote = open(&tmp.path().join("remote"));
    on_server(
        &remote,
        format!("http://{}", server.address()),
        "not-the-token",
    );
    let messages = [Message::user("Hello?")];
    let e = reply(&remote, greedy(None, 4), &messages)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("refused the key (HTTP 401)"), "{e}");
    let e = remote
        .server_models(&ServerSettings {
            url: format!("http://{}", server.address()),
            key: Some(TOKEN.into()),
            model: None,
        })
        .await
        .unwrap();
    assert_eq!(e[0], "chat", "the model list shows the server answers");

    let address = server.address();
    drop(server);
    on_server(&remote, format!("http://{address}"), TOKEN);
    let e = reply(&remote, greedy(None, 4), &messages)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot reach the server"), "{e}");

    let e = remote
        .set_engine(
            EnginePlace::Server,
            ServerSettings {
                url: "localhost:8000".into(),
                ..ServerSettings::default()
            },
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a server address"), "{e}");
    assert_eq!(
        remote.settings().server.url,
        format!("http://{address}"),
        "a refused address changes nothing"
    );
}
