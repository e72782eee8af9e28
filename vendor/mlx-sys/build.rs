extern crate cmake;

use cmake::Config;
use std::{
    env, fs,
    path::{Path, PathBuf},
    process::Command,
};

#[path = "src/bindgen_config.rs"]
mod bindgen_config;

#[path = "src/native_link.rs"]
mod native_link;

#[cfg(feature = "metal")]
fn mlx_c_key(mlx_c_root: &Path) -> String {
    if mlx_c_root.join(".git").exists() {
        let output = Command::new("git")
            .arg("-C")
            .arg(mlx_c_root)
            .args(["rev-parse", "HEAD"])
            .output();
        if let Ok(output) = output {
            if output.status.success() {
                let commit = String::from_utf8_lossy(&output.stdout);
                let commit = commit.trim();
                if commit.len() >= 12 && commit.bytes().all(|byte| byte.is_ascii_hexdigit()) {
                    return commit[..12].to_owned();
                }
            }
        }
    }

    let mut files = bindgen_config::discover_headers(mlx_c_root)
        .expect("Unable to discover mlx-c headers for the metallib key");
    files.push(mlx_c_root.join("CMakeLists.txt"));
    files.sort();

    let mut hash = 0xcbf29ce484222325_u64;
    for file in files {
        let relative = file.strip_prefix(mlx_c_root).unwrap_or(&file);
        for byte in relative.to_string_lossy().bytes().chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x100000001b3);
        }
        for byte in fs::read(&file).expect("Unable to hash mlx-c source for the metallib key") {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x100000001b3);
        }
    }
    format!("{hash:016x}")[..12].to_owned()
}

#[cfg(feature = "metal")]
fn metallib_dir(mlx_c_root: &Path) -> PathBuf {
    if let Some(path) = env::var_os("MLX_RS_METAL_PATH") {
        return PathBuf::from(path);
    }

    let home =
        env::var_os("HOME").expect("HOME must be set when MLX_RS_METAL_PATH is not provided");
    // A JIT metallib holds only a few kernels; sharing the directory would break
    // non-JIT builds of the same mlx-c.
    let key = if cfg!(feature = "metal-jit") {
        format!("{}-jit", mlx_c_key(mlx_c_root))
    } else {
        mlx_c_key(mlx_c_root)
    };
    PathBuf::from(home).join(".mlx").join("lib").join(key)
}

fn build_and_link_mlx_c() {
    let mlx_c_root = Path::new("src/mlx-c");
    let mut config = Config::new(mlx_c_root);
    config.very_verbose(true);
    config.define("CMAKE_INSTALL_PREFIX", ".");

    // Use Xcode's clang to ensure compatibility with the macOS SDK
    config.define("CMAKE_C_COMPILER", "/usr/bin/cc");
    config.define("CMAKE_CXX_COMPILER", "/usr/bin/c++");

    #[cfg(debug_assertions)]
    {
        config.define("CMAKE_BUILD_TYPE", "Debug");
    }

    #[cfg(not(debug_assertions))]
    {
        config.define("CMAKE_BUILD_TYPE", "Release");
    }

    config.define("MLX_BUILD_METAL", "OFF");
    config.define("MLX_BUILD_ACCELERATE", "OFF");

    #[cfg(feature = "metal")]
    {
        config.define("MLX_BUILD_METAL", "ON");
        #[cfg(feature = "metal-jit")]
        config.define("MLX_METAL_JIT", "ON");
        let metallib_dir = metallib_dir(mlx_c_root);
        fs::create_dir_all(&metallib_dir).expect("Unable to create the MLX metallib directory");
        config.define("MLX_METAL_PATH", &metallib_dir);
    }

    #[cfg(feature = "accelerate")]
    {
        config.define("MLX_BUILD_ACCELERATE", "ON");
    }

    // build the mlx-c project
    let dst = config.build();

    publish_native_sources(&dst, mlx_c_root);

    println!("cargo:rustc-link-search=native={}/build/lib", dst.display());
    // mlx's GGUF io depends on the vendored gguflib archive, which cmake leaves
    // in the mlx build tree instead of installing next to libmlx.
    println!(
        "cargo:rustc-link-search=native={}/build/_deps/mlx-build/mlx/io",
        dst.display()
    );
    for library in native_link::libraries(&dst.join("build")) {
        if library == "jaccl" {
            println!(
                "cargo:rustc-link-search=native={}/build/jaccl",
                dst.display()
            );
        }
        println!("cargo:rustc-link-lib=static={library}");
    }

    println!("cargo:rustc-link-lib=c++");
    println!("cargo:rustc-link-lib=dylib=objc");
    println!("cargo:rustc-link-lib=framework=Foundation");

    #[cfg(feature = "metal")]
    {
        println!("cargo:rustc-link-lib=framework=Metal");
        let metallib = metallib_dir(mlx_c_root).join("mlx.metallib");
        if !metallib.exists() {
            println!(
                "cargo:warning=mlx.metallib was not created at {}; Metal operations may fail at runtime",
                metallib.display()
            );
        }
    }

    #[cfg(feature = "accelerate")]
    {
        println!("cargo:rustc-link-lib=framework=Accelerate");
    }

    // Link against Xcode's clang runtime for ___isPlatformVersionAtLeast symbol
    // This is needed on macOS 26+ where the bundled LLVM runtime may be outdated
    // See: https://github.com/conda-forge/llvmdev-feedstock/issues/244
    if let Some(clang_rt_path) = native_link::find_clang_rt_path() {
        println!("cargo:rustc-link-search={}", clang_rt_path);
        println!("cargo:rustc-link-lib=static=clang_rt.osx");
    }
}

