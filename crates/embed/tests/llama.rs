//! The query path on llama.cpp against sentence-transformers (tests/fixtures/embedder_reference.json)
//! and against the MLX encoder, on the same weights: the GGUF file is made from the model
//! directory once, and a broken directory is an error that leaves no file behind.

use std::path::{Path, PathBuf};

use fathom_embed::{Embedder, Runtime, SharedEmbedder};

fn model_dir() -> PathBuf {
    std::env::var_os("FATHOM_MINILM")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/fixtures/minilm")
        })
}

/// A model directory of links to the fixture's files, so the conversion writes into a fresh one.
fn linked_copy(to: &Path) {
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "sentence_bert_config.json",
    ] {
        std::os::unix::fs::symlink(model_dir().join(f), to.join(f)).unwrap();
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

fn reference() -> (Vec<String>, Vec<Vec<f32>>) {
    let r: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/fixtures/embedder_reference.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let texts = r["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    let vectors = r["embeddings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect();
    (texts, vectors)
}

#[test]
fn llama_cpp_gives_the_reference_vectors_and_the_mlx_encoders() {
    if !fathom_llama::missing_cpu_features().is_empty() {
        eprintln!("skipped: llama.cpp is not built for this processor");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    linked_copy(dir.path());
    let llama = SharedEmbedder::load_with(dir.path(), Runtime::LlamaCpp).unwrap();
    assert_eq!(llama.dimension(), 384);
    let gguf = dir.path().join("fathom-bert-v1.gguf");
    let made = std::fs::metadata(&gguf).unwrap().modified().unwrap();

    let (texts, theirs) = reference();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    // Batches of mixed lengths, as the indexer sends them.
    let mut ours = Vec::new();
    for batch in refs.chunks(5) {
        ours.extend(llama.embed(batch).unwrap());
    }
    let mlx = Embedder::load(model_dir()).unwrap().embed(&refs).unwrap();
    let (mut worst_reference, mut worst_mlx) = (1.0f32, 1.0f32);
    for (i, v) in ours.iter().enumerate() {
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "unit length: {norm}");
        let (r, m) = (cosine(v, &theirs[i]), cosine(v, &mlx[i]));
        assert!(
            r >= 0.999,
            "text {i} ({:?}): cosine {r} with the reference",
            texts[i]
        );
        assert!(m >= 0.999, "text {i} ({:?}): cosine {m} with MLX", texts[i]);
        worst_reference = worst_reference.min(r);
        worst_mlx = worst_mlx.min(m);
    }
    eprintln!(
        "llama.cpp: lowest cosine with sentence-transformers {worst_reference:.7}, with MLX {worst_mlx:.7}"
    );
    // A text alone gives the vector it had in a batch.
    let alone = llama.embed(&[refs[1]]).unwrap();
    assert!(cosine(&alone[0], &ours[1]) > 0.99999);
    // More texts than one call holds come back whole and in order.
    let many: Vec<String> = (0..150)
        .map(|i| format!("passage number {i} about tides"))
        .collect();
    let many_refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let got = llama.embed(&many_refs).unwrap();
    assert_eq!(got.len(), 150);
    let one = llama.embed(&[many_refs[137]]).unwrap();
    assert!(cosine(&one[0], &got[137]) > 0.99999);
    drop(llama);

    // A second load uses the file made by the first.
    let again = SharedEmbedder::load_with(dir.path(), Runtime::LlamaCpp).unwrap();
    assert_eq!(std::fs::metadata(&gguf).unwrap().modified().unwrap(), made);
    assert!(cosine(&again.embed(&[refs[1]]).unwrap()[0], &ours[1]) > 0.99999);
}

#[test]
fn broken_weights_are_an_error_and_leave_no_converted_file() {
    if !fathom_llama::missing_cpu_features().is_empty() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "tokenizer.json", "sentence_bert_config.json"] {
        std::fs::copy(model_dir().join(f), dir.path().join(f)).unwrap();
    }
    // Cut short, as a download or a copy killed halfway leaves it.
    let whole = std::fs::read(model_dir().join("model.safetensors")).unwrap();
    std::fs::write(
        dir.path().join("model.safetensors"),
        &whole[..whole.len() / 2],
    )
    .unwrap();
    let err = SharedEmbedder::load_with(dir.path(), Runtime::LlamaCpp)
        .err()
        .expect("a truncated file does not load")
        .to_string();
    assert!(err.contains("model.safetensors"), "{err}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("gguf"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // The fallback is MLX, which says the same about the file.
    let err = SharedEmbedder::load_preferred(dir.path())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("model.safetensors"), "{err}");
}

#[test]
fn queries_run_on_eight_bit_matrices_that_rank_as_the_weights_as_trained() {
    if !fathom_llama::missing_cpu_features().is_empty() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    linked_copy(dir.path());
    let e = SharedEmbedder::load_for_queries(dir.path()).unwrap();
    assert_eq!(e.runtime(), Runtime::LlamaCpp);
    // The query encoder's file: the layers' matrices in Q8_0, the rest as trained.
    let types =
        fathom_llama::gguf::tensor_types(&dir.path().join("fathom-bert-q8_0-v1.gguf")).unwrap();
    for (name, ty) in [
        ("blk.0.attn_q.weight", "q8_0"),
        ("blk.5.ffn_down.weight", "q8_0"),
        ("blk.0.attn_q.bias", "f32"),
        ("blk.0.layer_output_norm.weight", "f32"),
        ("token_embd.weight", "f32"),
    ] {
        assert_eq!(types.get(name).map(String::as_str), Some(ty), "{name}");
    }

    let (texts, theirs) = reference();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    // Passages (and API clients) get the weights as trained; queries the 8-bit encoder, close
    // to them but not the same vectors.
    let passages = e.embed(&refs).unwrap();
    let queries = e.embed_queries(&refs).unwrap();
    let mut worst = 1.0f32;
    for i in 0..refs.len() {
        assert!(cosine(&passages[i], &theirs[i]) >= 0.999, "text {i}");
        let c = cosine(&queries[i], &passages[i]);
        assert!(c >= 0.995, "text {i} ({:?}): cosine {c}", refs[i]);
        worst = worst.min(c);
    }
    assert!(worst < 0.99999, "the queries went to the f32 encoder");
    eprintln!("8-bit query encoder: lowest cosine with the f32 one {worst:.5}");

    // Questions about the reference texts find the same passages, in the same order, either way.
    for (question, answer) in [
        ("what makes the sea rise and fall", 1),
        ("how do bees tell each other where flowers are", 2),
        ("the bill from the plumber", 4),
        ("how glaciers and rivers shape valleys", 11),
        ("a python method returning a linear layer", 9),
    ] {
        let rank = |q: &[f32]| {
            let mut order: Vec<usize> = (0..passages.len()).collect();
            let score = |i: usize| -> f32 { passages[i].iter().zip(q).map(|(a, b)| a * b).sum() };
            order.sort_by(|&a, &b| score(b).total_cmp(&score(a)));
            order.truncate(3);
            order
        };
        let quick = rank(&e.embed_queries(&[question]).unwrap()[0]);
        let exact = rank(&e.embed(&[question]).unwrap()[0]);
        assert_eq!(quick[0], answer, "{question:?}: {quick:?}");
        assert_eq!(quick, exact, "{question:?}");
    }
}

#[test]
fn without_the_eight_bit_file_queries_stay_on_llama_cpp_with_the_weights_as_trained() {
    if !fathom_llama::missing_cpu_features().is_empty() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    linked_copy(dir.path());
    // The 8-bit file cannot be written: a folder (not empty) holds its name.
    let blocked = dir.path().join("fathom-bert-q8_0-v1.gguf");
    std::fs::create_dir(&blocked).unwrap();
    std::fs::write(blocked.join("keep"), b"x").unwrap();
    let e = SharedEmbedder::load_for_queries(dir.path()).unwrap();
    assert_eq!(e.runtime(), Runtime::LlamaCpp, "fell back to MLX");
    assert!(
        blocked.join("keep").is_file(),
        "the folder in the way was touched"
    );
    let (texts, theirs) = reference();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let queries = e.embed_queries(&refs).unwrap();
    for i in 0..refs.len() {
        // The f32 weights (on fewer threads): sentence-transformers' vectors.
        let c = cosine(&queries[i], &theirs[i]);
        assert!(c >= 0.999, "text {i} ({:?}): cosine {c}", refs[i]);
    }
}
