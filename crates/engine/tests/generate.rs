//! Generation through the engine service: stop tokens, limits, cancellation within one token.

use std::path::PathBuf;

mod common;

use fathom_engine::{Engine, FinishReason, GenerateOptions, Stats, StreamEvent, TokenStream};

fn fixture() -> (PathBuf, Vec<u32>, Vec<u32>) {
    let dir = common::fixtures().join("mxfp4");
    let reference: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("reference.json")).expect("run scripts/fixtures.sh"),
    )
    .unwrap();
    let ids = |k: &str| {
        reference[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect()
    };
    (dir, ids("prompt_tokens"), ids("greedy_tokens"))
}

fn drain(stream: &mut TokenStream) -> (Vec<u32>, Result<Stats, String>) {
    let mut tokens = Vec::new();
    loop {
        match stream.blocking_next() {
            Some(StreamEvent::Token(t)) => tokens.push(t),
            Some(StreamEvent::Finished(stats)) => return (tokens, Ok(stats)),
            Some(StreamEvent::Failed(e)) => return (tokens, Err(e)),
            None => return (tokens, Err("stream ended without a result".into())),
        }
    }
}

#[test]
fn greedy_generation_streams_the_reference_tokens_and_counts_them() {
    let (dir, prompt, greedy) = fixture();
    let engine = Engine::load(&dir).unwrap();
    let options = GenerateOptions {
        max_tokens: greedy.len(),
        prefill_chunk: 6,
        ..Default::default()
    };
    let (tokens, stats) = drain(&mut engine.generate(prompt.clone(), options));
    let stats = stats.unwrap();
    assert_eq!(tokens, greedy);
    assert_eq!(stats.finish_reason, FinishReason::Length);
    assert_eq!(
        (stats.prompt_tokens, stats.generated_tokens),
        (prompt.len(), greedy.len())
    );
    assert!(stats.prefill_tokens_per_second > 0.0 && stats.decode_tokens_per_second > 0.0);
    assert!(stats.time_to_first_token_seconds <= stats.prefill_seconds + 1.0);
    assert!(stats.peak_memory_bytes > 0);
}

#[test]
fn a_stop_token_ends_generation_and_is_reported() {
    let (dir, prompt, greedy) = fixture();
    let engine = Engine::load(&dir).unwrap();
    let stop = greedy[3];
    let first = greedy.iter().position(|&t| t == stop).unwrap();
    let options = GenerateOptions {
        max_tokens: 100,
        stop_tokens: vec![stop],
        ..Default::default()
    };
    let (tokens, stats) = drain(&mut engine.generate(prompt, options));
    assert_eq!(tokens, greedy[..=first]);
    assert_eq!(stats.unwrap().finish_reason, FinishReason::Stop);
}

#[test]
fn cancel_stops_within_one_token_and_the_engine_goes_on() {
    let (dir, prompt, greedy) = fixture();
    let engine = Engine::load(&dir).unwrap();
    let mut stream = engine.generate(
        prompt.clone(),
        GenerateOptions {
            max_tokens: 10_000,
            ..Default::default()
        },
    );
    let mut tokens = Vec::new();
    let stats = loop {
        match stream.blocking_next().unwrap() {
            StreamEvent::Token(t) => {
                tokens.push(t);
                if tokens.len() == 3 {
                    stream.cancel();
                }
            }
            StreamEvent::Finished(stats) => break stats,
            StreamEvent::Failed(e) => panic!("{e}"),
        }
    };
    assert_eq!(stats.finish_reason, FinishReason::Cancelled);
    assert!(
        tokens.len() <= 4,
        "{} tokens after a cancel at 3",
        tokens.len()
    );

    // A dropped stream is cancelled too, and the engine serves the next request.
    drop(engine.generate(
        prompt.clone(),
        GenerateOptions {
            max_tokens: 10_000,
            ..Default::default()
        },
    ));
    let (tokens, stats) = drain(&mut engine.generate(
        prompt,
        GenerateOptions {
            max_tokens: 2,
            ..Default::default()
        },
    ));
    assert_eq!(tokens, greedy[..2]);
    assert_eq!(stats.unwrap().finish_reason, FinishReason::Length);
}

#[test]
fn bad_requests_fail_with_a_reason_not_a_crash() {
    let (dir, prompt, _) = fixture();
    let engine = Engine::load(&dir).unwrap();
    let (_, outcome) = drain(&mut engine.generate(vec![], GenerateOptions::default()));
    assert!(outcome.unwrap_err().contains("empty"));
    let (_, outcome) = drain(&mut engine.generate(vec![1, 99_999], GenerateOptions::default()));
    assert!(outcome.unwrap_err().contains("outside the vocabulary"));
    let none = GenerateOptions {
        max_tokens: 0,
        ..Default::default()
    };
    let (tokens, outcome) = drain(&mut engine.generate(prompt.clone(), none));
    assert!(tokens.is_empty());
    assert!(outcome.unwrap_err().contains("at least 1"));
    let mut bad = GenerateOptions::default();
    bad.sampling.top_p = 0.0;
    let (_, outcome) = drain(&mut engine.generate(prompt, bad));
    assert!(outcome.unwrap_err().contains("top-p"));
    assert!(Engine::load(dir.join("missing")).is_err());
}
