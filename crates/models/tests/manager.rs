//! The Models page's logic: downloads that survive a restart, discard, delete, dense conversion.

mod common;

use std::path::Path;

use common::*;
use fathom_fakehub::FaultKind;
use fathom_fit::{Backend, Memory, Runtime, Verdict};
use fathom_models::{ModelManager, ModelStore, ModelsError, PullProgress};
use tokio_util::sync::CancellationToken;

fn manager(s: &Setup, data: &Path) -> ModelManager {
    ModelManager::new(ModelStore::new(s.cache(), data), data)
}

fn no_convert(_: &Path, _: &Path) -> Result<(), String> {
    panic!("an MLX checkpoint is not converted")
}

#[tokio::test]
async fn a_paused_download_is_listed_after_a_restart_and_finishes_later() {
    let s = Setup::new().await;
    let data = tempfile::tempdir().unwrap();
    let hub = s.client(None);
    s.hub.throttle(200_000);
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    let watch = |p: &PullProgress| {
        if p.done_bytes > 250_000 {
            stop.cancel();
        }
    };
    let m = manager(&s, data.path());
    let err = m
        .install(&hub, REPO, &fast(), &cancel, &watch, no_convert)
        .await
        .unwrap_err();
    assert!(matches!(err, ModelsError::Cancelled));
    drop(m);

    // "Restart": a new manager over the same directories.
    let m = manager(&s, data.path());
    let pending = m.pending();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].repo, REPO);
    assert!(
        pending[0].done_bytes > 250_000 && pending[0].done_bytes < pending[0].total_bytes,
        "{pending:?}"
    );
    assert_eq!(pending[0].error, None);
    let rows = m.rows(None);
    let row = rows.iter().find(|r| r.repo == REPO).unwrap();
    assert!(!row.in_catalogue && row.installed.is_none() && row.pending.is_some());

    s.hub.throttle(0);
    let model = m
        .install(
            &hub,
            REPO,
            &fast(),
            &CancellationToken::new(),
            &|_| {},
            no_convert,
        )
        .await
        .unwrap();
    assert_same_files(Path::new(&model.path), &s.repo_dir(REPO));
    assert!(m.pending().is_empty());
    let rows = m.rows(Some(REPO));
    let row = rows.iter().find(|r| r.repo == REPO).unwrap();
    assert!(row.active && row.installed.is_some() && row.pending.is_none());
    // The catalogue leads the list.
    assert_eq!(rows[0].repo, "foadmk/context-1-MLX-MXFP4");
    assert!(rows[0].default);
}

#[tokio::test]
async fn a_failed_download_says_why_and_discard_removes_its_partial_files() {
    let s = Setup::new().await;
    let data = tempfile::tempdir().unwrap();
    let hub = s.client(None);
    s.hub.inject(FILES[1], FaultKind::DropAfter(40_000), 1);
    s.hub.inject(FILES[1], FaultKind::Status(500), 100);
    let m = manager(&s, data.path());
    let options = fathom_models::PullOptions {
        max_attempts: 2,
        ..fast()
    };
    let err = m
        .install(
            &hub,
            REPO,
            &options,
            &CancellationToken::new(),
            &|_| {},
            no_convert,
        )
        .await
        .unwrap_err();
    let pending = m.pending();
    assert_eq!(pending[0].error.as_deref(), Some(err.to_string().as_str()));
    assert!(s.cache().blobs(REPO).read_dir().unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with(".incomplete")));
    m.discard(REPO).unwrap();
    assert!(m.pending().is_empty());
    assert!(!s.cache().repo_dir(REPO).exists());
}

#[tokio::test]
async fn delete_frees_the_model_and_fit_reads_installed_files() {
    let s = Setup::new().await;
    let data = tempfile::tempdir().unwrap();
    let hub = s.client(None);
    let m = manager(&s, data.path());
    let runtime = Runtime::measured(Backend::Cpu);
    let remote = m
        .fit(&hub, REPO, "main", &runtime, &Memory::given(1 << 40), 4096)
        .await
        .unwrap();
    let total: u64 = FILES
        .iter()
        .map(|f| std::fs::metadata(s.repo_dir(REPO).join(f)).unwrap().len())
        .sum();
    assert_eq!(remote.download_bytes, total);
    assert_eq!(remote.fit.verdict, Verdict::Fits);
    m.install(
        &hub,
        REPO,
        &fast(),
        &CancellationToken::new(),
        &|_| {},
        no_convert,
    )
    .await
    .unwrap();
    let before = s.hub.log().len();
    let local = m
        .fit(&hub, REPO, "main", &runtime, &Memory::given(1000), 4096)
        .await
        .unwrap();
    assert_eq!(
        s.hub.log().len(),
        before,
        "an installed model is checked offline"
    );
    assert_eq!(local.download_bytes, 0);
    assert_eq!(local.fit.verdict, Verdict::DoesNotFit);
    assert_eq!(
        local.fit.requested.weights_bytes,
        remote.fit.requested.weights_bytes
    );
    let freed = m.delete(REPO).unwrap();
    assert_eq!(freed, total);
    assert!(m.store.installed().is_empty());
}

