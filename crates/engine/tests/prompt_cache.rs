//! The kept KV cache: a conversation's later turns, a regenerated reply and an edited earlier
//! message prefill only what is new, and produce exactly the tokens a full prefill gives.

use fathom_engine::{Engine, FinishReason, GenerateOptions, Model, PromptCache, StreamEvent};

mod common;

fn model() -> Model {
    Model::load(common::fixtures().join("mxfp4")).expect("run scripts/fixtures.sh")
}

fn options(max_tokens: usize) -> GenerateOptions {
    GenerateOptions {
        max_tokens,
        prefill_chunk: 5,
        reuse_cache: true,
        ..Default::default()
    }
}

/// Deterministic "user text": tokens the random model would not produce by itself.
fn text(seed: u32, n: usize) -> Vec<u32> {
    (0..n as u32).map(|i| (seed * 37 + i * 11) % 300).collect()
}

fn fresh(model: &Model, prompt: &[u32], max_tokens: usize) -> Vec<u32> {
    model
        .generate(prompt, &options(max_tokens), &|| false, &mut |_| {})
        .unwrap()
        .0
}

fn kept(
    model: &Model,
    cache: &mut PromptCache,
    prompt: &[u32],
    max_tokens: usize,
) -> (Vec<u32>, usize) {
    let mut streamed = Vec::new();
    let (tokens, stats) = model
        .generate_with(cache, prompt, &options(max_tokens), &|| false, &mut |t| {
            streamed.push(t)
        })
        .unwrap();
    assert_eq!(streamed, tokens, "streamed in order, every token once");
    assert_eq!(stats.prompt_tokens, prompt.len());
    (tokens, stats.cached_tokens)
}

#[test]
fn later_turns_reuse_the_cache_and_match_a_full_prefill() {
    let model = model();
    let mut cache = PromptCache::new(&model);

    // Turn 1: nothing cached.
    let p1 = text(1, 23);
    let (r1, cached) = kept(&model, &mut cache, &p1, 12);
    assert_eq!(cached, 0);
    assert_eq!(r1, fresh(&model, &p1, 12));

    // Turn 2: the history keeps only part of the reply (as harmony drops the reasoning), so the
    // cache returns to where turn 1's prompt ended — well past the sliding window of 8.
    let p2 = [&p1[..], &r1[6..], &text(2, 9)].concat();
    let (r2, cached) = kept(&model, &mut cache, &p2, 12);
    assert_eq!(cached, p1.len());
    assert_eq!(r2, fresh(&model, &p2, 12));

    // Turn 3: the whole reply stays in the history; everything the cache holds is reused.
    let p3 = [&p2[..], &r2[..], &text(3, 4)].concat();
    let (r3, cached) = kept(&model, &mut cache, &p3, 12);
    assert_eq!(
        cached,
        p2.len() + r2.len() - 1,
        "all but the last sampled token"
    );
    assert_eq!(r3, fresh(&model, &p3, 12));

    // Regenerate turn 3: the prompt ends at a mark, so not even one token is prefilled.
    let (again, cached) = kept(&model, &mut cache, &p3, 7);
    assert_eq!(cached, p3.len());
    assert_eq!(again, r3[..7]);

    // Edit turn 2's message: back to the end of turn 1's prompt.
    let p2b = [&p1[..], &text(9, 5)].concat();
    let (r2b, cached) = kept(&model, &mut cache, &p2b, 12);
    assert_eq!(cached, p1.len());
    assert_eq!(r2b, fresh(&model, &p2b, 12));

    // A different conversation starts over.
    let other = text(5, 17);
    let (r, cached) = kept(&model, &mut cache, &other, 12);
    assert_eq!(cached, 0);
    assert_eq!(r, fresh(&model, &other, 12));
}

#[test]
fn a_cancelled_prefill_leaves_a_cache_that_is_still_right() {
    let model = model();
    let mut cache = PromptCache::new(&model);
    let p1 = text(1, 30);
    let calls = std::cell::Cell::new(0);
    let (tokens, stats) = model
        .generate_with(
            &mut cache,
            &p1,
            &options(12),
            &|| {
                calls.set(calls.get() + 1);
                calls.get() > 3
            },
            &mut |_| {},
        )
        .unwrap();
    assert!(tokens.is_empty());
    assert_eq!(stats.finish_reason, FinishReason::Cancelled);
    assert_eq!(cache.tokens(), &p1[..15], "three chunks of 5 went in");

    let (r, cached) = kept(&model, &mut cache, &p1, 12);
    assert_eq!(cached, 15);
    assert_eq!(r, fresh(&model, &p1, 12));
}

#[test]
fn the_engine_service_keeps_its_cache_only_when_asked() {
    let engine = Engine::load(common::fixtures().join("mxfp4")).unwrap();
    let run = |prompt: Vec<u32>, reuse: bool| {
        let mut stream = engine.generate(
            prompt,
            GenerateOptions {
                reuse_cache: reuse,
                ..options(6)
            },
        );
        let mut tokens = Vec::new();
        loop {
            match stream.blocking_next().unwrap() {
                StreamEvent::Token(t) => tokens.push(t),
                StreamEvent::Finished(stats) => return (tokens, stats.cached_tokens),
                StreamEvent::Failed(e) => panic!("{e}"),
            }
        }
    };
    let p1 = text(4, 20);
    let (r1, _) = run(p1.clone(), true);
    let p2 = [&p1[..], &r1[..], &text(6, 3)].concat();
    let (with, cached) = run(p2.clone(), true);
    assert_eq!(cached, p1.len() + r1.len() - 1);
    let (without, cached) = run(p2, false);
    assert_eq!(cached, 0);
    assert_eq!(with, without);
}

#[test]
fn marks_asked_for_inside_the_prompt_are_restore_points_too() {
    let model = model();
    let mut cache = PromptCache::new(&model);
    let p1 = text(1, 23);
    let at = p1.len() - 2;
    let with_mark = GenerateOptions {
        marks: vec![at, 9],
        ..options(6)
    };
    let (r1, _) = model
        .generate_with(&mut cache, &p1, &with_mark, &|| false, &mut |_| {})
        .unwrap();
    assert_eq!(
        r1,
        fresh(&model, &p1, 6),
        "splitting the prefill changes nothing"
    );
    // A prompt that parts from the first two tokens before its end (a reply that left nothing
    // in the history): it starts from the mark there.
    let p2 = [&p1[..at], &text(2, 7)].concat();
    let (r2, cached) = kept(&model, &mut cache, &p2, 8);
    assert_eq!(cached, at);
    assert_eq!(r2, fresh(&model, &p2, 8));
}
