//! llama.cpp's OpenMP runtime is set to sleep soon after a step (`fathom_llama::SPIN`). libgomp
//! reads that setting once, as it starts; only a copy linked into the binary starts after the
//! constructor that sets it, so both are checked: the setting is there, and no libgomp is loaded
//! as a shared library (whose settings would be read before any of this binary's code runs).

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn openmp_is_linked_in_and_set_to_sleep_soon() {
    // Referencing the crate's start links its constructor, as any user of llama.cpp does.
    let _ = fathom_llama::backend();
    assert_eq!(
        std::env::var("GOMP_SPINCOUNT").ok().as_deref(),
        Some(fathom_llama::SPIN),
        "GOMP_SPINCOUNT was not set before main (or was set outside the test)"
    );
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    assert!(
        !maps.lines().any(|l| l.contains("libgomp")),
        "libgomp is loaded as a shared library, so it read its settings before the constructor ran"
    );
    // OpenMP is there all the same: its entry points are in the binary.
    extern "C" {
        fn omp_get_max_threads() -> std::os::raw::c_int;
    }
    // SAFETY: a query of libgomp's settings, with no arguments.
    assert!(unsafe { omp_get_max_threads() } >= 1);
}
