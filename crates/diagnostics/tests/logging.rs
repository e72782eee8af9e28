//! The log as a crash leaves it: records and a panic in the file, rotation bounding its size.
//! One test per process (the logger is global), so everything runs in order here.

use fathom_diagnostics::{log_file, log_tail, start_logging, Report, MAX_LOG_BYTES};

#[test]
fn records_and_panics_reach_the_file_and_rotation_bounds_it() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let guard = start_logging(&logs, "info", false).unwrap();
    log::info!("indexing started");
    log::debug!("below the level: not written");

    let crashed = std::thread::Builder::new()
        .name("worker".into())
        .spawn(|| panic!("the checkpoint was truncated"))
        .unwrap()
        .join();
    assert!(crashed.is_err());

    let tail = log_tail(&logs, 200);
    assert!(tail.contains("indexing started"), "{tail}");
    assert!(!tail.contains("below the level"), "{tail}");
    assert!(tail.contains("panic in thread worker"), "{tail}");
    assert!(tail.contains("the checkpoint was truncated"), "{tail}");
    assert!(tail.contains("logging.rs:"), "the panic's place: {tail}");

    // Past the size limit the file is rotated, and old files are dropped beyond the few kept.
    let line = "x".repeat(1000);
    for _ in 0..(MAX_LOG_BYTES as usize / 1000) * 7 {
        log::info!("{line}");
    }
    drop(guard);
    let files: Vec<_> = std::fs::read_dir(&logs).unwrap().flatten().collect();
    let total: u64 = files.iter().map(|f| f.metadata().unwrap().len()).sum();
    assert!(
        files.len() <= 1 + fathom_diagnostics::KEEP_ROTATED,
        "{files:?}"
    );
    assert!(total < MAX_LOG_BYTES * 6, "{total} bytes of logs");
    assert!(log_file(&logs).metadata().unwrap().len() <= MAX_LOG_BYTES + 2000);

    // The report ends with the tail and keeps what the caller gave it, no more.
    let report = Report {
        app_version: "0.1.0".into(),
        platform: "linux x86_64".into(),
        log_tail: log_tail(&logs, 3),
        settings: vec![("replyMaxTokens".into(), "8192".into())],
        ..Default::default()
    }
    .render();
    assert!(
        report.starts_with("Fathom 0.1.0 (linux x86_64)\n"),
        "{report}"
    );
    assert!(
        report.contains("Setting replyMaxTokens: 8192\n"),
        "{report}"
    );
    assert!(report.trim_end().ends_with(&"x".repeat(1000)), "{report}");
}