/// Dependents read this metadata as `DEP_MLX_*`; the README documents the contract.
fn publish_native_sources(dst: &Path, mlx_c_root: &Path) {
    let deps = dst.join("build").join("_deps");
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let include = [
        Some(deps.join("mlx-src")),
        cfg!(feature = "metal").then(|| deps.join("metal_cpp-src")),
        Some(manifest.join(mlx_c_root)),
    ];
    let include = env::join_paths(include.into_iter().flatten())
        .expect("MLX include directories must not contain the path-list separator");
    println!("cargo::metadata=include={}", include.display());
    println!("cargo::metadata=defines=MLX_STATIC");
    let version = fs::read_to_string(mlx_c_root.join("CMakeLists.txt"))
        .ok()
        .and_then(|cmake| {
            cmake.lines().find_map(|line| {
                let tag = line.trim().strip_prefix("GIT_TAG v")?;
                tag.split(|c: char| c == ')' || c.is_whitespace())
                    .next()
                    .map(str::to_owned)
            })
        });
    if let Some(version) = version {
        println!("cargo::metadata=version={version}");
    }
}

// Fathom: off Apple platforms, link mlx-c against the prebuilt MLX of the PyPI `mlx-cpu` wheel
// (see FATHOM-PATCH.md); on macOS and iOS the upstream build above runs unchanged.
fn build_with_prebuilt_mlx() {
    println!("cargo:rerun-if-env-changed=MLX_CPU_DIR");
    let root = env::var_os("MLX_CPU_DIR").map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "MLX_CPU_DIR is not set: it must name the unpacked mlx-cpu wheel \
             (Fathom's scripts/setup.sh fetches it into .tools/)"
        )
    });
    let mlx = root.join("mlx");
    let cmake_dir = mlx.join("share/cmake/MLX");
    if !cmake_dir.join("MLXConfig.cmake").is_file() {
        panic!(
            "MLX_CPU_DIR={} holds no mlx/share/cmake/MLX/MLXConfig.cmake: run scripts/setup.sh",
            root.display()
        );
    }

    let mut config = Config::new("src/mlx-c");
    config
        .define("MLX_C_USE_SYSTEM_MLX", "ON")
        .define("MLX_DIR", &cmake_dir)
        .define("MLX_C_BUILD_EXAMPLES", "OFF")
        .define("BUILD_SHARED_LIBS", "OFF")
        // Debug mlx-c is no easier to read and much slower; MLX itself is a release build.
        .profile("Release");
    let dst = config.build();

    for dir in ["lib", "lib64"] {
        println!("cargo:rustc-link-search=native={}", dst.join(dir).display());
    }
    println!("cargo:rustc-link-lib=static=mlxc");
    println!("cargo:rustc-link-search=native={}", mlx.join("lib").display());
    println!("cargo:rustc-link-lib=dylib=mlx");
    println!("cargo:rustc-link-lib=dylib=stdc++");

    // Binaries find libmlx through an rpath of `$ORIGIN/mlx/lib` (set in .cargo/config.toml), so
    // the library is laid out in the profile directory as the wheel lays it out: `mlx/lib` with
    // `mlx_cpu.libs` two levels above it, where libmlx's own rpath looks for BLAS and LAPACK.
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    if let Some(profile_dir) = out.ancestors().nth(3) {
        copy_dir(&mlx.join("lib"), &profile_dir.join("mlx/lib"));
        let libs = profile_dir.join("mlx_cpu.libs");
        copy_dir(&root.join("mlx_cpu.libs"), &libs);
        use_optimized_blas(&libs);
    }

    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let include = env::join_paths([mlx.join("include"), manifest.join("src/mlx-c")]).unwrap();
    println!("cargo::metadata=include={}", include.display());
    println!("cargo::metadata=libdir={}", mlx.join("lib").display());
}

