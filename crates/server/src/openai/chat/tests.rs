use super::*;

fn request(body: Value) -> ChatRequest {
    serde_json::from_value(body).unwrap()
}

fn prepared(body: Value) -> Result<Prepared, ApiError> {
    prepare(request(body))
}

#[test]
fn a_tool_round_trip_becomes_one_reply_with_the_call_and_its_output() {
    let p = prepared(json!({
        "model": "m",
        "reasoning_effort": "high",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Weather in "}, {"type": "text", "text": "Oslo?"}]},
            {"role": "assistant", "content": null, "reasoning_content": "Call it.",
             "tool_calls": [{"id": "call_1", "type": "function",
                             "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "{\"c\": 3}"},
        ],
        "tools": [{"type": "function", "function": {"name": "weather", "description": "Weather now",
                   "parameters": {"type": "object"}}}],
        "max_completion_tokens": 50, "max_tokens": 9, "temperature": 0.5, "seed": 7,
        "stop": "END",
    }))
    .unwrap();
    assert_eq!(p.setup.effort, Effort::High);
    assert_eq!(p.setup.instructions.as_deref(), Some("Be brief."));
    assert_eq!(p.setup.tools.len(), 1);
    assert_eq!(p.setup.tools[0].name, "weather");
    assert_eq!(p.messages[0], Message::user("Weather in Oslo?"));
    assert_eq!(
        p.messages[1],
        Message::Assistant {
            parts: vec![
                Part::Reasoning {
                    text: "Call it.".into()
                },
                Part::ToolCall {
                    tool: "weather".into(),
                    arguments: "{\"city\":\"Oslo\"}".into(),
                    output: Some("{\"c\": 3}".into()),
                },
            ],
            ending: Ending::ToolCall,
            stats: None,
        }
    );
    assert_eq!(p.messages.len(), 2);
    // max_completion_tokens is the newer name and wins.
    assert_eq!(p.with.max_tokens, Some(50));
    assert_eq!(p.with.temperature, Some(0.5));
    assert_eq!(p.with.seed, Some(7));
    assert_eq!(p.stops, vec!["END".to_string()]);
}

#[test]
fn an_earlier_answer_keeps_its_text_and_reasoning_under_either_name() {
    let p = prepared(json!({"model": "m", "messages": [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello.", "reasoning": "Greet."},
        {"role": "user", "content": "Bye"},
    ]}))
    .unwrap();
    assert_eq!(
        p.messages[1],
        Message::Assistant {
            parts: vec![
                Part::Reasoning {
                    text: "Greet.".into()
                },
                Part::Answer {
                    text: "Hello.".into()
                }
            ],
            ending: Ending::Done,
            stats: None,
        }
    );
    assert_eq!(p.setup.effort, Effort::Medium);
    assert!(p.setup.tools.is_empty());
}

#[test]
fn what_cannot_be_honoured_is_refused_with_the_field_named() {
    let base = || json!({"model": "m", "messages": [{"role": "user", "content": "Hi"}]});
    let cases: Vec<(Value, &str)> = vec![
        (json!({"n": 2}), "n"),
        (json!({"logprobs": true}), "logprobs"),
        (json!({"temperature": 3.0}), "temperature"),
        (json!({"top_p": 0.0}), "top_p"),
        (json!({"max_tokens": 0}), "max_tokens"),
        (json!({"stop": ["a", "b", "c", "d", "e"]}), "stop"),
        (json!({"stop": [""]}), "stop"),
        (json!({"reasoning_effort": "extreme"}), "reasoning_effort"),
        (json!({"tool_choice": "required"}), "tool_choice"),
        (json!({"presence_penalty": 0.5}), "presence_penalty"),
        (
            json!({"response_format": {"type": "json_object"}}),
            "response_format",
        ),
        (
            json!({"tools": [{"type": "function", "function": {"name": "no spaces"}}]}),
            "tools[0].function.name",
        ),
        (json!({"tools": [{"type": "web_search"}]}), "tools[0]"),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}),
            "messages[0].content[0]",
        ),
        (
            json!({"messages": [{"role": "robot", "content": "x"}]}),
            "messages[0].role",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "nope", "content": "y"}]}),
            "messages[1].tool_call_id",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}),
            "messages",
        ),
        (json!({"messages": []}), "messages"),
        (
            json!({"messages": [{"role": "system", "content": "only instructions"}]}),
            "messages",
        ),
    ];
    for (change, param) in cases {
        let mut body = base();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let e = prepared(body.clone()).expect_err(&body.to_string());
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(e.param.as_deref(), Some(param), "{body}: {}", e.message);
        assert!(!e.message.is_empty());
    }
    // tool_choice "none" drops the tools; zero penalties and a text format are fine.
    let mut body = base();
    body["tool_choice"] = json!("none");
    body["tools"] = json!([{"type": "function", "function": {"name": "f"}}]);
    body["presence_penalty"] = json!(0);
    body["response_format"] = json!({"type": "text"});
    assert!(prepared(body).unwrap().setup.tools.is_empty());
}

