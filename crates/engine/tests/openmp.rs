//! llama.cpp runs its steps with OpenMP, which keeps a team of worker threads for every thread
//! that ever started one. The engine's team must not outlive a reply: while it lives, libgomp
//! counts more workers than cores and the query encoder's threads sleep at every step instead of
//! spinning, so a search after a chat embeds its query no faster on two threads than on one.

use fathom_engine::{Engine, GenerateOptions, LoadOptions, StreamEvent};

mod common;

#[cfg(target_os = "linux")]
#[test]
fn a_reply_on_llama_cpp_leaves_no_worker_threads_behind() {
    if !fathom_llama::missing_cpu_features().is_empty() {
        eprintln!("skipped: llama.cpp is not built for this processor");
        return;
    }
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        eprintln!("skipped: one core, so no worker threads");
        return;
    }
    let threads = || std::fs::read_dir("/proc/self/task").unwrap().count();
    let converted = tempfile::tempdir().unwrap();
    let engine = Engine::load_with(
        common::fixtures().join("mxfp4"),
        LoadOptions::llamacpp(1024, converted.path()),
    )
    .unwrap();
    let reply = || {
        let mut stream = engine.generate(
            (1..40).collect(),
            GenerateOptions {
                max_tokens: 8,
                reuse_cache: false,
                ..Default::default()
            },
        );
        let mut tokens = Vec::new();
        loop {
            match stream.blocking_next().unwrap() {
                StreamEvent::Token(t) => tokens.push(t),
                StreamEvent::Finished(_) => return tokens,
                StreamEvent::Failed(e) => panic!("{e}"),
            }
        }
    };
    let before = threads();
    let first = reply();
    assert_eq!(first.len(), 8);
    // The workers are told to go when the reply's thread ends; they may take a moment to.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while threads() > before && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(threads(), before, "threads left behind by a reply");
    // The next reply starts a team of its own, and is the same (greedy, no cache kept).
    assert_eq!(reply(), first);
}
