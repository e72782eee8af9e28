//! Downloads against a real HTTP server on loopback that injects the faults real downloads meet.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::*;
use fathom_fakehub::FaultKind;
use fathom_models::{pull, ModelsError, PullPhase, PullProgress};
use tokio_util::sync::CancellationToken;

fn no_progress(_: &PullProgress) {}

#[tokio::test]
async fn pulls_into_the_hugging_face_cache_layout() {
    let s = Setup::new().await;
    let seen = Mutex::new(Vec::new());
    let record = |p: &PullProgress| seen.lock().unwrap().push(p.clone());
    let model = pull(
        &s.client(None),
        &s.cache(),
        REPO,
        &fast(),
        &CancellationToken::new(),
        &record,
    )
    .await
    .unwrap();
    let commit = fathom_fakehub::commit_of(&s.repo_dir(REPO));
    let repo_dir = s.cache_dir.path().join("models--test--tiny-gpt-oss");
    assert_eq!(model.commit, commit);
    assert_eq!(
        std::path::Path::new(&model.path),
        repo_dir.join("snapshots").join(&commit)
    );
    assert_same_files(std::path::Path::new(&model.path), &s.repo_dir(REPO));
    assert_eq!(
        std::fs::read_to_string(repo_dir.join("refs/main")).unwrap(),
        commit
    );
    // Weights are blobs named by their sha256, linked relatively from the snapshot.
    let link = std::fs::read_link(repo_dir.join("snapshots").join(&commit).join(FILES[1])).unwrap();
    let bytes = std::fs::read(s.repo_dir(REPO).join(FILES[1])).unwrap();
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(&bytes));
    assert_eq!(link, std::path::PathBuf::from("../../blobs").join(&sha));
    // config.json is not in LFS: its blob is named by its git blob id.
    let config = std::fs::read(s.repo_dir(REPO).join("config.json")).unwrap();
    assert!(repo_dir
        .join("blobs")
        .join(fathom_fakehub::git_blob_id(&config))
        .is_file());
    assert!(
        !std::fs::read_dir(repo_dir.join("blobs")).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".incomplete"))
    );
    let seen = seen.lock().unwrap();
    let last = seen.last().unwrap();
    assert_eq!(last.phase, PullPhase::Done);
    assert_eq!(last.done_bytes, last.total_bytes);
    assert_eq!(last.files.len(), FILES.len());
    assert_eq!(s.cache().installed(), vec![model]);
}

