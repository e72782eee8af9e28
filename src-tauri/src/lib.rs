//! Fathom's desktop shell: a switchboard between the windows and the core (`fathom_core::App`),
//! which holds every use case. No business logic lives here.
//!
//! Four rooms, each importing only those below it (checked by `tests/architecture.rs`):
//! - `app/`: the shell's state around the core, the streaming convention, errors, events;
//! - `desktop/` (windows, tray, shortcut) and `background/` (watching folders, the semantic
//!   status, the update check): `app/` only;
//! - `commands/`: one file per domain, the typed commands the UI calls; `app/` and `desktop/`,
//!   never each other;
//! - this file: the builder that wires them together.

pub mod app;
pub mod background;
pub mod commands;
pub mod desktop;

use tauri::{Manager, RunEvent, Runtime, WindowEvent};
use tauri_plugin_global_shortcut::ShortcutState;

pub use app::{AppState, CommandError};
use commands::{ask, chat, info, library, models, settings, updates, windows as window_commands};
use desktop::{shortcut, tray, windows};

/// Registers the state and commands on a builder: shared by the real app and the mock-runtime
/// tests, so that the tests exercise exactly the commands the app exposes.
pub fn with_commands<R: Runtime>(builder: tauri::Builder<R>, state: AppState) -> tauri::Builder<R> {
    builder
        .manage(state)
        .manage(app::updater::Found::default())
        .invoke_handler(tauri::generate_handler![
            info::app_info,
            info::diagnostics,
            info::cancel_stream,
            library::list_folders,
            library::add_folders,
            library::pick_folders,
            library::remove_folder,
            library::scan_folder,
            library::index_folder_cmd,
            library::library_status,
            library::search_library,
            library::open_document,
            library::read_document_text,
            library::semantic_status,
            library::retry_semantic,
            library::pause_semantic,
            settings::get_settings,
            settings::set_first_run_done,
            settings::set_quick_shortcut,
            settings::set_index_hidden,
            settings::set_semantic_search,
            settings::set_model_idle_minutes,
            settings::set_hf_token,
            window_commands::hide_quick_window,
            window_commands::open_main_window,
            models::memory_info,
            models::list_models,
            models::check_fit,
            models::pull_model,
            models::discard_download,
            models::delete_model,
            models::reveal_model,
            models::set_active_model,
            models::unload_model,
            chat::list_conversations,
            chat::get_conversation,
            chat::new_conversation,
            chat::rename_conversation,
            chat::delete_conversation,
            chat::set_conversation_setup,
            chat::export_conversation,
            chat::chat_reply,
            ask::ask_library,
            ask::list_runs,
            ask::get_run,
            ask::delete_run,
            updates::check_for_update,
            updates::found_update,
            updates::install_update,
            updates::restart_app,
            updates::set_check_updates,
        ])
}

pub fn run() {
    let dirs = match fathom_store::AppDirs::resolve() {
        Ok(dirs) => dirs,
        Err(e) => {
            eprintln!("Fathom cannot start: {e}");
            std::process::exit(1);
        }
    };
    // The log file (rotating, in the platform's log folder, panics included) before anything that
    // may log; without it, standard error alone.
    let _log = match fathom_diagnostics::start_logging(dirs.logs(), "info", true) {
        Ok(guard) => Some(guard),
        Err(e) => {
            env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
                .init();
            log::warn!("{e}");
            None
        }
    };
    log::info!(
        "Fathom {} starting ({} {})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    // Before any MLX call (the embedder and the memory check make the first): on macOS this points
    // MLX at the metallib inside the bundle and starts Metal, failing in words, not by exiting.
    if let Err(e) = fathom_engine::device::prepare() {
        log::error!("{e}");
    }
    let state = match AppState::load_from(dirs) {
        Ok(state) => state,
        Err(e) => {
            // Nothing can be saved without a data directory: say so and stop.
            eprintln!("Fathom cannot start: {e}");
            std::process::exit(1);
        }
    };
    let builder = tauri::Builder::default()
        // First, so that a second launch hands over before anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            windows::show_main(app);
        }))
        .plugin(
            tauri_plugin_window_state::Builder::new()
                .with_denylist(&[windows::QUICK])
                .build(),
        )
        // Rust-side only (reveal a model's folder); the UI is granted none of its commands.
        .plugin(tauri_plugin_opener::init())
        // Rust-side only too: the folder chooser behind `pick_folders`.
        .plugin(tauri_plugin_dialog::init())
        // Rust-side only as well: updates are checked and installed by `updates`' commands.
        .plugin(tauri_plugin_updater::Builder::new().build())
        .plugin(
            tauri_plugin_global_shortcut::Builder::new()
                .with_handler(|app, _shortcut, event| {
                    if event.state == ShortcutState::Pressed {
                        windows::toggle_quick(app);
                    }
                })
                .build(),
        )
        .setup(|app| {
            if let Err(e) = background::watching::start(app.handle()) {
                log::warn!("the library will not follow file changes: {e}");
            }
            background::semantic::start(app.handle());
            tray::install(app.handle())?;
            shortcut::install_saved(app.handle());
            background::updates::check_at_start(app.handle());
            Ok(())
        })
        .on_window_event(|window, event| match event {
            // Closing the main window keeps Fathom in the tray / menu bar; Quit ends it.
            WindowEvent::CloseRequested { api, .. } if window.label() == windows::MAIN => {
                log::debug!("main window close requested: hiding it");
                api.prevent_close();
                windows::hide_main(window.app_handle());
            }
            WindowEvent::Focused(false) if window.label() == windows::QUICK => {
                windows::hide_quick_unless_refocused(window.clone());
            }
            _ => {}
        });
    let app = with_commands(builder, state)
        .build(tauri::generate_context!())
        .unwrap_or_else(|e| {
            eprintln!("Fathom cannot start: {e}");
            std::process::exit(1);
        });
    app.run(|app, event| {
        // macOS: clicking the Dock icon brings the main window back.
        #[cfg(target_os = "macos")]
        if let RunEvent::Reopen { .. } = event {
            windows::show_main(app);
        }
        let _ = (app, &event);
        if let RunEvent::ExitRequested {
            code: None, api, ..
        } = event
        {
            // The last window hiding is not a reason to quit: the tray keeps Fathom alive.
            api.prevent_exit();
        }
    });
}
