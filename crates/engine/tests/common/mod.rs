//! What the engine's integration tests share: where the fixtures are.

use std::path::PathBuf;

/// The tiny checkpoints written by `scripts/fixtures.sh` (or `FATHOM_FIXTURES`).
pub fn fixtures() -> PathBuf {
    std::env::var_os("FATHOM_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/fixtures/gpt-oss")
        })
}