#[tokio::test]
async fn a_model_already_in_the_cache_is_not_fetched_again() {
    let s = Setup::new().await;
    let (hub, cache) = (s.client(None), s.cache());
    pull(
        &hub,
        &cache,
        REPO,
        &fast(),
        &CancellationToken::new(),
        &no_progress,
    )
    .await
    .unwrap();
    let before = s.hub.log().len();
    pull(
        &hub,
        &cache,
        REPO,
        &fast(),
        &CancellationToken::new(),
        &no_progress,
    )
    .await
    .unwrap();
    let again: Vec<_> = s.hub.log()[before..]
        .iter()
        .map(|r| r.path.clone())
        .collect();
    // The file list and config.json (the architecture check); no weights.
    assert!(
        again.iter().all(|p| !p.ends_with(".safetensors")),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_dropped_connection_resumes_where_it_stopped() {
    let s = Setup::new().await;
    s.hub.inject(FILES[1], FaultKind::DropAfter(100_000), 1);
    let model = s.pull().await.unwrap();
    assert_same_files(model.path.as_ref(), &s.repo_dir(REPO));
    let reqs = s.hub.file_requests(FILES[1]);
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_eq!(reqs[1].range.as_deref(), Some("bytes=100000-"));
}

#[tokio::test]
async fn a_stalled_connection_is_noticed_and_resumed() {
    let s = Setup::new().await;
    s.hub.inject(
        FILES[2],
        FaultKind::StallAfter(50_000, Duration::from_secs(60)),
        1,
    );
    let started = std::time::Instant::now();
    let model = s.pull().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the stall was waited out"
    );
    assert_same_files(model.path.as_ref(), &s.repo_dir(REPO));
    assert_eq!(
        s.hub.file_requests(FILES[2])[1].range.as_deref(),
        Some("bytes=50000-")
    );
}

#[tokio::test]
async fn corrupted_bytes_refetch_that_file_only() {
    let s = Setup::new().await;
    s.hub.inject(FILES[3], FaultKind::Corrupt(1234), 1);
    let model = s.pull().await.unwrap();
    assert_same_files(model.path.as_ref(), &s.repo_dir(REPO));
    assert_eq!(s.hub.file_requests(FILES[3]).len(), 2);
    assert_eq!(
        s.hub.file_requests(FILES[3])[1].range,
        None,
        "refetched from the start"
    );
    assert_eq!(s.hub.file_requests(FILES[1]).len(), 1);
}

#[tokio::test]
async fn a_file_corrupt_twice_fails_and_nothing_corrupt_is_installed() {
    let s = Setup::new().await;
    s.hub.inject(FILES[3], FaultKind::Corrupt(10), 2);
    let err = s.pull().await.unwrap_err();
    assert!(matches!(err, ModelsError::Corrupt { .. }), "{err}");
    assert!(
        err.to_string().starts_with(&format!(
            "{}: downloaded bytes do not match the published sha256",
            FILES[3]
        )),
        "{err}"
    );
    let cache = s.cache();
    assert_eq!(cache.installed_model(REPO), None);
    let blobs = cache.blobs(REPO);
    let names: Vec<String> = std::fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let served = std::fs::read(s.repo_dir(REPO).join(FILES[3])).unwrap();
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(&served));
    assert!(names.iter().all(|n| !n.starts_with(&sha)), "{names:?}");
    // Every blob that is in place matches its name.
    for n in names.iter().filter(|n| n.len() == 64) {
        let bytes = std::fs::read(blobs.join(n)).unwrap();
        assert_eq!(&hex::encode(sha2::Sha256::digest(&bytes)), n);
    }
    // Once the server behaves, the pull completes.
    let model = pull(
        &s.client(None),
        &cache,
        REPO,
        &fast(),
        &CancellationToken::new(),
        &no_progress,
    )
    .await
    .unwrap();
    assert_same_files(model.path.as_ref(), &s.repo_dir(REPO));
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff() {
    let s = Setup::new().await;
    s.hub.inject(FILES[1], FaultKind::Status(503), 2);
    s.hub.inject(FILES[2], FaultKind::Status(500), 1);
    let model = s.pull().await.unwrap();
    assert_same_files(model.path.as_ref(), &s.repo_dir(REPO));
    let statuses: Vec<u16> = s
        .hub
        .file_requests(FILES[1])
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [503, 503, 200]);
}

#[tokio::test]
async fn a_refused_range_starts_the_file_over() {
    let s = Setup::new().await;
    s.hub.inject(FILES[1], FaultKind::DropAfter(1000), 1);
    s.hub.inject(FILES[1], FaultKind::Status(416), 1);
    let model = s.pull().await.unwrap();
    assert_same_files(model.path.as_ref(), &s.repo_dir(REPO));
    let ranges: Vec<Option<String>> = s
        .hub
        .file_requests(FILES[1])
        .into_iter()
        .map(|r| r.range)
        .collect();
    assert_eq!(ranges, [None, Some("bytes=1000-".into()), None]);
}

#[tokio::test]
async fn a_wrong_content_length_is_caught_and_resumed() {
    let s = Setup::new().await;
    // Promising less than it sends: the client stops at the promise and resumes from there.
    s.hub.inject(FILES[1], FaultKind::WrongLength(-5000), 1);
    // Promising more than it sends: the body ends early.
    s.hub.inject(FILES[2], FaultKind::WrongLength(5000), 1);
    let model = s.pull().await.unwrap();
    assert_same_files(model.path.as_ref(), &s.repo_dir(REPO));
    let reqs = s.hub.file_requests(FILES[1]);
    let size = std::fs::metadata(s.repo_dir(REPO).join(FILES[1]))
        .unwrap()
        .len();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].range, Some(format!("bytes={}-", size - 5000)));
}

#[tokio::test]
async fn a_connection_that_never_delivers_is_given_up_with_the_reason() {
    let s = Setup::new().await;
    s.hub.inject(FILES[1], FaultKind::Status(503), 100);
    let options = fathom_models::PullOptions {
        max_attempts: 3,
        ..fast()
    };
    let err = pull(
        &s.client(None),
        &s.cache(),
        REPO,
        &options,
        &CancellationToken::new(),
        &no_progress,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: the server answered HTTP 503 (gave up after 3 attempts)",
            FILES[1]
        )
    );
    assert_eq!(s.cache().installed_model(REPO), None);
}

