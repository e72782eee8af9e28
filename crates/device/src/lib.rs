//! MLX's compute device: starting MLX on it the same way in every binary, and what it says about its
//! memory.
//!
//! On macOS, MLX loads its Metal kernels from `mlx.metallib`. Left alone it looks beside the
//! executable and then at a path compiled in from the build machine, which does not exist on a
//! user's Mac; so every binary calls [`prepare`] before its first MLX call, which finds the copy
//! Fathom ships (inside the `.app`, or beside the `fathom` CLI) and hands its path to MLX. Asking
//! for device info is what starts Metal: it runs under mlx-rs's error handler, so a Mac whose GPU
//! cannot start gives [`DeviceError::MetalUnavailable`] instead of mlx-c's default handler
//! exiting the process.
//!
//! On Linux (MLX's CPU backend) there is no metallib and no GPU working set.
//!
//! `FATHOM_DEVICE=cpu` runs MLX on its CPU device everywhere: hosted macOS CI runners expose a
//! paravirtual Metal device that cannot run every kernel (no bf16), so the tests run there on the
//! CPU, through the same engine code.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeviceError {
    /// Metal did not start (no usable GPU, or MLX's kernels missing or unreadable).
    #[error("Metal is unavailable, so models cannot run on this Mac: {0}")]
    MetalUnavailable(String),
    /// MLX's Metal kernels are nowhere Fathom looked.
    /// MLX could not start on the device (the CPU backend outside macOS).
    #[error("the compute device cannot be used: {0}")]
    Unavailable(String),
    #[error("MLX's Metal kernels (mlx.metallib) are missing: looked in {}. Reinstall Fathom.", .looked.join(", "))]
    MetallibMissing { looked: Vec<String> },
}

/// Where `mlx.metallib` may be for an executable at `exe`, in order: `FATHOM_METALLIB`, the
/// `.app` bundle's `Contents/Resources` (the executable is in `Contents/MacOS`; the kernels stay
/// out of it because codesign treats that folder as code), beside the executable (the CLI from a
/// tarball or `cargo build`), and a Unix-style `../share/fathom`.
pub fn metallib_candidates(exe: &Path, env: Option<&std::ffi::OsStr>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = env.filter(|p| !p.is_empty()) {
        out.push(PathBuf::from(p));
    }
    if let Some(dir) = exe.parent() {
        out.push(dir.join("../Resources/mlx.metallib"));
        out.push(dir.join("mlx.metallib"));
        out.push(dir.join("../share/fathom/mlx.metallib"));
    }
    out
}

/// Gets MLX ready to run: on macOS, points it at Fathom's `mlx.metallib` and starts Metal. Call it
/// before any other MLX call; later calls return the first call's answer.
pub fn prepare() -> Result<(), DeviceError> {
    static READY: OnceLock<Result<(), DeviceError>> = OnceLock::new();
    READY.get_or_init(prepare_once).clone()
}

fn cpu_forced() -> bool {
    std::env::var("FATHOM_DEVICE").is_ok_and(|d| d.eq_ignore_ascii_case("cpu"))
}