/// Copies the files of `from` into `to` unless an identical-sized copy is already there. A
/// symbolic link in `to` (the optimized BLAS below) is left alone: copying onto it would write
/// through it into the system library.
fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create the MLX runtime directory");
    for entry in fs::read_dir(from).expect("read the prebuilt MLX") {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let len = entry.metadata().unwrap().len();
        match fs::symlink_metadata(&target) {
            Ok(m) if m.file_type().is_symlink() && target.exists() => continue,
            Ok(m) if m.file_type().is_symlink() => {
                fs::remove_file(&target).expect("remove a dangling BLAS link")
            }
            Ok(m) if m.len() == len => continue,
            _ => {}
        }
        fs::copy(entry.path(), &target).expect("copy the prebuilt MLX");
    }
}

/// The wheel bundles the reference (netlib) BLAS, whose single-threaded `sgemm` runs at ~8 GFLOPS:
/// every unquantized matmul (the embedder, attention) crawls. OpenBLAS exports the same BLAS and
/// CBLAS symbols, so where the system has it, the wheel's `libblas-*.so*` beside the binaries
/// becomes a link to it (libmlx and the wheel's LAPACK find it by that name); on a 2-core machine
/// that is ~20x faster at 512x512. `FATHOM_BLAS` names another library; without one the
/// reference BLAS stays and the build says so.
#[cfg(unix)]
fn use_optimized_blas(libs: &Path) {
    println!("cargo:rerun-if-env-changed=FATHOM_BLAS");
    let candidates = env::var_os("FATHOM_BLAS").map(PathBuf::from).into_iter().chain(
        [
            "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3",
            "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
            "/usr/lib64/libopenblas.so.0",
            "/usr/lib/libopenblas.so.0",
        ]
        .map(PathBuf::from),
    );
    let Some(blas) = candidates.into_iter().find(|p| p.is_file()) else {
        println!(
            "cargo:warning=no OpenBLAS found (Debian: libopenblas0-pthread); MLX keeps the wheel's \
             slow reference BLAS"
        );
        return;
    };
    println!("cargo:rerun-if-changed={}", blas.display());
    for entry in fs::read_dir(libs).expect("read the MLX runtime directory") {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("libblas-") && name.contains(".so") {
            if fs::read_link(&path).ok().as_deref() == Some(blas.as_path()) {
                continue;
            }
            fs::remove_file(&path).expect("replace the reference BLAS");
            std::os::unix::fs::symlink(&blas, &path).expect("link the optimized BLAS");
        }
    }
}

#[cfg(not(unix))]
fn use_optimized_blas(_libs: &Path) {}

fn main() {
    println!("cargo:rerun-if-env-changed=MLX_RS_METAL_PATH");
    println!("cargo:rerun-if-changed=native-libraries.txt");
    println!("cargo:rerun-if-changed=src/native_link.rs");
    match env::var("CARGO_CFG_TARGET_OS").as_deref() {
        Ok("macos" | "ios") => build_and_link_mlx_c(),
        _ => build_with_prebuilt_mlx(),
    }

    let mlx_c_root = PathBuf::from("src/mlx-c");
    let headers =
        bindgen_config::discover_headers(&mlx_c_root).expect("Unable to discover headers");
    for header in &headers {
        let relative =
            bindgen_config::relative_header(&mlx_c_root, header).expect("Unable to record header");
        println!(
            "cargo:rerun-if-changed={}",
            mlx_c_root.join(relative).display()
        );
    }
    let bindings = bindgen_config::builder(&mlx_c_root, &headers)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .expect("Unable to generate bindings");

    // Write the bindings to the $OUT_DIR/bindings.rs file.
    let out_path = PathBuf::from(env::var("OUT_DIR").unwrap());
    bindings
        .write_to_file(out_path.join("bindings.rs"))
        .expect("Couldn't write bindings!");
}
