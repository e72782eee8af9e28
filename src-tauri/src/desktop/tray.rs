//! The tray (Linux) / menu-bar (macOS) icon and its menu.

use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Runtime};

use super::windows;

// macOS tints a template image (black + alpha) to suit the menu bar; other desktops show it as is.
#[cfg(target_os = "macos")]
const ICON: &[u8] = include_bytes!("../../../assets/tray/trayTemplate@2x.png");
#[cfg(not(target_os = "macos"))]
const ICON: &[u8] = include_bytes!("../../../assets/tray/tray.png");

pub fn install<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let menu = Menu::with_items(
        app,
        &[
            &MenuItem::with_id(app, "quick", "Quick query", true, None::<&str>)?,
            &MenuItem::with_id(app, "open", "Open Fathom", true, None::<&str>)?,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, "quit", "Quit Fathom", true, None::<&str>)?,
        ],
    )?;
    TrayIconBuilder::with_id("fathom")
        .icon(Image::from_bytes(ICON)?)
        .icon_as_template(cfg!(target_os = "macos"))
        .tooltip("Fathom")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "quick" => windows::show_quick(app),
            "open" => windows::show_main(app),
            "quit" => app.exit(0),
            _ => {}
        })
        .build(app)?;
    Ok(())
}
