//! The API server, running for real on loopback over the app core, with the tiny checkpoint that
//! has gpt-oss's vocabulary (random weights: what it says is noise, but its token counts,
//! finishing, streaming, caching and stopping are real). Clients are plain HTTP; the `openai`
//! package's own tests are in tests/api.

use std::path::PathBuf;
use std::sync::{Arc, Once};
use std::time::Duration;

use fathom_core::{App, OpenOptions};
use fathom_server::{ServeOptions, Server};
use futures_util::StreamExt;
use serde_json::{json, Value};

fn fixtures() -> PathBuf {
    std::env::var_os("FATHOM_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/fixtures/gpt-oss")
        })
}

fn embedder() -> PathBuf {
    std::env::var_os("FATHOM_MINILM")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/fixtures/minilm")
        })
}

struct Running {
    server: Server,
    _data: tempfile::TempDir,
    http: reqwest::Client,
}

impl Running {
    async fn start(change: impl FnOnce(&mut ServeOptions)) -> Running {
        static EMBEDDER: Once = Once::new();
        // Every test's app finds the embedder here (set once, before any app reads it).
        EMBEDDER.call_once(|| {
            std::env::set_var("FATHOM_EMBEDDER", embedder());
            // reqwest is built with rustls but no crypto provider (see fathom-models).
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        let data = tempfile::tempdir().unwrap();
        let app = App::open_with(
            fathom_store::AppDirs::under(data.path()),
            OpenOptions {
                background_vectors: false,
            },
        )
        .unwrap();
        let mut options = ServeOptions::new(fixtures().join("chat"));
        options.port = 0;
        options.token = Some("secret-token".into());
        change(&mut options);
        let server = Server::start(Arc::new(app), options).await.unwrap();
        Running {
            server,
            _data: data,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.address())
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(self.http.post(self.url(path)).body(body.to_string()))
            .await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request
            .bearer_auth("secret-token")
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
        )
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.http.get(self.url(path))).await
    }

    /// A streamed chat reply, left open (to read, or to drop mid-way).
    async fn stream(&self, body: &Value) -> reqwest::Response {
        self.stream_at("/v1/chat/completions", body).await
    }

    async fn stream_at(&self, path: &str, body: &Value) -> reqwest::Response {
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth("secret-token")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "a stream is server-sent events"
        );
        response
    }
}

fn chat(max_tokens: u32) -> Value {
    json!({
        "model": "chat",
        "messages": [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "What do otters keep under the kelp?"},
        ],
        "max_tokens": max_tokens,
        "temperature": 0,
    })
}

/// Every `data:` payload of an SSE body.
fn data_lines(body: &str) -> Vec<String> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(str::to_string)
        .collect()
}

fn assert_openai_error(body: &Value, kind: &str) {
    let error = &body["error"];
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(error["type"], kind, "{body}");
    assert!(
        error.get("param").is_some() && error.get("code").is_some(),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_the_token_or_with_bad_input_get_openai_shaped_errors() {
    let api = Running::start(|_| {}).await;
    // No token, a wrong one.
    let response = api.http.get(api.url("/v1/models")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_openai_error(&response.json_value().await, "authentication_error");
    let response = api
        .http
        .get(api.url("/v1/models"))
        .bearer_auth("secret-tokem")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // Malformed JSON, the wrong shape, an unknown model, an unknown path, a huge body.
    let response = api
        .http
        .post(api.url("/v1/chat/completions"))
        .bearer_auth("secret-token")
        .body("{\"model\": \"chat\", \"messages\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body = response.json_value().await;
    assert_openai_error(&body, "invalid_request_error");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));
    let (status, body) = api
        .post("/v1/chat/completions", &json!({"model": "chat"}))
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("messages"),
        "{body}"
    );
    let mut other = chat(4);
    other["model"] = json!("gpt-4o");
    let (status, body) = api.post("/v1/chat/completions", &other).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "model_not_found");
    assert_eq!(body["error"]["param"], "model");
    let (status, body) = api.get("/v1/files").await;
    assert_eq!(status, 404);
    assert_openai_error(&body, "invalid_request_error");
    let mut huge = chat(4);
    huge["messages"][1]["content"] = json!("x".repeat(9 << 20));
    let (status, body) = api.post("/v1/chat/completions", &huge).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "request_too_large");
    // A bad field is named.
    let mut hot = chat(4);
    hot["temperature"] = json!(5);
    let (status, body) = api.post("/v1/chat/completions", &hot).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["param"], "temperature");
}

