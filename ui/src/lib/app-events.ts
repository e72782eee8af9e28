// Signals between parts of the app that do not import each other (features never import one
// another): a DOM event on the window.

/** Asks the app to show the welcome guide again (Settings → "Show the welcome guide"). */
export const SHOW_WELCOME_EVENT = "fathom:show-welcome";

export function showWelcome() {
  window.dispatchEvent(new Event(SHOW_WELCOME_EVENT));
}
