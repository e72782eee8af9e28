//! The UI's contract with Rust, generated from Rust (tauri-specta): `ui/src/lib/bindings.ts` holds
//! every type the commands and events use, a typed function per command and a typed listener per
//! event. This test fails when the committed file differs from what `fathom_app::contract`
//! generates; run it with `FATHOM_UPDATE_BINDINGS=1` to rewrite it.

use std::fs;
use std::path::Path;

use specta_typescript::Typescript;

fn generate(path: &Path) {
    fathom_app::contract()
        .export(
            Typescript::default().header("// Generated from Rust by src-tauri/tests/bindings.rs (tauri-specta). Do not edit.\n/* eslint-disable */"),
            path,
        )
        .unwrap();
}

#[test]
fn typescript_bindings_are_current() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/bindings.ts");
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("bindings.ts");
    generate(&fresh);
    let fresh = fs::read_to_string(&fresh).unwrap();
    if std::env::var_os("FATHOM_UPDATE_BINDINGS").is_some() {
        fs::write(&committed, &fresh).unwrap();
    }
    let current = fs::read_to_string(&committed).unwrap_or_default();
    assert!(
        current == fresh,
        "ui/src/lib/bindings.ts is stale; regenerate with \
         FATHOM_UPDATE_BINDINGS=1 cargo test -p fathom-app --test bindings"
    );
}

#[test]
fn the_contract_names_every_command_the_app_handles() {
    // Commands and their TypeScript come from one list: a command missing from the generated
    // file would be one the UI cannot call by its type.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bindings.ts");
    generate(&path);
    let text = fs::read_to_string(&path).unwrap();
    let build = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("build.rs")).unwrap();
    let start = build
        .find("const COMMANDS")
        .expect("build.rs lists the commands");
    let list = &build[start..build[start..].find("];").unwrap() + start];
    let mut n = 0;
    for name in list.split('"').skip(1).step_by(2) {
        n += 1;
        assert!(
            text.contains(&format!("\"{name}\"")),
            "{name} is allowed in build.rs but not in the generated contract"
        );
    }
    assert!(n > 40, "build.rs lists the commands ({n} found)");
    // And the other way: every command in the contract is known to build.rs and granted to a
    // window, or the UI's call is refused at run time ("… not allowed").
    let capabilities: String = ["main-window.json", "quick-window.json"]
        .iter()
        .map(|f| {
            fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("capabilities")
                    .join(f),
            )
            .unwrap()
        })
        .collect();
    // Calls read `__TAURI_INVOKE<Type>("name", …)` (the import line does not start with `<`).
    for call in text.split("__TAURI_INVOKE").filter(|c| c.starts_with('<')) {
        let Some(name) = call.split('"').nth(1) else {
            continue;
        };
        assert!(
            list.contains(&format!("\"{name}\"")),
            "{name} is in the contract but not in build.rs's COMMANDS"
        );
        let permission = format!("\"allow-{}\"", name.replace('_', "-"));
        assert!(
            capabilities.contains(&permission),
            "{name} is granted to no window (capabilities/*.json lack {permission})"
        );
    }
}
