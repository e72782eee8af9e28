//! Context-1 (gpt-oss) running in-process on MLX through mlx-rs.
//!
//! [`Model`] loads a checkpoint ([`checkpoint`], [`config`]) and runs the forward pass
//! ([`model`], which reads top to bottom like mlx-lm's `gpt_oss.py`) over per-layer
//! [`cache::KvCache`]s. [`quant`] wraps MLX's quantized kernels for both modes the checkpoints
//! use: `affine` (what the safe mlx-rs API offers) and `mxfp4` (through the raw mlx-sys functions).

pub mod cache;
pub mod checkpoint;
pub mod config;
pub mod model;
pub mod quant;

use std::path::PathBuf;

pub use mlx_rs::Array;
pub use model::Model;

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
    #[error("MLX: {0}")]
    Mlx(#[from] mlx_rs::error::Exception),
}
