//! Writing GGUF files through ggml's own GGUF code: it lays out the header, the metadata and the
//! tensor offsets as llama.cpp's reader expects them; this module adds the tensor data after
//! them, streamed one tensor at a time, into a staged file renamed into place only when complete.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::{sys, LlamaError};

/// ggml's default alignment of tensor data.
const ALIGNMENT: usize = 32;

/// One tensor of a file: its name, ggml type and shape in ggml's order (the fastest-moving
/// dimension first, the reverse of a row-major shape).
#[derive(Debug, Clone)]
pub struct TensorSpec {
    pub name: String,
    pub ty: sys::ggml_type,
    pub ne: Vec<i64>,
}

/// ggml's GGUF context, freed on drop.
struct Context(*mut sys::gguf_context);

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: the pointer came from gguf_init_empty and is freed once.
        unsafe { sys::gguf_free(self.0) }
    }
}

/// A ggml context that holds tensor descriptions only (no data), freed on drop.
struct Descriptions(*mut sys::ggml_context);

impl Drop for Descriptions {
    fn drop(&mut self) {
        // SAFETY: the pointer came from ggml_init and is freed once.
        unsafe { sys::ggml_free(self.0) }
    }
}

fn cstring(s: &str) -> CString {
    CString::new(s).expect("metadata keys and tensor names have no NUL")
}

/// A GGUF file being described: metadata first, then [`Writer::write`] with its tensors.
pub struct Writer(Context);

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

impl Writer {
    pub fn new() -> Self {
        // SAFETY: gguf_init_empty has no preconditions; Context frees what it returns.
        Writer(Context(unsafe { sys::gguf_init_empty() }))
    }

    pub fn u32(&self, key: &str, value: u32) {
        // SAFETY: a live context and a NUL-terminated key (ggml copies it).
        unsafe { sys::gguf_set_val_u32(self.0 .0, cstring(key).as_ptr(), value) }
    }

    pub fn f32(&self, key: &str, value: f32) {
        // SAFETY: as above.
        unsafe { sys::gguf_set_val_f32(self.0 .0, cstring(key).as_ptr(), value) }
    }

    pub fn bool(&self, key: &str, value: bool) {
        // SAFETY: as above.
        unsafe { sys::gguf_set_val_bool(self.0 .0, cstring(key).as_ptr(), value) }
    }

    pub fn str(&self, key: &str, value: &str) {
        // SAFETY: as above; ggml copies the value too.
        unsafe { sys::gguf_set_val_str(self.0 .0, cstring(key).as_ptr(), cstring(value).as_ptr()) }
    }

