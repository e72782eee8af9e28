//! The kept KV cache: a conversation's later turns, a regenerated reply and an edited earlier
//! message prefill only what is new, and produce exactly the tokens a full prefill gives. Every
//! test runs on both backends (MLX, and llama.cpp on the same checkpoint converted to GGUF).

use std::sync::OnceLock;

use fathom_engine::llamacpp::{gguf, ContextOptions, GgufModel, LlamaCpp};
use fathom_engine::{
    Backend, Engine, FinishReason, GenerateOptions, LoadOptions, Mlx, Model, PromptCache,
    StreamEvent,
};

mod common;

fn model() -> Model {
    Model::load(common::fixtures().join("mxfp4")).expect("run scripts/fixtures.sh")
}

/// The mxfp4 fixture converted once for this test binary.
fn gguf_model() -> &'static GgufModel {
    static MODEL: OnceLock<GgufModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let file = dir.join("mxfp4.gguf");
        gguf::convert(&common::fixtures().join("mxfp4"), &file).unwrap();
        GgufModel::load(&file).unwrap()
    })
}

fn llamacpp() -> LlamaCpp<'static> {
    gguf_model().context(&ContextOptions::new(4096)).unwrap()
}

/// Runs `test` with a maker of empty caches on each backend.
fn on_both_backends(test: for<'a> fn(New<'a, '_>)) {
    let model = model();
    test(&|| Box::new(PromptCache::new(Mlx::new(&model))));
    test(&|| Box::new(PromptCache::new(llamacpp())));
}

/// A [`PromptCache`] on either backend.
trait Session {
    fn generate(
        &mut self,
        prompt: &[u32],
        options: &GenerateOptions,
        cancelled: &dyn Fn() -> bool,
        on_token: &mut dyn FnMut(u32),
    ) -> (Vec<u32>, fathom_engine::Stats);
    fn tokens(&self) -> Vec<u32>;
}

impl<B: Backend> Session for PromptCache<B> {
    fn generate(
        &mut self,
        prompt: &[u32],
        options: &GenerateOptions,
        cancelled: &dyn Fn() -> bool,
        on_token: &mut dyn FnMut(u32),
    ) -> (Vec<u32>, fathom_engine::Stats) {
        PromptCache::generate(self, prompt, options, cancelled, on_token).unwrap()
    }
    fn tokens(&self) -> Vec<u32> {
        PromptCache::tokens(self).to_vec()
    }
}

/// Makes an empty cache (borrowing the model it runs).
type New<'m, 'f> = &'f dyn Fn() -> Box<dyn Session + 'm>;

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

fn fresh(new: New<'_, '_>, prompt: &[u32], max_tokens: usize) -> Vec<u32> {
    new()
        .generate(prompt, &options(max_tokens), &|| false, &mut |_| {})
        .0
}

fn kept(cache: &mut dyn Session, prompt: &[u32], max_tokens: usize) -> (Vec<u32>, usize) {
    let mut streamed = Vec::new();
    let (tokens, stats) = cache.generate(prompt, &options(max_tokens), &|| false, &mut |t| {
        streamed.push(t)
    });
    assert_eq!(streamed, tokens, "streamed in order, every token once");
    assert_eq!(stats.prompt_tokens, prompt.len());
    (tokens, stats.cached_tokens)
}

#[test]
fn later_turns_reuse_the_cache_and_match_a_full_prefill() {
    on_both_backends(later_turns);
}

fn later_turns(new: New<'_, '_>) {
    let mut cache = new();
    let cache = cache.as_mut();

    // Turn 1: nothing cached.
    let p1 = text(1, 23);
    let (r1, cached) = kept(cache, &p1, 12);
    assert_eq!(cached, 0);
    assert_eq!(r1, fresh(new, &p1, 12));

    // Turn 2: the history keeps only part of the reply (as harmony drops the reasoning), so the
    // cache returns to where turn 1's prompt ended — well past the sliding window of 8.
    let p2 = [&p1[..], &r1[6..], &text(2, 9)].concat();
    let (r2, cached) = kept(cache, &p2, 12);
    assert_eq!(cached, p1.len());
    assert_eq!(r2, fresh(new, &p2, 12));

    // Turn 3: the whole reply stays in the history; everything the cache holds is reused.
    let p3 = [&p2[..], &r2[..], &text(3, 4)].concat();
    let (r3, cached) = kept(cache, &p3, 12);
    assert_eq!(
        cached,
        p2.len() + r2.len() - 1,
        "all but the last sampled token"
    );
    assert_eq!(r3, fresh(new, &p3, 12));

    // Regenerate turn 3: the prompt ends at a mark, so not even one token is prefilled.
    let (again, cached) = kept(cache, &p3, 7);
    assert_eq!(cached, p3.len());
    assert_eq!(again, r3[..7]);

    // Edit turn 2's message: back to the end of turn 1's prompt.
    let p2b = [&p1[..], &text(9, 5)].concat();
    let (r2b, cached) = kept(cache, &p2b, 12);
    assert_eq!(cached, p1.len());
    assert_eq!(r2b, fresh(new, &p2b, 12));

    // A different conversation starts over.
    let other = text(5, 17);
    let (r, cached) = kept(cache, &other, 12);
    assert_eq!(cached, 0);
    assert_eq!(r, fresh(new, &other, 12));
}

