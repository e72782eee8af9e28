//! Replies on a server, against small scripted OpenAI-compatible servers on loopback: how each
//! dialect's stream becomes a reply's parts, and how a server that is down, slow, refusing or
//! talking nonsense is reported. (Against a real `fathom serve`: crates/server/tests/remote.rs.)

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use fathom_chat::conversation::{Ending, Part};
use fathom_chat::session::{Chat, ModelHost, ReplyEvent, ReplyOptions};
use fathom_chat::{ChatError, Harmony, Message, Setup};
use fathom_remote::{ServerConfig, Timeouts};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}/v1")
}

fn chat_on(url: &str, key: Option<&str>, stall: Duration) -> (Chat, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let harmony = Harmony::load(dir.path()).unwrap();
    let host = ModelHost::new(Duration::from_secs(600));
    host.set_server_with(
        Some(ServerConfig {
            url: url.into(),
            key: key.map(str::to_string),
            model: None,
        }),
        Timeouts {
            connect: Duration::from_secs(10),
            stall,
        },
    )
    .unwrap();
    (Chat::new(harmony, host), dir)
}

fn sse(events: Vec<Value>) -> Response {
    let mut body = String::new();
    for e in events {
        body.push_str(&format!("data: {e}\n\n"));
    }
    body.push_str("data: [DONE]\n\n");
    ([(header::CONTENT_TYPE, "text/event-stream")], body).into_response()
}

fn models() -> Router {
    Router::new().route(
        "/v1/models",
        get(|| async {
            Json(json!({"object": "list", "data": [{"id": "gpt-oss-20b"}, {"id": "other"}]}))
        }),
    )
}

async fn reply(
    chat: &Chat,
    stop: &CancellationToken,
) -> (Result<Message, ChatError>, Vec<ReplyEvent>) {
    let mut events = Vec::new();
    let result = chat
        .reply(
            &Setup::default(),
            &[Message::user("Where is the report?")],
            &ReplyOptions {
                max_tokens: 50,
                ..ReplyOptions::default()
            },
            stop,
            &mut |e| events.push(e),
        )
        .await;
    (result, events)
}

fn parts(message: &Message) -> (&[Part], Ending) {
    match message {
        Message::Assistant { parts, ending, .. } => (parts, *ending),
        Message::User { .. } => panic!("a reply is the assistant's"),
    }
}

#[tokio::test]
async fn a_raw_prompt_gets_the_rendered_tokens_and_text_with_spelled_out_specials_parses() {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let log = seen.clone();
    let router = models().route(
        "/v1/completions",
        post(move |Json(body): Json<Value>| async move {
            log.lock().unwrap().push(body);
            // Special tokens split across events, as a server streaming text does.
            let text = |t: &str| json!({"choices": [{"index": 0, "text": t, "finish_reason": null}]});
            sse(vec![
                text("<|channel|>analysis<|mess"),
                text("age|>Look it up.<|end|><|start|>assistant<|chan"),
                text("nel|>final<|message|>In the "),
                text("archive.<|return|>"),
                json!({"choices": [{"index": 0, "text": "", "finish_reason": "stop"}]}),
                json!({"choices": [], "usage": {"prompt_tokens": 77, "completion_tokens": 19, "prompt_tokens_details": {"cached_tokens": 64}}}),
            ])
        }),
    );
    let url = serve(router).await;
    let (chat, _dir) = chat_on(&url, Some("k"), Duration::from_secs(60));
    let (result, events) = reply(&chat, &CancellationToken::new()).await;
    let message = result.unwrap();
    let (got, ending) = parts(&message);
    assert_eq!(
        got,
        [
            Part::Reasoning {
                text: "Look it up.".into()
            },
            Part::Answer {
                text: "In the archive.".into()
            }
        ]
    );
    assert_eq!(ending, Ending::Done);
    let Message::Assistant {
        stats: Some(stats), ..
    } = &message
    else {
        panic!("a reply has figures")
    };
    assert_eq!(
        (
            stats.prompt_tokens,
            stats.cached_tokens,
            stats.generated_tokens
        ),
        (77, 64, 19),
        "the server's usage"
    );
    assert!(
        !events.iter().any(|e| matches!(e, ReplyEvent::Loading)),
        "nothing loads here"
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, ReplyEvent::Delta { text, .. } if text.contains("archive"))));
    let body = seen.lock().unwrap()[0].clone();
    let rendered = chat
        .harmony
        .render(&Setup::default(), &[Message::user("Where is the report?")])
        .unwrap();
    assert_eq!(
        body["prompt"],
        json!(rendered),
        "the prompt Fathom rendered, as ids"
    );
    assert_eq!(body["model"], "gpt-oss-20b", "the server's first model");
    assert_eq!(body["stream"], true);
    assert_eq!(body["skip_special_tokens"], false);
    assert_eq!(body["max_tokens"], 50);
}

