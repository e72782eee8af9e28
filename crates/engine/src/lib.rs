//! Context-1 (gpt-oss) running in-process, on MLX through mlx-rs or on llama.cpp.
//!
//! [`backend`] is the seam between generation and what runs the model: [`PromptCache`] (sampling,
//! stop tokens, the kept KV cache and its restore marks, the figures) drives either backend, and
//! [`Engine`] runs it on its own thread for chat, Ask and the API. On the MLX side, [`Model`] loads a checkpoint ([`checkpoint`], [`config`]) and runs the forward pass
//! ([`model`], which reads top to bottom like mlx-lm's `gpt_oss.py`) over per-layer
//! [`cache::KvCache`]s. [`quant`] wraps MLX's quantized kernels for both modes the checkpoints
//! use: `affine` (what the safe mlx-rs API offers) and `mxfp4` (through the raw mlx-sys functions).

pub mod backend;
pub mod cache;
pub mod checkpoint;
pub mod config;
pub mod convert;
pub mod generate;
pub mod llamacpp;
pub mod model;
pub mod quant;
pub mod sample;
pub mod stream;
pub mod tokenizer;

use std::path::PathBuf;

/// MLX's device set-up, shared with the embedder (its own crate so both can start MLX alike).
pub use fathom_device as device;

pub use backend::{Backend, BackendKind, Mlx};
pub use generate::{FinishReason, GenerateOptions, PromptCache, Stats};
pub use mlx_rs::Array;
pub use model::Model;
pub use sample::SamplingParams;
pub use stream::{Engine, LoadOptions, StreamEvent, TokenStream};
pub use tokenizer::{Detokenizer, Tokenizer};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{}: {message}", file.display())]
    Checkpoint { file: PathBuf, message: String },
    #[error("{}: tensor {tensor}: {message}", file.display())]
    Tensor {
        file: PathBuf,
        tensor: String,
        message: String,
    },
    #[error(transparent)]
    Quant(#[from] quant::QuantError),
    /// The request itself is wrong (bad prompt, bad parameters).
    #[error("{0}")]
    Input(String),
    #[error("MLX: {0}")]
    Mlx(#[from] mlx_rs::error::Exception),
    /// MLX cannot start on this machine (Metal unavailable, its kernels missing).
    #[error(transparent)]
    Device(#[from] device::DeviceError),
}

impl From<fathom_llama::LlamaError> for EngineError {
    fn from(e: fathom_llama::LlamaError) -> Self {
        match e {
            fathom_llama::LlamaError::File { file, message } => EngineError::Checkpoint {
                file: file.into(),
                message,
            },
            e => EngineError::Input(e.to_string()),
        }
    }
}
