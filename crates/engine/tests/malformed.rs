//! A malformed checkpoint gets an error that names the file and the tensor — never a panic, an
//! abort or garbage. Each case starts from a good tiny checkpoint and breaks one thing.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use fathom_engine::{Array, EngineError, Model};

mod common;

fn good() -> PathBuf {
    let dir = common::fixtures().join("mxfp4");
    assert!(
        dir.join("model.safetensors").exists(),
        "run `bash scripts/fixtures.sh` first"
    );
    dir
}

/// A copy of the good checkpoint whose tensors went through `edit`.
fn broken(edit: impl FnOnce(&mut HashMap<String, Array>)) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    fs::copy(good().join("config.json"), tmp.path().join("config.json")).unwrap();
    let mut tensors = Array::load_safetensors(good().join("model.safetensors")).unwrap();
    edit(&mut tensors);
    Array::save_safetensors(tensors, None, tmp.path().join("model.safetensors")).unwrap();
    tmp
}

fn load_err(dir: &Path) -> String {
    match Model::load(dir) {
        Ok(_) => panic!("{} loaded although it is broken", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_good_checkpoint_loads() {
    let copy = broken(|_| {});
    Model::load(copy.path()).unwrap();
}

#[test]
fn a_missing_tensor_is_named() {
    let dir = broken(|t| {
        t.remove("model.layers.2.self_attn.sinks");
    });
    let err = load_err(dir.path());
    assert!(
        err.contains("model.layers.2.self_attn.sinks") && err.contains("missing"),
        "{err}"
    );
}

#[test]
fn an_extra_tensor_is_named_with_its_file() {
    let dir = broken(|t| {
        t.insert(
            "model.layers.0.mystery.weight".into(),
            Array::from_slice(&[1.0f32], &[1]),
        );
    });
    let err = load_err(dir.path());
    assert!(
        err.contains("model.layers.0.mystery.weight") && err.contains("model.safetensors"),
        "{err}"
    );
}

#[test]
fn a_wrong_shape_is_named() {
    let dir = broken(|t| {
        t.insert(
            "model.layers.1.self_attn.q_proj.bias".into(),
            Array::from_slice(&[0.0f32; 5], &[5]),
        );
    });
    let err = load_err(dir.path());
    assert!(
        err.contains("q_proj.bias") && err.contains("[5]") && err.contains("[96]"),
        "{err}"
    );
}

#[test]
fn a_wrong_dtype_is_named() {
    let dir = broken(|t| {
        t.insert(
            "model.norm.weight".into(),
            Array::from_slice(&[1i32; 64], &[64]),
        );
    });
    let err = load_err(dir.path());
    assert!(
        err.contains("model.norm.weight") && err.contains("dtype"),
        "{err}"
    );
}

#[test]
fn packed_weights_that_disagree_with_their_scales_are_refused() {
    let dir = broken(|t| {
        t.insert(
            "lm_head.scales".into(),
            Array::from_slice(&[127u8; 320 * 3], &[320, 3]),
        );
    });
    let err = load_err(dir.path());
    assert!(err.contains("lm_head.scales"), "{err}");
}

#[test]
fn a_truncated_file_is_named() {
    let dir = broken(|_| {});
    let file = dir.path().join("model.safetensors");
    let len = fs::metadata(&file).unwrap().len();
    let f = fs::OpenOptions::new().write(true).open(&file).unwrap();
    f.set_len(len - 100).unwrap();
    let err = load_err(dir.path());
    assert!(
        err.contains("model.safetensors") && err.contains("truncated"),
        "{err}"
    );
    // A file cut inside its header too.
    f.set_len(20).unwrap();
    assert!(load_err(dir.path()).contains("model.safetensors"));
}

#[test]
fn bad_json_and_unsupported_models_are_explained() {
    let dir = broken(|_| {});
    let config = dir.path().join("config.json");
    fs::write(&config, "{\"model_type\": ").unwrap();
    let err = load_err(dir.path());
    assert!(
        err.contains("config.json") && err.contains("not a valid config"),
        "{err}"
    );

    let good_config = fs::read_to_string(good().join("config.json")).unwrap();
    fs::write(&config, good_config.replace("\"gpt_oss\"", "\"llama\"")).unwrap();
    let err = load_err(dir.path());
    assert!(err.contains("\"llama\" is not supported"), "{err}");

    fs::write(
        &config,
        good_config.replace("\"mode\": \"mxfp4\"", "\"mode\": \"nf4\""),
    )
    .unwrap();
    assert!(load_err(dir.path()).contains("unsupported quantization mode"));
}

#[test]
fn a_directory_without_weights_is_explained() {
    let tmp = tempfile::tempdir().unwrap();
    fs::copy(good().join("config.json"), tmp.path().join("config.json")).unwrap();
    assert!(load_err(tmp.path()).contains("no model*.safetensors"));
    let err = Model::load(tmp.path().join("nowhere")).err().unwrap();
    assert!(matches!(err, EngineError::Checkpoint { .. }));
}
