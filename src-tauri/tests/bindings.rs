//! The UI's TypeScript types are generated from the Rust types (ts-rs) into `ui/src/bindings/`.
//! This test fails when the committed files differ from what the Rust types generate; run it with
//! `FATHOM_UPDATE_BINDINGS=1` to rewrite them.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use fathom_app::app::SettingsView;
use fathom_app::app::StreamId;
use fathom_app::commands::info::AppInfo;
use fathom_app::CommandError;
use fathom_library::{AddReport, ScanProgress};
use ts_rs::{Config, TS};

fn generate(dir: &Path) {
    // Counts and sizes stay far below 2^53: plain numbers are simpler in the UI than bigint.
    let cfg = Config::new().with_out_dir(dir).with_large_int("number");
    AppInfo::export_all(&cfg).unwrap();
    fathom_app::app::updater::UpdateCheck::export_all(&cfg).unwrap();
    fathom_app::app::updater::UpdateProgress::export_all(&cfg).unwrap();
    SettingsView::export_all(&cfg).unwrap();
    AddReport::export_all(&cfg).unwrap();
    ScanProgress::export_all(&cfg).unwrap();
    CommandError::export_all(&cfg).unwrap();
    StreamId::export_all(&cfg).unwrap();
    fathom_models::ModelRow::export_all(&cfg).unwrap();
    fathom_models::FitCheck::export_all(&cfg).unwrap();
    fathom_models::PullProgress::export_all(&cfg).unwrap();
    fathom_fit::Memory::export_all(&cfg).unwrap();
    fathom_index::Hit::export_all(&cfg).unwrap();
    fathom_index::IndexProgress::export_all(&cfg).unwrap();
    fathom_index::IndexReport::export_all(&cfg).unwrap();
    fathom_index::indexer::FolderStatus::export_all(&cfg).unwrap();
    fathom_chat::Conversation::export_all(&cfg).unwrap();
    fathom_chat::store::ConversationSummary::export_all(&cfg).unwrap();
    fathom_chat::session::ReplyEvent::export_all(&cfg).unwrap();
    fathom_core::ReplyAction::export_all(&cfg).unwrap();
    fathom_core::SavedRun::export_all(&cfg).unwrap();
    fathom_agent::AgentEvent::export_all(&cfg).unwrap();
    fathom_chat::store::RunSummary::export_all(&cfg).unwrap();
    fathom_semantic::SemanticStatus::export_all(&cfg).unwrap();
}

fn read_tree(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut files = BTreeMap::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries {
            let path = entry.unwrap().path();
            files.insert(
                path.strip_prefix(dir).unwrap().to_path_buf(),
                fs::read_to_string(&path).unwrap(),
            );
        }
    }
    files
}

#[test]
fn typescript_bindings_are_current() {
    let committed_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings");
    let fresh_dir = tempfile::tempdir().unwrap();
    generate(fresh_dir.path());
    let fresh = read_tree(fresh_dir.path());
    if std::env::var_os("FATHOM_UPDATE_BINDINGS").is_some() {
        let _ = fs::remove_dir_all(&committed_dir);
        fs::create_dir_all(&committed_dir).unwrap();
        for (name, text) in &fresh {
            fs::write(committed_dir.join(name), text).unwrap();
        }
    }
    let committed = read_tree(&committed_dir);
    let stale: Vec<_> = fresh
        .keys()
        .chain(committed.keys())
        .filter(|name| fresh.get(*name) != committed.get(*name))
        .collect();
    assert!(
        stale.is_empty(),
        "ui/src/bindings is stale ({stale:?}); regenerate with \
         FATHOM_UPDATE_BINDINGS=1 cargo test -p fathom-app --test bindings"
    );
}
