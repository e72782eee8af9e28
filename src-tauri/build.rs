// App commands are listed here so that Tauri generates a permission for each: a window may call
// only the commands its capability grants (see capabilities/).
const COMMANDS: &[&str] = &[
    "local_api_status",
    "set_local_api",
    "new_api_token",
    "set_api_origins",
    "app_info",
    "diagnostics",
    "list_folders",
    "add_folders",
    "pick_folders",
    "remove_folder",
    "scan_folder",
    "cancel_stream",
    "get_settings",
    "set_first_run_done",
    "set_quick_shortcut",
    "hide_quick_window",
    "open_main_window",
    "memory_info",
    "list_models",
    "check_fit",
    "pull_model",
    "discard_download",
    "delete_model",
    "reveal_model",
    "set_active_model",
    "set_hf_token",
    "set_engine",
    "set_backend",
    "server_models",
    "index_folder_cmd",
    "library_status",
    "library_location",
    "check_library_server",
    "set_library_place",
    "sync_library_server",
    "search_library",
    "open_document",
    "read_document_text",
    "set_index_hidden",
    "semantic_status",
    "retry_semantic",
    "set_semantic_search",
    "pause_semantic",
    "list_conversations",
    "get_conversation",
    "new_conversation",
    "rename_conversation",
    "delete_conversation",
    "set_conversation_setup",
    "export_conversation",
    "chat_reply",
    "unload_model",
    "set_model_idle_minutes",
    "ask_library",
    "list_runs",
    "get_run",
    "delete_run",
    "check_for_update",
    "found_update",
    "install_update",
    "restart_app",
    "set_check_updates",
];

fn main() {
    // Installed by the .deb, MLX's runtime lives in /usr/lib/fathom (scripts/bundle-linux.sh); the
    // build tree's layout is in .cargo/config.toml's rpath.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-Wl,-rpath,$ORIGIN/../lib/fathom/mlx/lib");
    }
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri build script");
}