#[test]
fn stop_strings_cut_the_answer_and_nothing_of_them_is_sent() {
    let mut f = StopFilter::new(vec!["STOP".into(), "é!".into()]);
    assert_eq!(f.push("hello S"), "hello ");
    assert_eq!(f.push("T"), "");
    assert_eq!(f.push("ay"), "STay");
    assert_eq!(f.push(" caf"), " caf");
    assert_eq!(f.push("é"), "");
    assert_eq!(f.push("!! more"), "");
    assert!(f.stopped());
    assert_eq!(f.push("after"), "");
    assert_eq!(f.finish(), "");

    let mut f = StopFilter::new(vec!["\n\n".into()]);
    assert_eq!(f.push("line\n"), "line");
    assert!(!f.stopped());
    assert_eq!(f.finish(), "\n", "held text comes out at the end");

    let mut f = StopFilter::new(Vec::new());
    assert_eq!(f.push("anything"), "anything");
}

fn stamp() -> Stamp {
    Stamp {
        id: "chatcmpl-1".into(),
        created: 1,
        model: "m".into(),
    }
}

fn stats() -> Option<fathom_chat::conversation::ReplyStats> {
    Some(fathom_chat::conversation::ReplyStats {
        prompt_tokens: 100,
        cached_tokens: 60,
        generated_tokens: 12,
        ..Default::default()
    })
}

