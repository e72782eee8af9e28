//! The shell's rooms and which may import which (see `src/lib.rs`): `app/` is the base and imports
//! no other room; `desktop/` and `background/` import only `app/`; `commands/` import `app/` and
//! `desktop/`, never `background/` and never each other. With this order there is no import
//! circle in `src-tauri/src`. The test reads the sources, so a new import that breaks the order
//! fails here, naming the file and the line.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

const ROOMS: [&str; 4] = ["app", "background", "commands", "desktop"];

fn allowed(room: &str) -> &'static [&'static str] {
    match room {
        "app" => &["app"],
        "desktop" => &["app", "desktop"],
        "background" => &["app", "background"],
        "commands" => &["app", "desktop"],
        _ => &["app", "background", "commands", "desktop"],
    }
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The room a file is in, and its module name inside the room (`None` for the room's `mod.rs`).
fn place(src: &Path, file: &Path) -> (String, Option<String>) {
    let rel = file.strip_prefix(src).unwrap();
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    match parts.as_slice() {
        [room, module] if ROOMS.contains(&room.as_str()) => {
            (room.clone(), (module != "mod").then(|| module.clone()))
        }
        [top] => (top.clone(), None),
        _ => panic!("{}: the shell has one level of rooms", rel.display()),
    }
}

/// Every `crate::x::y` and `super::y` path in the code (comments left out), with its line.
fn paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        for prefix in ["crate::", "super::"] {
            let mut rest = code;
            while let Some(i) = rest.find(prefix) {
                let tail = &rest[i..];
                let end = tail
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                    .unwrap_or(tail.len());
                found.push((n + 1, tail[..end].to_string()));
                rest = &tail[end..];
            }
        }
    }
    found
}

#[test]
fn rooms_import_only_the_rooms_below_them_and_commands_not_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let command_files: BTreeSet<String> = files
        .iter()
        .filter_map(|f| match place(&src, f) {
            (room, Some(m)) if room == "commands" => Some(m),
            _ => None,
        })
        .collect();
    assert!(command_files.len() >= 5, "commands/ is one file per domain");
    let mut broken = Vec::new();
    for file in &files {
        let (room, module) = place(&src, file);
        let text = fs::read_to_string(file).unwrap();
        for (line, path) in paths(&text) {
            let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            let target_room = match segments.as_slice() {
                ["crate", r, ..] => r.to_string(),
                // `super::` from a room's file is its own room; from `mod.rs` it would leave it.
                ["super", ..] if module.is_some() => room.clone(),
                ["super", ..] => "crate".to_string(),
                _ => continue,
            };
            let target_module = match segments.as_slice() {
                ["crate", _, m, ..] => Some(m.to_string()),
                ["super", m, ..] => Some(m.to_string()),
                _ => None,
            };
            let rel = file.strip_prefix(&src).unwrap().display();
            if ROOMS.contains(&target_room.as_str())
                && !allowed(&room).contains(&target_room.as_str())
            {
                broken.push(format!(
                    "{rel}:{line}: {room}/ imports {target_room}/ ({path})"
                ));
            }
            if room == "commands"
                && target_room == "commands"
                && target_module
                    .as_ref()
                    .is_some_and(|m| command_files.contains(m))
                && target_module != module
            {
                broken.push(format!(
                    "{rel}:{line}: a command file imports another ({path})"
                ));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "imports out of order:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_checker_sees_a_forbidden_import() {
    // The test above must be able to fail: an import from app/ up into commands/ is found.
    let found = paths("use crate::commands::chat::chat_reply; // crate::desktop in a comment");
    assert_eq!(
        found,
        vec![(1, "crate::commands::chat::chat_reply".to_string())]
    );
    assert!(!allowed("app").contains(&"commands"));
    assert!(!allowed("commands").contains(&"background"));
}
