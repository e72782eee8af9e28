//! The MLX embedder against sentence-transformers on the same weights and texts
//! (tests/fixtures/embedder_reference.json, written by tests/fixtures/embedder_reference.py).

use std::path::PathBuf;

use fathom_embed::Embedder;

fn model_dir() -> PathBuf {
    std::env::var_os("FATHOM_MINILM")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/fixtures/minilm")
        })
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

#[test]
fn embeddings_match_sentence_transformers() {
    let reference: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/fixtures/embedder_reference.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let embedder = Embedder::load(model_dir()).expect("run scripts/fixtures.sh");
    assert_eq!(embedder.dimension(), 384);
    assert_eq!(
        embedder.max_tokens,
        reference["max_seq_length"].as_u64().unwrap() as usize
    );
    let texts: Vec<&str> = reference["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    // Batches of mixed lengths, as the indexer sends them: padding must not change a text's vector.
    let mut got = Vec::new();
    for batch in texts.chunks(5) {
        got.extend(embedder.embed(batch).unwrap());
    }
    let mut worst = 1.0f32;
    for (i, (ours, theirs)) in got
        .iter()
        .zip(reference["embeddings"].as_array().unwrap())
        .enumerate()
    {
        let theirs: Vec<f32> = theirs
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        let c = cosine(ours, &theirs);
        assert!(c >= 0.999, "text {i} ({:?}): cosine {c}", texts[i]);
        worst = worst.min(c);
        let norm: f32 = ours.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "unit length: {norm}");
    }
    eprintln!("lowest cosine with sentence-transformers: {worst:.7}");
    // One text alone gives the same vector as in a padded batch.
    let alone = embedder.embed(&[texts[1]]).unwrap();
    assert!(cosine(&alone[0], &got[1]) > 0.99999);
    // Related texts are closer than unrelated ones.
    let v = embedder
        .embed(&[
            "tides and the moon",
            "lunar gravity pulls the sea",
            "a recipe for bread",
        ])
        .unwrap();
    assert!(cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]));
}

#[test]
fn a_broken_model_directory_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = Embedder::load(dir.path()).err().unwrap().to_string();
    assert!(err.contains("config.json"), "{err}");
    std::fs::copy(
        model_dir().join("config.json"),
        dir.path().join("config.json"),
    )
    .unwrap();
    std::fs::write(dir.path().join("model.safetensors"), b"garbage").unwrap();
    let err = Embedder::load(dir.path()).err().unwrap().to_string();
    assert!(err.contains("model.safetensors"), "{err}");
}
