//! Embedding from many short-lived threads (command handlers, a search's helper thread) must not
//! leave threads behind: MLX keeps a worker thread for every thread that ever evaluated arrays,
//! so `SharedEmbedder` runs all of its MLX work on one thread of its own.

#[cfg(target_os = "linux")]
#[test]
fn embedding_from_short_lived_threads_leaves_no_threads_behind() {
    let dir = std::env::var_os("FATHOM_MINILM")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/fixtures/minilm")
        });
    let threads = || -> usize {
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let e = fathom_embed::SharedEmbedder::load(&dir).expect("run scripts/fixtures.sh");
    let first = e.embed(&["warm up"]).unwrap();
    let before = threads();
    for _ in 0..20 {
        std::thread::scope(|s| {
            s.spawn(|| assert_eq!(e.embed(&["warm up"]).unwrap(), first));
        });
    }
    let after = threads();
    assert!(after < before + 3, "{before} threads before, {after} after");
}