#[tokio::test]
async fn token_ids_are_used_as_sent_and_a_stop_token_left_out_is_put_back() {
    let router = models().route(
        "/v1/completions",
        post(|| async {
            let dir = tempfile::tempdir().unwrap();
            let h = Harmony::load(dir.path()).unwrap();
            // A tool call, its `<|call|>` not sent (the server ends on it without showing it).
            let ids = h.encode_with_special_tokens(
                "<|channel|>commentary to=functions.search <|constrain|>json<|message|>{\"query\": \"report\"}",
            );
            let (a, b) = ids.split_at(5);
            sse(vec![
                json!({"choices": [{"index": 0, "text": "ignored when ids come", "token_ids": a}]}),
                json!({"choices": [{"index": 0, "text": "", "token_ids": b, "finish_reason": "stop"}]}),
            ])
        }),
    );
    let url = serve(router).await;
    let (chat, _dir) = chat_on(&url, None, Duration::from_secs(60));
    let (result, _) = reply(&chat, &CancellationToken::new()).await;
    let message = result.unwrap();
    let (got, ending) = parts(&message);
    assert_eq!(
        got,
        [Part::ToolCall {
            tool: "search".into(),
            arguments: "{\"query\": \"report\"}".into(),
            output: None
        }]
    );
    assert_eq!(
        ending,
        Ending::ToolCall,
        "ended as a call, as the model would have"
    );
}

#[tokio::test]
async fn a_server_without_raw_prompts_gets_chat_messages_from_then_on() {
    let raw_tries = Arc::new(AtomicUsize::new(0));
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let (tries, log) = (raw_tries.clone(), seen.clone());
    let router = models()
        .route(
            "/v1/completions",
            post(move || async move {
                tries.fetch_add(1, Ordering::SeqCst);
                (StatusCode::NOT_FOUND, "Not Found")
            }),
        )
        .route(
            "/v1/chat/completions",
            post(move |Json(body): Json<Value>| async move {
                log.lock().unwrap().push(body);
                let delta = |d: Value| json!({"choices": [{"index": 0, "delta": d, "finish_reason": null}]});
                sse(vec![
                    delta(json!({"role": "assistant", "content": null, "reasoning_content": "Search "})),
                    delta(json!({"reasoning_content": "first."})),
                    delta(json!({"tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "search", "arguments": ""}}]})),
                    delta(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"query\":"}}]})),
                    delta(json!({"tool_calls": [{"index": 0, "function": {"arguments": " \"report\"}"}}]})),
                    json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
                ])
            }),
        );
    let url = serve(router).await;
    let (chat, _dir) = chat_on(&url, None, Duration::from_secs(60));
    for _ in 0..2 {
        let (result, _) = reply(&chat, &CancellationToken::new()).await;
        let message = result.unwrap();
        let (got, ending) = parts(&message);
        assert_eq!(
            got,
            [
                Part::Reasoning {
                    text: "Search first.".into()
                },
                Part::ToolCall {
                    tool: "search".into(),
                    arguments: "{\"query\": \"report\"}".into(),
                    output: None
                }
            ]
        );
        assert_eq!(ending, Ending::ToolCall);
    }
    assert_eq!(
        raw_tries.load(Ordering::SeqCst),
        1,
        "raw prompts are tried once, then chat completions"
    );
    let body = seen.lock().unwrap()[0].clone();
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": "Where is the report?"}])
    );
    assert_eq!(body["reasoning_effort"], "medium");
}

async fn failure(router: Option<Router>, key: Option<&str>, stall: Duration) -> String {
    let url = match router {
        Some(router) => serve(router).await,
        None => {
            // A port nothing listens on.
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            drop(listener);
            format!("http://127.0.0.1:{port}/v1")
        }
    };
    let (chat, _dir) = chat_on(&url, key, stall);
    let (result, events) = reply(&chat, &CancellationToken::new()).await;
    let error = result.expect_err("a failure").to_string();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ReplyEvent::Failed { error: shown } if *shown == error)),
        "the failure is also sent as an event"
    );
    error
}

