//! Context-1 (gpt-oss) running in-process on MLX through mlx-rs.
//!
//! [`quant`] wraps MLX's quantized kernels for both modes the checkpoints use: `affine` (what the
//! safe mlx-rs API offers) and `mxfp4` (reached through the raw mlx-sys functions).

pub mod quant;

pub use mlx_rs::Array;
