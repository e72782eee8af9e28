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
use commands::{
    api, ask, chat, info, library, models, settings, updates, windows as window_commands,
};
use desktop::{shortcut, tray, windows};

/// The commands the UI may call, listed once. `$then!` gets them split into those that take no
/// runtime parameter and those generic over it (an `AppHandle<R>`): Tauri's handler infers the
/// runtime, while the contract's export names one.
macro_rules! command_list {
    ($then:ident) => {
        $then! {
            plain: [
                info::app_info,
                info::diagnostics,
                info::cancel_stream,
                library::list_folders,
                library::add_folders,
                library::remove_folder,
                library::scan_folder,
                library::index_folder_cmd,
                library::library_status,
                library::search_library,
                library::read_document_text,
                library::semantic_status,
                library::retry_semantic,
                library::pause_semantic,
                library::library_location,
                library::check_library_server,
                library::set_library_place,
                library::sync_library_server,
                settings::get_settings,
                settings::set_first_run_done,
                settings::set_index_hidden,
                settings::set_semantic_search,
                settings::set_model_idle_minutes,
                settings::set_hf_token,
                settings::set_engine,
                settings::set_backend,
                settings::server_models,
                models::memory_info,
                models::list_models,
                models::check_fit,
                models::pull_model,
                models::discard_download,
                models::delete_model,
                models::set_active_model,
                models::unload_model,
                chat::list_conversations,
                chat::get_conversation,
                chat::new_conversation,
                chat::rename_conversation,
                chat::delete_conversation,
                chat::set_conversation_setup,
                chat::chat_reply,
                ask::ask_library,
                ask::list_runs,
                ask::get_run,
                ask::delete_run,
                updates::found_update,
                updates::set_check_updates,
                api::local_api_status,
                api::set_local_api,
                api::new_api_token,
                api::set_api_origins,
            ],
            generic: [
                library::pick_folders,
                library::open_document,
                settings::set_quick_shortcut,
                window_commands::hide_quick_window,
                window_commands::open_main_window,
                models::reveal_model,
                chat::export_conversation,
                updates::check_for_update,
                updates::install_update,
                updates::restart_app,
            ]
        }
    };
}

macro_rules! handler {
    (plain: [$($p:path),* $(,)?], generic: [$($g:path),* $(,)?]) => {
        tauri::generate_handler![$($p,)* $($g,)*]
    };
}

macro_rules! collected {
    (plain: [$($p:ident :: $pf:ident),* $(,)?], generic: [$($g:ident :: $gf:ident),* $(,)?]) => {
        tauri_specta::collect_commands![$($p::$pf,)* $($g::$gf::<tauri::Wry>,)*]
    };
}

/// The events the shell sends, registered with the runtime at setup.
fn events<R: Runtime>() -> tauri_specta::Builder<R> {
    tauri_specta::Builder::<R>::new().events(tauri_specta::collect_events![
        app::events::LibraryUpdated,
        app::events::SemanticStatusChanged,
        app::events::OpenRun,
        app::events::UpdateAvailable,
    ])
}

/// The UI's contract with Rust: every command and event with their types, from which
/// `ui/src/lib/bindings.ts` (a typed function per command, a typed listener per event) is generated
/// by `tests/bindings.rs`. The same lists make the app's handler and events.
pub fn contract() -> tauri_specta::Builder<tauri::Wry> {
    events::<tauri::Wry>()
        .commands(command_list!(collected))
        // Errors reject the promise with the `CommandError`, as `invoke` does.
        .error_handling(tauri_specta::ErrorHandlingMode::Throw)
        // Counts and sizes stay far below 2^53: plain numbers are simpler in the UI than bigint.
        .dangerously_cast_bigints_to_number()
        // One TypeScript type per Rust type. Fields serde may omit when reading (`default`) are
        // optional in it; ui/src/ipc.ts names the few that Rust always sends as required.
        .disable_serde_phases()
}

/// Registers the state, the commands and the events on a builder, then runs `setup`: shared by
/// the real app and the mock-runtime tests, so that the tests exercise exactly what the app
/// exposes.
pub fn with_commands<R: Runtime>(
    builder: tauri::Builder<R>,
    state: AppState,
    setup: impl FnOnce(&mut tauri::App<R>) -> Result<(), Box<dyn std::error::Error>> + Send + 'static,
) -> tauri::Builder<R> {
    builder
        .manage(state)
        .manage(app::updater::Found::default())
        .invoke_handler(command_list!(handler))
        .setup(move |app| {
            events::<R>().mount_events(app);
            setup(app)
        })
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
        );
    let setup = |app: &mut tauri::App| {
        if let Err(e) = background::watching::start(app.handle()) {
            log::warn!("the library will not follow file changes: {e}");
        }
        background::semantic::start(app.handle());
        tray::install(app.handle())?;
        shortcut::install_saved(app.handle());
        background::updates::check_at_start(app.handle());
        background::api::start(app.handle());
        Ok(())
    };
    let builder = builder.on_window_event(|window, event| match event {
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
    let app = with_commands(builder, state, setup)
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