#[test]
fn a_cancelled_prefill_leaves_a_cache_that_is_still_right() {
    on_both_backends(cancelled_prefill);
}

fn cancelled_prefill(new: New<'_, '_>) {
    let mut cache = new();
    let cache = cache.as_mut();
    let p1 = text(1, 30);
    let calls = std::cell::Cell::new(0);
    let (tokens, stats) = cache.generate(
        &p1,
        &options(12),
        &|| {
            calls.set(calls.get() + 1);
            calls.get() > 3
        },
        &mut |_| {},
    );
    assert!(tokens.is_empty());
    assert_eq!(stats.finish_reason, FinishReason::Cancelled);
    assert_eq!(cache.tokens(), &p1[..15], "three chunks of 5 went in");

    let (r, cached) = kept(cache, &p1, 12);
    assert_eq!(cached, 15);
    assert_eq!(r, fresh(new, &p1, 12));
}

#[test]
fn the_engine_service_keeps_its_cache_only_when_asked() {
    let converted = tempfile::tempdir().unwrap();
    let dir = common::fixtures().join("mxfp4");
    for options in [
        LoadOptions::mlx(),
        LoadOptions::llamacpp(1024, converted.path()),
    ] {
        engine_keeps_its_cache(Engine::load_with(&dir, options).unwrap());
    }
    // The conversion was made once, into the folder given (beside its lock), and is reused.
    let files: Vec<_> = std::fs::read_dir(converted.path())
        .unwrap()
        .flatten()
        .filter(|f| f.path().extension().is_some_and(|e| e == "gguf"))
        .collect();
    assert_eq!(files.len(), 1);
    let again = Engine::load_with(&dir, LoadOptions::llamacpp(1024, converted.path())).unwrap();
    assert_eq!(again.backend, fathom_engine::BackendKind::LlamaCpp);
}

fn engine_keeps_its_cache(engine: Engine) {
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
    on_both_backends(marks_inside);
}

fn marks_inside(new: New<'_, '_>) {
    let mut cache = new();
    let cache = cache.as_mut();
    let p1 = text(1, 23);
    let at = p1.len() - 2;
    let with_mark = GenerateOptions {
        marks: vec![at, 9],
        ..options(6)
    };
    let (r1, _) = cache.generate(&p1, &with_mark, &|| false, &mut |_| {});
    assert_eq!(
        r1,
        fresh(new, &p1, 6),
        "splitting the prefill changes nothing"
    );
    // A prompt that parts from the first two tokens before its end (a reply that left nothing
    // in the history): it starts from the mark there.
    let p2 = [&p1[..at], &text(2, 7)].concat();
    let (r2, cached) = kept(cache, &p2, 8);
    assert_eq!(cached, at);
    assert_eq!(r2, fresh(new, &p2, 8));
}

#[test]
fn a_mark_the_window_has_long_moved_past_is_restored() {
    on_both_backends(far_mark);
}

/// After a turn of 900 tokens the sliding layers no longer hold what they held at the end of
/// turn 1 (llama.cpp keeps a window of some hundreds of cells, MLX of 8): editing turn 2 must
/// bring them back from the mark, not compute on what is left.
fn far_mark(new: New<'_, '_>) {
    let mut cache = new();
    let cache = cache.as_mut();
    let p1 = text(1, 300);
    let (_, cached) = kept(cache, &p1, 3);
    assert_eq!(cached, 0);
    let p2 = [&p1[..], &text(2, 900)].concat();
    let (r2, cached) = kept(cache, &p2, 3);
    assert_eq!(cached, p1.len());
    assert_eq!(r2, fresh(new, &p2, 3));
    let p3 = [&p1[..], &text(3, 20)].concat();
    let (r3, cached) = kept(cache, &p3, 8);
    assert_eq!(cached, p1.len());
    assert_eq!(r3, fresh(new, &p3, 8));
}
