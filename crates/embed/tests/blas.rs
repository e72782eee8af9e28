//! On Linux, MLX's matmuls go through OpenBLAS when the system has it (see
//! vendor/mlx-sys/FATHOM-PATCH.md): the wheel's reference BLAS is ~20x slower, which would make
//! the embedder crawl. This checks what the running process actually mapped.

#[cfg(target_os = "linux")]
#[test]
fn mlx_uses_openblas_where_the_system_has_it() {
    use mlx_rs::Array;
    let a = Array::from_slice(&[1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
    let b = mlx_rs::ops::matmul(&a, &a).unwrap();
    b.eval().unwrap();
    assert_eq!(b.as_slice::<f32>(), &[7.0, 10.0, 15.0, 22.0]);
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let blas: Vec<&str> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| {
            let name = p.rsplit('/').next().unwrap_or(p);
            name.starts_with("lib") && name.contains("blas")
        })
        .collect();
    let system = [
        "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3",
        "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
    ];
    if system.iter().any(|p| std::path::Path::new(p).exists()) {
        assert!(
            blas.iter().any(|p| p.contains("openblas")),
            "OpenBLAS is installed but MLX loaded {blas:?} (built before OpenBLAS was installed? \
             `cargo clean -p mlx-sys` relinks it)"
        );
    } else {
        assert!(!blas.is_empty(), "no BLAS mapped at all: {maps}");
    }
}