#[cfg(target_os = "macos")]
fn prepare_once() -> Result<(), DeviceError> {
    if cpu_forced() {
        mlx_rs::Device::set_default(&mlx_rs::Device::cpu());
        return Ok(());
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let env = std::env::var_os("FATHOM_METALLIB");
    let candidates = metallib_candidates(&exe, env.as_deref());
    match candidates.iter().find(|p| p.is_file()) {
        Some(found) => {
            let path = found.canonicalize().unwrap_or_else(|_| found.clone());
            mlx_rs::metal::set_metallib_path(path.to_string_lossy())
                .map_err(|e| DeviceError::MetalUnavailable(e.what().to_string()))?;
        }
        // A development build run from the build tree: MLX's compiled-in path is right there.
        None if cfg!(debug_assertions) => {}
        None => {
            return Err(DeviceError::MetallibMissing {
                looked: candidates.iter().map(|p| p.display().to_string()).collect(),
            })
        }
    }
    device_size("max_recommended_working_set_size")
        .map(|_| ())
        .map_err(DeviceError::MetalUnavailable)
}

#[cfg(not(target_os = "macos"))]
fn prepare_once() -> Result<(), DeviceError> {
    if cpu_forced() {
        mlx_rs::Device::set_default(&mlx_rs::Device::cpu());
    }
    device_size("max_recommended_working_set_size")
        .map(|_| ())
        .map_err(DeviceError::Unavailable)
}

/// Metal's `recommendedMaxWorkingSetSize`, as MLX reports it; `None` where the device does not
/// have one (the CPU backend on Linux) or cannot start (see [`prepare`] for why).
pub fn gpu_working_set_bytes() -> Option<u64> {
    prepare().ok()?;
    device_size("max_recommended_working_set_size")
        .ok()
        .flatten()
}

/// A size from the default device's info: `Ok(None)` when the device has no such key.
fn device_size(key: &str) -> Result<Option<u64>, String> {
    let key = std::ffi::CString::new(key).map_err(|e| e.to_string())?;
    // SAFETY: mlx-c's documented create / query / free sequence; every handle made here is
    // freed here, and `value`/`exists` are written only on success. Each call runs under
    // mlx-rs's error handler (`status_from_raw_op`), never mlx-c's default one, which exits.
    unsafe {
        let mut dev = mlx_sys::mlx_device_new();
        let mut info = mlx_sys::mlx_device_info_new();
        let mut value: usize = 0;
        let mut exists = false;
        let run = |what: &str, f: &mut dyn FnMut() -> i32| {
            mlx_rs::utils::status_from_raw_op(what, f).map_err(|e| e.what().to_string())
        };
        let result = run("getting the default device", &mut || {
            mlx_sys::mlx_get_default_device(&mut dev)
        })
        .and_then(|()| {
            run("reading the device's info", &mut || {
                mlx_sys::mlx_device_info_get(&mut info, dev)
            })
        })
        .and_then(|()| {
            run("reading the device's info", &mut || {
                mlx_sys::mlx_device_info_has_key(&mut exists, info, key.as_ptr())
            })
        })
        .and_then(|()| {
            if !exists {
                return Ok(None);
            }
            run("reading the device's info", &mut || {
                mlx_sys::mlx_device_info_get_size(&mut value, info, key.as_ptr())
            })
            .map(|()| (value > 0).then_some(value as u64))
        });
        mlx_sys::mlx_device_info_free(info);
        mlx_sys::mlx_device_free(dev);
        result
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn the_cpu_backend_has_no_gpu_working_set() {
        assert_eq!(super::prepare(), Ok(()));
        let got = super::gpu_working_set_bytes();
        if cfg!(target_os = "macos") && !super::cpu_forced() {
            assert!(got.is_some_and(|b| b > 1 << 30), "{got:?}");
        } else {
            assert_eq!(got, None);
        }
    }

    #[test]
    fn the_metallib_is_looked_for_in_the_bundle_first_and_beside_the_binary() {
        let exe = Path::new("/Applications/Fathom.app/Contents/MacOS/fathom-app");
        let got = super::metallib_candidates(exe, None);
        assert_eq!(
            got[0],
            Path::new("/Applications/Fathom.app/Contents/MacOS/../Resources/mlx.metallib")
        );
        assert_eq!(
            got[1],
            Path::new("/Applications/Fathom.app/Contents/MacOS/mlx.metallib")
        );
        let set = super::metallib_candidates(exe, Some(std::ffi::OsStr::new("/opt/k.metallib")));
        assert_eq!(set[0], Path::new("/opt/k.metallib"));
        // An empty variable is no path.
        let empty = super::metallib_candidates(exe, Some(std::ffi::OsStr::new("")));
        assert_eq!(empty, got);
    }
}