    /// Writes the file at `dst` (through `dst.partial`, renamed when complete and synced; removed
    /// if anything fails) with `tensors`, whose bytes `data(i)` gives one at a time, each checked
    /// for its size and for finite values. `on_progress(written, total)` follows the bytes.
    /// Returns the file's size. A writer writes one file (ggml's context keeps the tensors).
    pub fn write<E: From<LlamaError>>(
        self,
        dst: &Path,
        tensors: &[TensorSpec],
        mut data: impl FnMut(usize) -> Result<Vec<u8>, E>,
        on_progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<u64, E> {
        let staged = staged_path(dst);
        let written = match self.write_to(&staged, tensors, &mut data, on_progress) {
            Ok(bytes) => bytes,
            Err(e) => {
                let _ = fs::remove_file(&staged);
                return Err(e);
            }
        };
        fs::rename(&staged, dst).map_err(|e| file_error(dst, e))?;
        Ok(written)
    }

    fn write_to<E: From<LlamaError>>(
        &self,
        path: &Path,
        tensors: &[TensorSpec],
        data: &mut impl FnMut(usize) -> Result<Vec<u8>, E>,
        on_progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<u64, E> {
        let gguf = self.0 .0;
        let io = |e: std::io::Error| E::from(file_error(path, e));
        let params = sys::ggml_init_params {
            // SAFETY: a pure size query.
            mem_size: tensors.len() * unsafe { sys::ggml_tensor_overhead() } + 1024,
            mem_buffer: std::ptr::null_mut(),
            no_alloc: true,
        };
        // SAFETY: no_alloc with ggml's own buffer for the descriptions.
        let ctx = Descriptions(unsafe { sys::ggml_init(params) });
        if ctx.0.is_null() {
            return Err(LlamaError::Invalid("ggml could not start".into()).into());
        }
        let mut sizes = Vec::with_capacity(tensors.len());
        for t in tensors {
            // SAFETY: ne outlives the call; the tensor lives in ctx, which outlives gguf's use of
            // it (gguf copies the description in gguf_add_tensor).
            unsafe {
                let d = sys::ggml_new_tensor(ctx.0, t.ty, t.ne.len() as i32, t.ne.as_ptr());
                if d.is_null() {
                    return Err(
                        LlamaError::Invalid(format!("ggml could not describe {}", t.name)).into(),
                    );
                }
                sys::ggml_set_name(d, cstring(&t.name).as_ptr());
                sizes.push(sys::ggml_nbytes(d));
                sys::gguf_add_tensor(gguf, d);
            }
        }
        // SAFETY: a live context; the buffer is sized by gguf_get_meta_size.
        let meta = unsafe {
            let mut meta = vec![0u8; sys::gguf_get_meta_size(gguf)];
            sys::gguf_get_meta_data(gguf, meta.as_mut_ptr().cast());
            meta
        };
        let file = File::create(path).map_err(io)?;
        let mut out = BufWriter::with_capacity(8 << 20, file);
        out.write_all(&meta).map_err(io)?;
        let mut written = meta.len() as u64;
        let total = written
            + sizes
                .iter()
                .map(|s| s.next_multiple_of(ALIGNMENT) as u64)
                .sum::<u64>();
        on_progress(written, total);
        for (i, (t, &size)) in tensors.iter().zip(&sizes).enumerate() {
            let bytes = data(i)?;
            if bytes.len() != size {
                return Err(LlamaError::Invalid(format!(
                    "{}: {} bytes for a {size}-byte tensor",
                    t.name,
                    bytes.len()
                ))
                .into());
            }
            // SAFETY: bytes holds exactly one tensor of this type (length checked above).
            let valid =
                unsafe { sys::ggml_validate_row_data(t.ty, bytes.as_ptr().cast(), bytes.len()) };
            if !valid {
                return Err(LlamaError::Invalid(format!(
                    "{}: the converted values are not finite",
                    t.name
                ))
                .into());
            }
            let pad = size.next_multiple_of(ALIGNMENT) - size;
            out.write_all(&bytes).map_err(io)?;
            out.write_all(&[0u8; ALIGNMENT][..pad]).map_err(io)?;
            written += (size + pad) as u64;
            on_progress(written, total);
        }
        let file = out.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        Ok(written)
    }
}

/// `values` (rows of `row` values each) in ggml's block format `ty` (Q8_0, Q4_0, …), by ggml's
/// own quantiser, so the blocks are laid out as llama.cpp reads them. A row must be a whole
/// number of blocks ([`fits`]); types that need an importance matrix are refused.
pub fn quantize(ty: sys::ggml_type, values: &[f32], row: usize) -> Result<Vec<u8>, LlamaError> {
    if !fits(ty, row) || !values.len().is_multiple_of(row) {
        return Err(LlamaError::Invalid(format!(
            "{} values in rows of {row} do not fit {}'s blocks",
            values.len(),
            type_name(ty)
        )));
    }
    // SAFETY: pure queries on a valid type.
    if unsafe { sys::ggml_quantize_requires_imatrix(ty) } {
        return Err(LlamaError::Invalid(format!(
            "{} needs an importance matrix",
            type_name(ty)
        )));
    }
    let rows = values.len() / row;
    // SAFETY: a pure size query.
    let row_bytes = unsafe { sys::ggml_row_size(ty, row as i64) };
    let mut out = vec![0u8; rows * row_bytes];
    // SAFETY: `values` holds rows × row floats and `out` rows × row_bytes bytes, as the call reads
    // and writes; ggml_quantize_init (idempotent, locked inside ggml) readies the type's tables.
    let written = unsafe {
        sys::ggml_quantize_init(ty);
        sys::ggml_quantize_chunk(
            ty,
            values.as_ptr(),
            out.as_mut_ptr().cast(),
            0,
            rows as i64,
            row as i64,
            std::ptr::null(),
        )
    };
    if written != out.len() {
        return Err(LlamaError::Invalid(format!(
            "ggml wrote {written} of {} quantised bytes",
            out.len()
        )));
    }
    Ok(out)
}

/// Whether rows of `row` values are whole blocks of `ty`.
pub fn fits(ty: sys::ggml_type, row: usize) -> bool {
    // SAFETY: a pure query on a valid type.
    let block = unsafe { sys::ggml_blck_size(ty) }.max(1) as usize;
    row > 0 && row.is_multiple_of(block)
}

fn type_name(ty: sys::ggml_type) -> String {
    // SAFETY: ggml returns a static NUL-terminated name for every type.
    unsafe { CStr::from_ptr(sys::ggml_type_name(ty)) }
        .to_string_lossy()
        .into_owned()
}

/// Tensor names and types of a GGUF file, read back through ggml (for tests and diagnostics).
pub fn tensor_types(path: &Path) -> Result<BTreeMap<String, String>, LlamaError> {
    let c = cstring(&path.to_string_lossy());
    let params = sys::gguf_init_params {
        no_alloc: true,
        ctx: std::ptr::null_mut(),
    };
    // SAFETY: a NUL-terminated path; the context is freed by Context.
    let gguf = Context(unsafe { sys::gguf_init_from_file(c.as_ptr(), params) });
    if gguf.0.is_null() {
        return Err(LlamaError::File {
            file: path.display().to_string(),
            message: "not a readable GGUF file".into(),
        });
    }
    let mut out = BTreeMap::new();
    // SAFETY: indices below gguf_get_n_tensors; names and type names are static or owned by gguf.
    unsafe {
        for i in 0..sys::gguf_get_n_tensors(gguf.0) {
            let name = CStr::from_ptr(sys::gguf_get_tensor_name(gguf.0, i));
            let ty = CStr::from_ptr(sys::ggml_type_name(sys::gguf_get_tensor_type(gguf.0, i)));
            out.insert(
                name.to_string_lossy().into_owned(),
                ty.to_string_lossy().into_owned(),
            );
        }
    }
    Ok(out)
}

/// Where a file is written before it is complete.
pub fn staged_path(dst: &Path) -> PathBuf {
    let mut name = dst.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    dst.with_file_name(name)
}

pub fn file_error(file: &Path, e: std::io::Error) -> LlamaError {
    LlamaError::File {
        file: file.display().to_string(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_whole_or_absent() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("t.gguf");
        let tensors = vec![TensorSpec {
            name: "w".into(),
            ty: sys::GGML_TYPE_F32,
            ne: vec![4],
        }];
        let w = || {
            let w = Writer::new();
            w.str("general.architecture", "test");
            w
        };
        // A tensor of the wrong size fails the write and leaves nothing behind.
        let short = w().write::<LlamaError>(&dst, &tensors, |_| Ok(vec![0u8; 12]), &|_, _| {});
        assert!(short
            .unwrap_err()
            .to_string()
            .contains("12 bytes for a 16-byte"));
        assert!(!dst.exists() && !staged_path(&dst).exists());
        // Non-finite values are refused.
        let nan = f32::NAN.to_le_bytes().repeat(4);
        let bad = w().write::<LlamaError>(&dst, &tensors, |_| Ok(nan.clone()), &|_, _| {});
        assert!(bad.unwrap_err().to_string().contains("not finite"));
        assert!(!dst.exists());
        let ok: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let size = w()
            .write::<LlamaError>(&dst, &tensors, |_| Ok(ok.clone()), &|_, _| {})
            .unwrap();
        let bytes = fs::read(&dst).unwrap();
        assert_eq!(bytes.len() as u64, size);
        assert_eq!(&bytes[..4], b"GGUF");
        // The data ends the file, padded to ggml's alignment.
        assert_eq!(&bytes[bytes.len() - 32..bytes.len() - 16], &ok[..]);
        assert_eq!(&bytes[bytes.len() - 16..], &[0u8; 16]);
        let types = tensor_types(&dst).unwrap();
        assert_eq!(types.get("w").map(String::as_str), Some("f32"));
    }

    #[test]
    fn quantised_rows_come_back_close() {
        let row = 64;
        let values: Vec<f32> = (0..row * 3)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let q = quantize(sys::GGML_TYPE_Q8_0, &values, row).unwrap();
        // Q8_0: per 32 values, an f16 scale and 32 signed bytes.
        assert_eq!(q.len(), 3 * (row / 32) * 34);
        // Read back through ggml's own dequantiser: each value within half a step of its block.
        let mut back = vec![0f32; values.len()];
        unsafe {
            let traits = sys::ggml_get_type_traits(sys::GGML_TYPE_Q8_0);
            let to_float = (*traits).to_float.unwrap();
            to_float(q.as_ptr().cast(), back.as_mut_ptr(), back.len() as i64);
        }
        for (block, got) in values.chunks(32).zip(back.chunks(32)) {
            let step = block.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
            for (v, b) in block.iter().zip(got) {
                assert!((v - b).abs() <= step * 0.51 + 1e-3, "{v} came back as {b}");
            }
        }
        // A row that is not whole blocks is refused, with the reason.
        let err = quantize(sys::GGML_TYPE_Q8_0, &values[..40], 40).unwrap_err();
        assert!(err.to_string().contains("do not fit q8_0"), "{err}");
    }
}
