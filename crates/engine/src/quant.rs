//! Quantized weights: MLX's `affine` and `mxfp4` modes behind one safe type.
//!
//! mlx-rs's safe `quantize`/`quantized_matmul`/`gather_qmm` hard-code `mode = "affine"`; gpt-oss
//! experts are MXFP4, so this module calls the raw mlx-sys functions with the mode spelled out,
//! through mlx-rs's own error handling. Arguments are checked here first so that a malformed
//! checkpoint gets a clear error rather than whatever the kernel says.

use std::ffi::CStr;

use mlx_rs::error::Exception;
use mlx_rs::utils::{array_from_raw_op, arrays_from_raw_op};
use mlx_rs::{Array, Dtype, Stream};

#[derive(Debug, thiserror::Error)]
pub enum QuantError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Mlx(#[from] Exception),
}

pub type Result<T> = std::result::Result<T, QuantError>;

/// How a weight was quantized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `bits`-bit integers with a scale and a bias per group.
    Affine,
    /// OCP microscaling FP4 (E2M1 codes, one E8M0 scale per 32 values, no bias).
    Mxfp4,
}

impl Mode {
    fn c_name(self) -> &'static CStr {
        match self {
            Mode::Affine => c"affine",
            Mode::Mxfp4 => c"mxfp4",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "affine" => Some(Mode::Affine),
            "mxfp4" => Some(Mode::Mxfp4),
            _ => None,
        }
    }
}

/// Mode, group size and bit width, as in a checkpoint's `quantization` config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuantSpec {
    pub mode: Mode,
    pub group_size: i32,
    pub bits: i32,
}

impl QuantSpec {
    pub const MXFP4: QuantSpec = QuantSpec {
        mode: Mode::Mxfp4,
        group_size: 32,
        bits: 4,
    };

    pub fn affine(group_size: i32, bits: i32) -> Result<Self> {
        let spec = QuantSpec {
            mode: Mode::Affine,
            group_size,
            bits,
        };
        spec.validate()?;
        Ok(spec)
    }

    pub fn validate(&self) -> Result<()> {
        match self.mode {
            Mode::Mxfp4 if (self.group_size, self.bits) != (32, 4) => {
                Err(QuantError::Invalid(format!(
                    "mxfp4 needs group size 32 and 4 bits, not {} and {}",
                    self.group_size, self.bits
                )))
            }
            Mode::Affine if ![32, 64, 128].contains(&self.group_size) => Err(QuantError::Invalid(
                format!("affine group size {} is not 32, 64 or 128", self.group_size),
            )),
            Mode::Affine if !(2..=8).contains(&self.bits) => Err(QuantError::Invalid(format!(
                "affine quantization with {} bits is not supported (2 to 8)",
                self.bits
            ))),
            _ => Ok(()),
        }
    }

    /// Columns of the packed uint32 weight for `columns` real columns.
    pub fn packed_columns(&self, columns: i32) -> i32 {
        columns * self.bits / 32
    }

    fn group(&self) -> mlx_sys::mlx_optional_int {
        mlx_sys::mlx_optional_int {
            value: self.group_size,
            has_value: true,
        }
    }

    fn bit_width(&self) -> mlx_sys::mlx_optional_int {
        mlx_sys::mlx_optional_int {
            value: self.bits,
            has_value: true,
        }
    }
}

/// A quantized matrix (or stack of matrices, one per expert): `[..., out, in]` before packing.
#[derive(Debug, Clone)]
pub struct Quantized {
    /// Packed codes, uint32, `[..., out, in * bits / 32]`.
    pub weight: Array,
    /// `[..., out, in / group_size]`: float for affine, uint8 (E8M0) for mxfp4.
    pub scales: Array,
    /// Affine only: `[..., out, in / group_size]`.
    pub biases: Option<Array>,
    pub spec: QuantSpec,
}

fn null_array() -> Array {
    // SAFETY: mlx_array_new returns an empty handle that Array owns and frees.
    unsafe { Array::from_ptr(mlx_sys::mlx_array_new()) }
}

impl Quantized {
    /// Checks that the parts agree with each other and with the spec.
    pub fn new(
        weight: Array,
        scales: Array,
        biases: Option<Array>,
        spec: QuantSpec,
    ) -> Result<Self> {
        spec.validate()?;
        let q = Quantized {
            weight,
            scales,
            biases,
            spec,
        };
        q.check()?;
        Ok(q)
    }

    fn check(&self) -> Result<()> {
        let bad = |m: String| Err(QuantError::Invalid(m));
        if self.weight.dtype() != Dtype::Uint32 {
            return bad(format!(
                "packed weight must be uint32, not {:?}",
                self.weight.dtype()
            ));
        }
        let (w, s) = (self.weight.shape(), self.scales.shape());
        if w.len() < 2 || w.len() != s.len() || w[..w.len() - 1] != s[..s.len() - 1] {
            return bad(format!("weight {w:?} and scales {s:?} do not match"));
        }
        let columns = w[w.len() - 1] * 32 / self.spec.bits;
        if columns % self.spec.group_size != 0 || s[s.len() - 1] != columns / self.spec.group_size {
            return bad(format!(
                "scales {s:?} do not fit weight {w:?} at group size {}",
                self.spec.group_size
            ));
        }
        match (self.spec.mode, &self.biases) {
            (Mode::Mxfp4, Some(_)) => return bad("mxfp4 weights carry no biases".into()),
            (Mode::Mxfp4, None) if self.scales.dtype() != Dtype::Uint8 => {
                return bad(format!(
                    "mxfp4 scales must be uint8, not {:?}",
                    self.scales.dtype()
                ))
            }
            (Mode::Affine, None) => return bad("affine weights need biases".into()),
            (Mode::Affine, Some(b)) if b.shape() != s => {
                return bad(format!("biases {:?} do not match scales {s:?}", b.shape()))
            }
            _ => {}
        }
        Ok(())
    }

