//! Installed by the .deb, `fathom` finds MLX's runtime in /usr/lib/fathom (scripts/bundle-linux.sh);
//! the build tree's layout is in .cargo/config.toml's rpath.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-Wl,-rpath,$ORIGIN/../lib/fathom/mlx/lib");
    }
}