#[tokio::test]
async fn a_server_that_is_down_slow_refusing_or_talking_nonsense_gives_a_clear_error() {
    let wide = Duration::from_secs(60);
    let down = failure(None, None, wide).await;
    assert!(
        down.contains("cannot reach the server at http://127.0.0.1:"),
        "{down}"
    );
    assert!(down.contains("Is it running"), "{down}");

    let refusing = models().route(
        "/v1/completions",
        post(|| async {
            (
                StatusCode::UNAUTHORIZED,
                Json(json!({"error": {"message": "bad key"}})),
            )
        }),
    );
    let e = failure(Some(refusing), Some("wrong"), wide).await;
    assert!(e.contains("refused the key (HTTP 401)"), "{e}");

    let no_model = models().route(
        "/v1/completions",
        post(|| async {
            (
                StatusCode::NOT_FOUND,
                Json(json!({"error": {"message": "The model `gpt-oss-20b` does not exist.", "code": 404}})),
            )
        }),
    );
    let e = failure(Some(no_model), None, wide).await;
    assert!(
        e.contains("HTTP 404: The model `gpt-oss-20b` does not exist."),
        "a missing model is not taken for a missing endpoint: {e}"
    );

    let html = models().route(
        "/v1/completions",
        post(|| async {
            (
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body>Welcome to nginx!</body></html>",
            )
        }),
    );
    let e = failure(Some(html), None, wide).await;
    assert!(e.contains("not an OpenAI-compatible response"), "{e}");
    assert!(e.contains("Welcome to nginx!"), "what came is shown: {e}");

    let garbled = models().route(
        "/v1/completions",
        post(|| async {
            (
                [(header::CONTENT_TYPE, "text/event-stream")],
                "data: {\"choices\": [{\"text\": \"<|chan\"}]}\n\ndata: oops\n\n",
            )
        }),
    );
    let e = failure(Some(garbled), None, wide).await;
    assert!(
        e.contains("an event that is not JSON") && e.contains("oops"),
        "{e}"
    );

    let failing = models().route(
        "/v1/completions",
        post(|| async { sse(vec![json!({"error": {"message": "CUDA out of memory"}})]) }),
    );
    let e = failure(Some(failing), None, wide).await;
    assert!(
        e.contains("CUDA out of memory"),
        "an error inside the stream: {e}"
    );

    // Accepts the request, then sends nothing.
    let stuck = models().route(
        "/v1/completions",
        post(|| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            "never"
        }),
    );
    let e = failure(Some(stuck), None, Duration::from_secs(1)).await;
    assert!(e.contains("sent nothing for 1 s"), "{e}");
}

/// Fires when dropped: the server's stream was let go (the client closed the connection).
struct Dropped(Option<tokio::sync::oneshot::Sender<()>>);

impl Drop for Dropped {
    fn drop(&mut self) {
        if let Some(tell) = self.0.take() {
            let _ = tell.send(());
        }
    }
}

/// Streams "Counting: 0 1 2 …" for ever, one number every 20 ms, ignoring `max_tokens`; the
/// receiver fires once the stream is dropped.
fn counting_server() -> (Router, tokio::sync::oneshot::Receiver<()>) {
    let (tell, closed) = tokio::sync::oneshot::channel();
    let tell = Arc::new(Mutex::new(Some(tell)));
    let router = models().route(
        "/v1/completions",
        post(move || async move {
            let guard = Dropped(tell.lock().unwrap().take());
            let first = Bytes::from(
                "data: {\"choices\": [{\"index\": 0, \"text\": \"<|channel|>final<|message|>Counting:\"}]}\n\n",
            );
            // One number every 20 ms, for ever.
            let more = futures_util::stream::unfold((0u64, guard), |(n, guard)| async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let event = format!("data: {{\"choices\": [{{\"index\": 0, \"text\": \" {n}\"}}]}}\n\n");
                Some((Ok::<_, Infallible>(Bytes::from(event)), (n + 1, guard)))
            });
            let body = futures_util::stream::once(async move { Ok::<_, Infallible>(first) }).chain(more);
            ([(header::CONTENT_TYPE, "text/event-stream")], Body::from_stream(body))
        }),
    );
    (router, closed)
}

#[tokio::test]
async fn stop_ends_the_reply_at_once_and_closes_the_servers_stream() {
    let (router, closed) = counting_server();
    let url = serve(router).await;
    let (chat, _dir) = chat_on(&url, None, Duration::from_secs(60));
    let stop = CancellationToken::new();
    let mut events = Vec::new();
    let result = chat
        .reply(
            &Setup::default(),
            &[Message::user("Count")],
            // More than the test waits for: the stop ends it.
            &ReplyOptions {
                max_tokens: 100_000,
                ..ReplyOptions::default()
            },
            &stop,
            &mut |e| {
                if matches!(&e, ReplyEvent::Delta { text, .. } if text == "2") {
                    stop.cancel();
                }
                events.push(e);
            },
        )
        .await;
    let message = result.unwrap();
    let (got, ending) = parts(&message);
    assert_eq!(ending, Ending::Stopped);
    let Part::Answer { text } = &got[0] else {
        panic!("{got:?}")
    };
    assert!(
        text.starts_with("Counting: 0 1 2"),
        "what came is kept: {text}"
    );
    tokio::time::timeout(Duration::from_secs(60), closed)
        .await
        .expect("the server's stream is dropped once the reply stops")
        .unwrap();
}

#[tokio::test]
async fn a_server_that_ignores_max_tokens_is_not_followed_past_them() {
    let (router, closed) = counting_server();
    let url = serve(router).await;
    let (chat, _dir) = chat_on(&url, None, Duration::from_secs(60));
    let (result, _) = reply(&chat, &CancellationToken::new()).await;
    let message = result.unwrap();
    let (got, ending) = parts(&message);
    assert_eq!(ending, Ending::Length);
    let Message::Assistant {
        stats: Some(stats), ..
    } = &message
    else {
        unreachable!()
    };
    assert_eq!(stats.generated_tokens, 50, "{got:?}");
    tokio::time::timeout(Duration::from_secs(60), closed)
        .await
        .expect("the connection is closed")
        .unwrap();
}