#[test]
fn a_reply_that_calls_tools_is_a_completion_with_tool_calls() {
    let reply = Message::Assistant {
        parts: vec![
            Part::Reasoning {
                text: "Need two.".into(),
            },
            Part::Commentary {
                text: "Looking.".into(),
            },
            Part::ToolCall {
                tool: "a".into(),
                arguments: "{}".into(),
                output: None,
            },
            Part::ToolCall {
                tool: "b".into(),
                arguments: "{\"x\":1}".into(),
                output: None,
            },
        ],
        ending: Ending::ToolCall,
        stats: stats(),
    };
    let c = completion(&stamp(), &reply, Vec::new());
    let choice = &c["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["reasoning"], "Need two.");
    assert_eq!(choice["message"]["content"], "Looking.");
    let calls = choice["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1]["function"]["name"], "b");
    assert_eq!(calls[1]["function"]["arguments"], "{\"x\":1}");
    assert!(calls[0]["id"].as_str().unwrap().starts_with("call_"));
    assert_ne!(calls[0]["id"], calls[1]["id"]);
    assert_eq!(c["usage"]["prompt_tokens"], 100);
    assert_eq!(c["usage"]["completion_tokens"], 12);
    assert_eq!(c["usage"]["total_tokens"], 112);
    assert_eq!(c["usage"]["prompt_tokens_details"]["cached_tokens"], 60);
    assert_eq!(c["object"], "chat.completion");
}

#[test]
fn an_answer_is_cut_at_its_stop_string_and_a_long_one_says_length() {
    let reply = |ending| Message::Assistant {
        parts: vec![Part::Answer {
            text: "one. two. three.".into(),
        }],
        ending,
        stats: stats(),
    };
    let c = completion(&stamp(), &reply(Ending::Stopped), vec![" two".into()]);
    assert_eq!(c["choices"][0]["message"]["content"], "one.");
    assert_eq!(c["choices"][0]["finish_reason"], "stop");
    assert_eq!(c["choices"][0]["message"]["reasoning"], Value::Null);
    let c = completion(&stamp(), &reply(Ending::Length), Vec::new());
    assert_eq!(c["choices"][0]["finish_reason"], "length");
    assert_eq!(c["choices"][0]["message"]["content"], "one. two. three.");
}

#[test]
fn a_stream_carries_reasoning_content_and_tool_calls_with_their_indices() {
    let mut chunks = Chunks::new(stamp(), Vec::new(), true);
    assert_eq!(chunks.start()["choices"][0]["delta"]["role"], "assistant");
    let d = chunks
        .delta(0, DeltaKind::Reasoning, None, "Think")
        .unwrap();
    assert_eq!(d["choices"][0]["delta"]["reasoning"], "Think");
    assert_eq!(d["usage"], Value::Null);
    let first = chunks
        .delta(1, DeltaKind::ToolCall, Some("a".into()), "{\"q\":")
        .unwrap();
    let call = &first["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(call["index"], 0);
    assert_eq!(call["function"]["name"], "a");
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    let more = chunks
        .delta(1, DeltaKind::ToolCall, Some("a".into()), "1}")
        .unwrap();
    let call = &more["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(call["index"], 0);
    assert_eq!(call["function"]["arguments"], "1}");
    assert!(call.get("id").is_none(), "the id comes once");
    let second = chunks
        .delta(2, DeltaKind::ToolCall, Some("b".into()), "{}")
        .unwrap();
    assert_eq!(second["choices"][0]["delta"]["tool_calls"][0]["index"], 1);
    let reply = Message::Assistant {
        parts: vec![
            Part::Reasoning {
                text: "Think".into(),
            },
            Part::ToolCall {
                tool: "a".into(),
                arguments: "{\"q\":1}".into(),
                output: None,
            },
            Part::ToolCall {
                tool: "b".into(),
                arguments: "{}".into(),
                output: None,
            },
        ],
        ending: Ending::ToolCall,
        stats: stats(),
    };
    let end = chunks.end(&reply);
    assert_eq!(end.len(), 2, "{end:?}");
    assert_eq!(end[0]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(end[1]["choices"], json!([]));
    assert_eq!(end[1]["usage"]["total_tokens"], 112);
}

#[test]
fn what_the_stream_never_carried_is_sent_at_the_end_and_stop_strings_hold() {
    // A reply that broke the harmony format: its raw rest is only in the final message.
    let mut chunks = Chunks::new(stamp(), vec!["<<".into()], false);
    let d = chunks.delta(0, DeltaKind::Answer, None, "Hello <").unwrap();
    assert_eq!(d["choices"][0]["delta"]["content"], "Hello ");
    assert!(d.get("usage").is_none());
    let reply = Message::Assistant {
        parts: vec![Part::Answer {
            text: "Hello <raw tail".into(),
        }],
        ending: Ending::Malformed,
        stats: stats(),
    };
    let end = chunks.end(&reply);
    let text: String = end
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "<raw tail");
    assert_eq!(end.last().unwrap()["choices"][0]["finish_reason"], "stop");

    let mut chunks = Chunks::new(stamp(), vec!["<<".into()], false);
    assert!(chunks.delta(0, DeltaKind::Answer, None, "a<").is_some());
    assert!(chunks.delta(0, DeltaKind::Answer, None, "<b").is_none());
    assert!(chunks.stopped());
    assert!(chunks.delta(0, DeltaKind::Answer, None, "more").is_none());
}