    /// Columns of the matrix before packing (the input width of `x @ Wᵀ`).
    pub fn in_features(&self) -> i32 {
        self.weight.shape()[self.weight.ndim() - 1] * 32 / self.spec.bits
    }

    /// Rows of the matrix (the output width of `x @ Wᵀ`).
    pub fn out_features(&self) -> i32 {
        self.weight.shape()[self.weight.ndim() - 2]
    }

    fn check_input(&self, x: &Array) -> Result<()> {
        let width = x.shape().last().copied().unwrap_or(0);
        if width != self.in_features() {
            return Err(QuantError::Invalid(format!(
                "input width {width} does not match the weight's {}",
                self.in_features()
            )));
        }
        Ok(())
    }

    /// The weight as float32, `[..., out, in]`.
    pub fn dequantize(&self) -> Result<Array> {
        let stream = Stream::thread_local_or_default();
        let none = null_array();
        let no_biases = null_array();
        // Without a dtype, mxfp4 (whose scales are bytes) would come back as bfloat16.
        let dtype = mlx_sys::mlx_optional_dtype {
            value: mlx_sys::mlx_dtype__MLX_FLOAT32,
            has_value: true,
        };
        Ok(array_from_raw_op(|res| unsafe {
            mlx_sys::mlx_dequantize(
                res,
                self.weight.as_ptr(),
                self.scales.as_ptr(),
                self.biases
                    .as_ref()
                    .map_or(no_biases.as_ptr(), |b| b.as_ptr()),
                self.spec.group(),
                self.spec.bit_width(),
                self.spec.mode.c_name().as_ptr(),
                none.as_ptr(),
                dtype,
                stream.as_ptr(),
            )
        })?)
    }

    /// `x @ Wᵀ` for a single matrix.
    pub fn matmul(&self, x: &Array) -> Result<Array> {
        self.check_input(x)?;
        let stream = Stream::thread_local_or_default();
        // The empty handle must outlive the call.
        let no_biases = null_array();
        let biases = self.biases.as_ref().unwrap_or(&no_biases);
        Ok(array_from_raw_op(|res| unsafe {
            mlx_sys::mlx_quantized_matmul(
                res,
                x.as_ptr(),
                self.weight.as_ptr(),
                self.scales.as_ptr(),
                biases.as_ptr(),
                true,
                self.spec.group(),
                self.spec.bit_width(),
                self.spec.mode.c_name().as_ptr(),
                stream.as_ptr(),
            )
        })?)
    }

    /// `x @ W[rhs_indices]ᵀ` over a stack of expert matrices `[experts, out, in]`: for each
    /// index, the matrix it names. `sorted` promises the indices are in ascending order (faster).
    pub fn gather_matmul(&self, x: &Array, rhs_indices: &Array, sorted: bool) -> Result<Array> {
        self.check_input(x)?;
        if self.weight.ndim() != 3 {
            return Err(QuantError::Invalid(format!(
                "gathered matmul needs a stack of matrices, not shape {:?}",
                self.weight.shape()
            )));
        }
        let stream = Stream::thread_local_or_default();
        let no_biases = null_array();
        let biases = self.biases.as_ref().unwrap_or(&no_biases);
        let no_lhs = null_array();
        Ok(array_from_raw_op(|res| unsafe {
            mlx_sys::mlx_gather_qmm(
                res,
                x.as_ptr(),
                self.weight.as_ptr(),
                self.scales.as_ptr(),
                biases.as_ptr(),
                no_lhs.as_ptr(),
                rhs_indices.as_ptr(),
                true,
                self.spec.group(),
                self.spec.bit_width(),
                self.spec.mode.c_name().as_ptr(),
                sorted,
                stream.as_ptr(),
            )
        })?)
    }
}

/// Quantizes `w` (`[..., out, in]`, `in` a multiple of the group size).
pub fn quantize(w: &Array, spec: QuantSpec) -> Result<Quantized> {
    spec.validate()?;
    let columns = w.shape().last().copied().unwrap_or(0);
    if w.ndim() < 2 || columns % spec.group_size != 0 {
        return Err(QuantError::Invalid(format!(
            "cannot quantize shape {:?} in groups of {}",
            w.shape(),
            spec.group_size
        )));
    }
    let stream = Stream::thread_local_or_default();
    let no_scale = null_array();
    let mut parts = arrays_from_raw_op(|res| unsafe {
        mlx_sys::mlx_quantize(
            res,
            w.as_ptr(),
            spec.group(),
            spec.bit_width(),
            spec.mode.c_name().as_ptr(),
            no_scale.as_ptr(),
            stream.as_ptr(),
        )
    })?
    .into_iter();
    let (Some(weight), Some(scales)) = (parts.next(), parts.next()) else {
        return Err(QuantError::Invalid(
            "quantize returned too few arrays".into(),
        ));
    };
    Quantized::new(weight, scales, parts.next(), spec)
}

#[cfg(test)]
#[path = "quant_tests.rs"]
mod tests;
