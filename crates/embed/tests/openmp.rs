//! llama.cpp runs its steps with OpenMP, which keeps a team of worker threads for every thread
//! that ever started one. A bulk encoder's team must not outlive its batch: while it lives,
//! libgomp counts more workers than cores and the query encoder's threads sleep at every step
//! instead of spinning (it then runs no faster on two threads than on one).

#[cfg(target_os = "linux")]
#[test]
fn a_bulk_batch_on_llama_cpp_leaves_no_worker_threads_behind() {
    if !fathom_llama::missing_cpu_features().is_empty() {
        eprintln!("skipped: llama.cpp is not built for this processor");
        return;
    }
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        eprintln!("skipped: one core, so no worker threads");
        return;
    }
    let dir = std::env::var_os("FATHOM_MINILM")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/fixtures/minilm")
        });
    let threads = || std::fs::read_dir("/proc/self/task").unwrap().count();
    let e = fathom_embed::SharedEmbedder::load_with(&dir, fathom_embed::Runtime::LlamaCpp)
        .expect("run scripts/fixtures.sh");
    let before = threads();
    // One text: a batch of several is tokenized on rayon's pool, whose threads stay by design.
    let passage = "a passage about telescopes and the light they gather ".repeat(20);
    let vectors = e.embed(&[&passage]).unwrap();
    assert_eq!(vectors.len(), 1);
    // The workers are told to go when the batch's thread ends; they may take a moment to.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while threads() > before && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(threads(), before, "threads left behind by a batch");
    // The next batch starts a team of its own, and gives the same vector.
    assert_eq!(e.embed(&[&passage]).unwrap(), vectors);
}
