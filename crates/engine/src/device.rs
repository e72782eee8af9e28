//! What the compute device says about its memory: on Metal, the GPU's recommended working set
//! (past which it pages and generation crawls), which bounds a model more than total RAM does.

/// Metal's `recommendedMaxWorkingSetSize`, as MLX reports it; `None` where the device does not
/// have one (the CPU backend on Linux).
pub fn gpu_working_set_bytes() -> Option<u64> {
    device_size("max_recommended_working_set_size")
}

fn device_size(key: &str) -> Option<u64> {
    let key = std::ffi::CString::new(key).ok()?;
    // SAFETY: mlx-c's documented create / query / free sequence; every handle made here is
    // freed here, and `value` is written only on success.
    unsafe {
        let mut dev = mlx_sys::mlx_device_new();
        let mut info = mlx_sys::mlx_device_info_new();
        let mut value: usize = 0;
        let mut exists = false;
        let ok = mlx_sys::mlx_get_default_device(&mut dev) == 0
            && mlx_sys::mlx_device_info_get(&mut info, dev) == 0
            && mlx_sys::mlx_device_info_has_key(&mut exists, info, key.as_ptr()) == 0
            && exists
            && mlx_sys::mlx_device_info_get_size(&mut value, info, key.as_ptr()) == 0;
        mlx_sys::mlx_device_info_free(info);
        mlx_sys::mlx_device_free(dev);
        (ok && value > 0).then_some(value as u64)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_cpu_backend_has_no_gpu_working_set() {
        let got = super::gpu_working_set_bytes();
        if cfg!(target_os = "macos") {
            assert!(got.is_some_and(|b| b > 1 << 30), "{got:?}");
        } else {
            assert_eq!(got, None);
        }
    }
}