#[tokio::test]
async fn a_dense_checkpoint_is_converted_once_after_download() {
    let s = Setup::new().await;
    let dense = "chromadb/context-1";
    let dir = s.repo_dir(dense);
    std::fs::create_dir_all(&dir).unwrap();
    let src = fixture().join("../context1-dense");
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    let data = tempfile::tempdir().unwrap();
    let m = manager(&s, data.path());
    let hub = s.client(None);
    let check = m
        .fit(
            &hub,
            dense,
            "main",
            &Runtime::measured(Backend::Cpu),
            &Memory::given(1 << 40),
            4096,
        )
        .await
        .unwrap();
    assert!(
        check.disk_bytes > check.download_bytes,
        "room for the converted copy too"
    );
    let calls = std::sync::Mutex::new(0);
    let convert = |from: &Path, to: &Path| {
        *calls.lock().unwrap() += 1;
        // Stands in for the engine's converter: a runnable directory at `to`.
        std::fs::create_dir_all(to).unwrap();
        for f in ["config.json", "model.safetensors", "tokenizer.json"] {
            std::fs::copy(from.join(f), to.join(f)).map_err(|e| e.to_string())?;
        }
        Ok(())
    };
    let model = m
        .install(
            &hub,
            dense,
            &fast(),
            &CancellationToken::new(),
            &|_| {},
            convert,
        )
        .await
        .unwrap();
    assert_eq!(*calls.lock().unwrap(), 1);
    assert_eq!(Path::new(&model.path), m.store.converted_dir(dense));
    assert_eq!(model.repo, dense);
    // Listed once, as the converted copy.
    assert_eq!(
        m.store
            .installed()
            .iter()
            .filter(|i| i.repo == dense)
            .count(),
        1
    );
}

#[tokio::test]
async fn models_in_lm_studio_and_other_hugging_face_tools_are_found_without_a_download() {
    let s = Setup::new().await;
    let data = tempfile::tempdir().unwrap();
    let lmstudio = tempfile::tempdir().unwrap();
    let dir = lmstudio.path().join("lmstudio-community/gpt-oss-20b-MLX");
    std::fs::create_dir_all(&dir).unwrap();
    for f in FILES {
        std::fs::copy(fixture().join(f), dir.join(f)).unwrap();
    }
    // A folder that is not a complete checkpoint is not offered.
    std::fs::create_dir_all(lmstudio.path().join("someone/half")).unwrap();
    std::fs::copy(
        fixture().join("config.json"),
        lmstudio.path().join("someone/half/config.json"),
    )
    .unwrap();
    let mut store = ModelStore::new(s.cache(), data.path());
    store.external_roots = vec![lmstudio.path().to_path_buf()];
    let m = ModelManager::new(store, data.path());
    let found = m.store.find("lmstudio-community/gpt-oss-20b-MLX").unwrap();
    assert_eq!(Path::new(&found.path), dir);
    assert!(m.store.find("someone/half").is_none());
    let rows = m.rows(None);
    assert!(rows
        .iter()
        .any(|r| r.repo == "lmstudio-community/gpt-oss-20b-MLX" && r.installed.is_some()));

    // A snapshot written by huggingface_hub (blobs + relative links + refs/main) is found as is.
    let cache = s.cache();
    let commit = "0123456789abcdef0123456789abcdef01234567";
    for f in FILES {
        let bytes = std::fs::read(fixture().join(f)).unwrap();
        let blob = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
        std::fs::create_dir_all(cache.blobs("mlx-community/gpt-oss-20b-MXFP4-Q8")).unwrap();
        std::fs::write(
            cache
                .blobs("mlx-community/gpt-oss-20b-MXFP4-Q8")
                .join(&blob),
            bytes,
        )
        .unwrap();
        cache
            .link("mlx-community/gpt-oss-20b-MXFP4-Q8", commit, f, &blob)
            .unwrap();
    }
    cache
        .write_ref("mlx-community/gpt-oss-20b-MXFP4-Q8", "main", commit)
        .unwrap();
    let row = m
        .rows(None)
        .into_iter()
        .find(|r| r.repo == "mlx-community/gpt-oss-20b-MXFP4-Q8")
        .unwrap();
    assert!(row.in_catalogue);
    assert_eq!(row.installed.unwrap().commit, commit);
    assert!(s.hub.log().is_empty(), "nothing was fetched");
}