#[tokio::test]
async fn tokens_gates_and_missing_repos_get_messages_that_say_what_to_do() {
    let s = Setup::new().await;
    s.hub.require_token("hf_secret");
    let err = s.pull().await.unwrap_err();
    assert!(matches!(err, ModelsError::Unauthorized { .. }));
    assert!(
        err.to_string()
            .contains("needs a Hugging Face access token"),
        "{err}"
    );
    let model = pull(
        &s.client(Some("hf_secret")),
        &s.cache(),
        REPO,
        &fast(),
        &CancellationToken::new(),
        &no_progress,
    )
    .await
    .unwrap();
    assert_same_files(model.path.as_ref(), &s.repo_dir(REPO));
    assert!(s
        .hub
        .log()
        .iter()
        .filter(|r| r.status == 200)
        .all(|r| r.authorization.as_deref() == Some("Bearer hf_secret")));

    let s = Setup::new().await;
    s.hub.gate(REPO);
    let err = pull(
        &s.client(Some("t")),
        &s.cache(),
        REPO,
        &fast(),
        &CancellationToken::new(),
        &no_progress,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{REPO} is gated: accept its terms at {}/{REPO} while signed in to the account whose token Fathom uses, then try again.", s.hub.url())
    );
    let err = pull(
        &s.client(None),
        &s.cache(),
        "test/nothing-here",
        &fast(),
        &CancellationToken::new(),
        &no_progress,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "model test/nothing-here was not found on {}. Check the spelling of the repository id.",
            s.hub.url()
        )
    );
    let err = pull(
        &s.client(None),
        &s.cache(),
        "not a repo",
        &fast(),
        &CancellationToken::new(),
        &no_progress,
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("is not a Hugging Face repository id"),
        "{err}"
    );
}

#[tokio::test]
async fn other_architectures_are_refused_before_any_weights_are_fetched() {
    let s = Setup::new().await;
    let llama = "test/llama";
    std::fs::create_dir_all(s.repo_dir(llama)).unwrap();
    std::fs::write(
        s.repo_dir(llama).join("config.json"),
        r#"{"model_type": "llama"}"#,
    )
    .unwrap();
    std::fs::write(s.repo_dir(llama).join("model.safetensors"), vec![0u8; 4096]).unwrap();
    let err = pull(
        &s.client(None),
        &s.cache(),
        llama,
        &fast(),
        &CancellationToken::new(),
        &no_progress,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "test/llama is not a gpt-oss checkpoint: its model type is llama"
    );
    assert!(s.hub.file_requests("model.safetensors").is_empty());
}

#[tokio::test]
async fn pausing_keeps_the_partial_files_and_the_next_pull_continues_them() {
    let s = Setup::new().await;
    s.hub.throttle(200_000);
    let cancel = CancellationToken::new();
    let (hub, cache) = (s.client(None), s.cache());
    let stop = cancel.clone();
    let watch = |p: &PullProgress| {
        if p.done_bytes > 300_000 {
            stop.cancel();
        }
    };
    let err = pull(&hub, &cache, REPO, &fast(), &cancel, &watch)
        .await
        .unwrap_err();
    assert!(matches!(err, ModelsError::Cancelled), "{err}");
    let partials: Vec<u64> = std::fs::read_dir(cache.blobs(REPO))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".incomplete"))
        .map(|e| e.metadata().unwrap().len())
        .collect();
    assert!(partials.iter().any(|&n| n > 0), "{partials:?}");
    s.hub.throttle(0);
    let model = pull(
        &hub,
        &cache,
        REPO,
        &fast(),
        &CancellationToken::new(),
        &no_progress,
    )
    .await
    .unwrap();
    assert_same_files(model.path.as_ref(), &s.repo_dir(REPO));
    let resumed = FILES[1..4]
        .iter()
        .flat_map(|f| s.hub.file_requests(f))
        .filter(|r| r.range.as_deref().is_some_and(|r| r != "bytes=0-"))
        .count();
    assert!(resumed >= 1, "no file was resumed with a Range request");
}

#[tokio::test]
async fn the_shape_is_read_from_headers_before_download() {
    let s = Setup::new().await;
    let hub = s.client(None);
    let info = hub.repo_info(REPO, "main").await.unwrap();
    let remote = hub.remote_shape(&info).await.unwrap();
    let config =
        serde_json::from_slice(&std::fs::read(fixture().join("config.json")).unwrap()).unwrap();
    let dir = s.repo_dir(REPO);
    let local =
        fathom_fit::ModelShape::new(&config, &fathom_fit::read_local_headers(&dir).unwrap())
            .unwrap();
    assert_eq!(remote, local);
    // Only ranges of the weights were read.
    for f in &FILES[1..4] {
        assert!(s.hub.file_requests(f).iter().all(|r| r.range.is_some()));
    }
}