trait JsonValue {
    async fn json_value(self) -> Value;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> Value {
        let text = self.text().await.unwrap();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_is_listed_and_a_reply_streams_as_it_completes_with_the_cache_reused() {
    let api = Running::start(|_| {}).await;
    let (status, models) = api.get("/v1/models").await;
    assert_eq!(status, 200);
    assert_eq!(models["object"], "list");
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["chat", "sentence-transformers/all-MiniLM-L6-v2"]);
    let (status, one) = api.get("/v1/models/chat").await;
    assert_eq!((status, one["id"].as_str()), (200, Some("chat")));

    let (status, first) = api.post("/v1/chat/completions", &chat(6)).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["object"], "chat.completion");
    assert_eq!(first["model"], "chat");
    assert_eq!(first["choices"][0]["finish_reason"], "length");
    assert_eq!(first["choices"][0]["message"]["role"], "assistant");
    let usage = &first["usage"];
    assert_eq!(usage["completion_tokens"], 6);
    let prompt = usage["prompt_tokens"].as_u64().unwrap();
    assert!(prompt > 20, "{usage}");
    assert_eq!(usage["total_tokens"].as_u64().unwrap(), prompt + 6);

    // The same conversation again, streamed: greedy, so the same text; its prompt comes from
    // the engine's cache.
    let mut streamed = chat(6);
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let body = api.stream(&streamed).await.text().await.unwrap();
    let lines = data_lines(&body);
    assert_eq!(lines.last().map(String::as_str), Some("[DONE]"), "{body}");
    let chunks: Vec<Value> = lines[..lines.len() - 1]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let id = chunks[0]["id"].as_str().unwrap();
    assert!(chunks
        .iter()
        .all(|c| c["id"] == id && c["object"] == "chat.completion.chunk"));
    let field = |name: &str| -> String {
        chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"][name].as_str())
            .collect()
    };
    let message = &first["choices"][0]["message"];
    assert_eq!(field("content"), message["content"].as_str().unwrap_or(""));
    assert_eq!(
        field("reasoning"),
        message["reasoning"].as_str().unwrap_or("")
    );
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "length");
    let usage = &chunks[chunks.len() - 1];
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 6);
    assert_eq!(usage["usage"]["prompt_tokens"].as_u64().unwrap(), prompt);
    assert!(
        usage["usage"]["prompt_tokens_details"]["cached_tokens"]
            .as_u64()
            .unwrap()
            > prompt / 2,
        "the second call reuses the first's prompt: {usage}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_429_and_a_client_that_leaves_frees_the_model() {
    let api = Running::start(|o| o.queue = 2).await;
    // A reply far longer than any test waits for: only a stop ends it in time.
    let mut long = chat(100_000);
    long["stream"] = json!(true);
    let mut running = api.stream(&long).await.bytes_stream();
    // The first token has come: the model is busy with this one.
    let mut seen = String::new();
    while !seen.contains("\"content\"") && !seen.contains("\"reasoning\"") {
        let bytes = running.next().await.expect("the stream goes on").unwrap();
        seen.push_str(&String::from_utf8_lossy(&bytes));
        if data_lines(&seen).len() > 1 {
            break;
        }
    }
    // Two more at once: one waits its turn, the other is refused at once.
    let send = || {
        let (http, url) = (api.http.clone(), api.url("/v1/chat/completions"));
        tokio::spawn(async move {
            let response = http
                .post(url)
                .bearer_auth("secret-token")
                .body(chat(3).to_string())
                .send()
                .await
                .unwrap();
            let retry = response.headers().get("retry-after").cloned();
            (
                response.status().as_u16(),
                retry,
                response.json_value().await,
            )
        })
    };
    let (mut b, mut c) = (send(), send());
    let (refused, waiting) = tokio::select! {
        r = &mut b => (r.unwrap(), c),
        r = &mut c => (r.unwrap(), b),
    };
    assert_eq!(refused.0, 429, "{}", refused.2);
    assert_eq!(refused.1.unwrap(), "1");
    assert_eq!(refused.2["error"]["type"], "rate_limit_error");
    assert!(!waiting.is_finished());
    // The long reply's client goes away: its generation stops and the waiting request runs.
    drop(running);
    let (status, _, body) = tokio::time::timeout(Duration::from_secs(120), waiting)
        .await
        .expect("the model was freed when its client left")
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["usage"]["completion_tokens"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_come_from_the_librarys_embedder_as_floats_or_base64() {
    let api = Running::start(|_| {}).await;
    let body = json!({"model": "all-MiniLM-L6-v2", "input": ["otters and pebbles", "tides"]});
    let (status, floats) = api.post("/v1/embeddings", &body).await;
    assert_eq!(status, 200, "{floats}");
    assert_eq!(floats["object"], "list");
    assert_eq!(floats["model"], "all-MiniLM-L6-v2");
    let data = floats["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[1]["index"], 1);
    let vector: Vec<f64> = data[0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(vector.len(), 384);
    let norm: f64 = vector.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!((norm - 1.0).abs() < 1e-3, "unit length: {norm}");
    assert!(floats["usage"]["prompt_tokens"].as_u64().unwrap() >= 4);

    let mut b64 = body.clone();
    b64["encoding_format"] = json!("base64");
    let (status, encoded) = api.post("/v1/embeddings", &b64).await;
    assert_eq!(status, 200);
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let decoded: Vec<f64> = bytes
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
        .collect();
    assert_eq!(
        decoded,
        vector.iter().map(|x| *x as f32 as f64).collect::<Vec<_>>()
    );

    for (input, param) in [
        (json!(""), "input[0]"),
        (json!([]), "input"),
        (json!([1, 2, 3]), "input"),
    ] {
        let (status, body) = api
            .post(
                "/v1/embeddings",
                &json!({"model": "all-MiniLM-L6-v2", "input": input}),
            )
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["param"], param);
    }
    let (status, body) = api
        .post(
            "/v1/embeddings",
            &json!({"model": "text-embedding-3-small", "input": "x"}),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "model_not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_harmony_prompt_completes_as_text_or_token_ids_whole_or_streamed() {
    let api = Running::start(|_| {}).await;
    let prompt = "<|start|>system<|message|>You are Context-1.<|end|><|start|>user<|message|>Where are the otters?<|end|><|start|>assistant";
    let body = json!({"model": "chat", "prompt": prompt, "max_tokens": 6, "temperature": 0,
                      "return_token_ids": true});
    let (status, text) = api.post("/v1/completions", &body).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(text["object"], "text_completion");
    let choice = &text["choices"][0];
    let ids: Vec<u32> = serde_json::from_value(choice["token_ids"].clone()).unwrap();
    assert_eq!(
        ids.len() as u64,
        text["usage"]["completion_tokens"].as_u64().unwrap()
    );
    assert_eq!(
        choice["finish_reason"],
        if ids.len() == 6 { "length" } else { "stop" }
    );

    // The same prompt as token ids (harmony's special tokens read as such) gives the same
    // tokens, and the cache held its prefix.
    let vocab = tempfile::tempdir().unwrap();
    let harmony = fathom_chat::Harmony::load(vocab.path()).unwrap();
    let tokens = harmony.encode_with_special_tokens(prompt);
    assert_eq!(
        tokens.iter().filter(|&&t| t == 200006).count(),
        3,
        "<|start|> is one token"
    );
    assert_eq!(
        text["usage"]["prompt_tokens"].as_u64().unwrap(),
        tokens.len() as u64
    );
    assert_eq!(choice["text"].as_str().unwrap(), harmony.decode(&ids));
    let (status, again) = api
        .post(
            "/v1/completions",
            &json!({"model": "chat", "prompt": tokens, "max_tokens": 6, "temperature": 0,
                    "return_token_ids": true}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(again["choices"][0]["token_ids"], choice["token_ids"]);
    assert!(
        again["usage"]["prompt_tokens_details"]["cached_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );

    // Streamed: the same text, piece by piece.
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let sse = api
        .stream_at("/v1/completions", &streamed)
        .await
        .text()
        .await
        .unwrap();
    let lines = data_lines(&sse);
    assert_eq!(lines.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = lines[..lines.len() - 1]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let joined: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["text"].as_str())
        .collect();
    assert_eq!(joined, choice["text"].as_str().unwrap());
    assert_eq!(
        chunks.last().unwrap()["usage"]["completion_tokens"],
        text["usage"]["completion_tokens"]
    );

    // Bad input.
    for (bad, param) in [
        (
            json!({"model": "chat", "prompt": [1, 2, 999_999_999]}),
            None,
        ),
        (
            json!({"model": "chat", "prompt": ["a", "b"]}),
            Some("prompt"),
        ),
        (json!({"model": "chat", "prompt": ""}), Some("prompt")),
        (
            json!({"model": "chat", "prompt": "x", "echo": true}),
            Some("echo"),
        ),
    ] {
        let (status, body) = api.post("/v1/completions", &bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
        match param {
            Some(p) => assert_eq!(body["error"]["param"], p),
            None => assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("vocabulary"),
                "{body}"
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_apps_api_follows_its_settings_and_keeps_its_token() {
    let data = tempfile::tempdir().unwrap();
    let app = Arc::new(
        App::open_with(
            fathom_store::AppDirs::under(data.path()),
            OpenOptions {
                background_vectors: false,
            },
        )
        .unwrap(),
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let api = fathom_server::LocalApi::new();
    let model = Some(fixtures().join("chat"));
    // Off by default: nothing listens.
    let off = api.apply(&app, model.clone(), None).await;
    assert!(!off.enabled && !off.running && off.base_url.is_none());

    app.update_settings(|s| {
        s.api_enabled = true;
        s.api_port = 0;
    })
    .unwrap();
    let on = api
        .apply(&app, model.clone(), Some("/usr/bin/fathom".into()))
        .await;
    assert!(on.running, "{on:?}");
    let token = on.token.clone().unwrap();
    assert_eq!(
        app.settings().api_token.as_deref(),
        Some(token.as_str()),
        "the token is kept"
    );
    let base = on.base_url.clone().unwrap();
    let models = http
        .get(format!("{base}/models"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(models.status(), 200);
    assert_eq!(on.model.as_deref(), Some("chat"));
    let names: Vec<&str> = on.clients.iter().map(|c| c.name.as_str()).collect();
    assert!(names.contains(&"Python (openai)") && names.contains(&"Claude Desktop, Cursor (MCP)"));
    assert!(on
        .clients
        .iter()
        .all(|c| c.text.contains(&token) || c.text.contains("/usr/bin/fathom")));
    assert_eq!(api.status(), on);

    // Applied again (a setting changed): a new server, the same token.
    let again = api.apply(&app, model.clone(), None).await;
    assert_eq!(again.token.as_deref(), Some(token.as_str()));

    // A port someone else holds: an error that says so, nothing running.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    app.update_settings(|s| s.api_port = port).unwrap();
    let clash = api.apply(&app, model.clone(), None).await;
    assert!(!clash.running);
    assert!(
        clash.error.as_deref().unwrap().contains("cannot listen"),
        "{clash:?}"
    );

    // Turned off: the address stops answering.
    app.update_settings(|s| {
        s.api_enabled = false;
        s.api_port = 0;
    })
    .unwrap();
    api.apply(&app, model.clone(), None).await;
    assert!(http.get(format!("{base}/models")).send().await.is_err());

    // On without a model chosen: the library is served (MCP needs no model); a chat request
    // says what is missing.
    app.update_settings(|s| s.api_enabled = true).unwrap();
    let no_model = api.apply(&app, None, None).await;
    assert!(no_model.running, "{no_model:?}");
    let base = no_model.base_url.clone().unwrap();
    let token = no_model.token.clone().unwrap();
    let answer = http
        .post(format!("{base}/chat/completions"))
        .bearer_auth(&token)
        .json(&json!({"model": "context-1", "messages": [{"role": "user", "content": "Hi"}]}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_server_error() || answer.status().is_client_error());
    let body = answer.json_value().await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("No model chosen"),
        "{body}"
    );
    let mcp = http
        .post(no_model.mcp_url.clone().unwrap())
        .bearer_auth(&token)
        .header("accept", "application/json, text/event-stream")
        .json(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(mcp.status(), 200, "the library's MCP server answers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_is_held_to_its_rate_with_a_retry_after() {
    // 20 a minute, 2 at once: the third request in a row is refused.
    let api = Running::start(|o| o.rate_limit = 20).await;
    for _ in 0..2 {
        let (status, _) = api.get("/v1/models").await;
        assert_eq!(status, 200);
    }
    let response = api
        .http
        .get(api.url("/v1/models"))
        .bearer_auth("secret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=3).contains(&wait),
        "a token comes back every 3 s: {wait}"
    );
    let body = response.json_value().await;
    assert_openai_error(&body, "rate_limit_error");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    // Without a token too: a flood is refused before the token is looked at.
    let response = api.http.get(api.url("/v1/models")).send().await.unwrap();
    assert_eq!(response.status(), 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_may_read_the_api_only_from_the_origins_allowed() {
    let preflight = |api: &Running, origin: &str| {
        api.http
            .request(reqwest::Method::OPTIONS, api.url("/v1/chat/completions"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    // None by default: no page may read it.
    let closed = Running::start(|_| {}).await;
    let answer = preflight(&closed, "http://localhost:3000").await.unwrap();
    assert!(answer
        .headers()
        .get("access-control-allow-origin")
        .is_none());

    let open = Running::start(|o| o.cors = vec!["http://localhost:3000/".into()]).await;
    let answer = preflight(&open, "http://localhost:3000").await.unwrap();
    assert!(answer.status().is_success(), "a preflight carries no token");
    assert_eq!(
        answer.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let allowed = answer.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("authorization"), "{allowed}");
    let other = preflight(&open, "http://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    // A real request from the page, refused or not, carries the header so the page can read why.
    let refused = open
        .http
        .get(open.url("/v1/models"))
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(
        refused.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );

    // Not an origin: the server does not start.
    let data = tempfile::tempdir().unwrap();
    let app = App::open_with(
        fathom_store::AppDirs::under(data.path()),
        OpenOptions {
            background_vectors: false,
        },
    )
    .unwrap();
    let mut options = ServeOptions::new(fixtures().join("chat"));
    options.port = 0;
    options.cors = vec!["localhost:3000/app".into()];
    let e = Server::start(Arc::new(app), options).await.err().unwrap();
    assert!(e.to_string().contains("not a web origin"), "{e}");
}
