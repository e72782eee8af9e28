//! The models Fathom offers by name. Anything else is a Hugging Face repo id the user types,
//! checked to be a gpt-oss checkpoint before a byte of weights is fetched.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum ModelKind {
    /// MLX MXFP4: loads as downloaded.
    Mlx,
    /// Dense BF16: after download the engine converts it to MXFP4 once.
    DenseNeedsConversion,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CatalogueEntry {
    pub repo: String,
    pub name: String,
    pub description: String,
    pub kind: ModelKind,
    pub default: bool,
}

pub fn catalogue() -> Vec<CatalogueEntry> {
    let entry = |repo: &str, name: &str, description: &str, kind, default| CatalogueEntry {
        repo: repo.into(),
        name: name.into(),
        description: description.into(),
        kind,
        default,
    };
    vec![
        entry(
            "foadmk/context-1-MLX-MXFP4",
            "Context-1 (MLX MXFP4)",
            "Chroma's agentic-search model, quantized for MLX. About 11 GB. Recommended.",
            ModelKind::Mlx,
            true,
        ),
        entry(
            "chromadb/context-1",
            "Context-1 (official, BF16)",
            "Chroma's original dense weights, about 41 GB; converted to MXFP4 on this machine after download (needs room for both).",
            ModelKind::DenseNeedsConversion,
            false,
        ),
        entry(
            "mlx-community/gpt-oss-20b-MXFP4-Q8",
            "gpt-oss-20b (MLX)",
            "OpenAI's base model that Context-1 was tuned from, for comparison. About 12 GB.",
            ModelKind::Mlx,
            false,
        ),
    ]
}
