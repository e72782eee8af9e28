// Turns a key press into Tauri's accelerator syntax ("CommandOrControl+Shift+Space") and back
// into what the user's keyboard shows ("⌘⇧Space" on macOS, "Ctrl+Shift+Space" elsewhere).

export interface KeyPress {
  key: string;
  code: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
  shiftKey: boolean;
}

const MODIFIER_KEYS = new Set(["Control", "Meta", "Alt", "Shift", "OS", "Super", "Hyper"]);

/** The key part from the physical key (`code`), so layouts and Shift do not change it. */
function keyName(code: string): string | null {
  if (/^Key[A-Z]$/.test(code)) return code.slice(3);
  if (/^Digit[0-9]$/.test(code)) return code.slice(5);
  if (/^F([1-9]|1[0-9]|2[0-4])$/.test(code)) return code;
  const named: Record<string, string> = {
    Space: "Space",
    Enter: "Enter",
    Tab: "Tab",
    Backquote: "Backquote",
    Minus: "Minus",
    Equal: "Equal",
    BracketLeft: "BracketLeft",
    BracketRight: "BracketRight",
    Backslash: "Backslash",
    Semicolon: "Semicolon",
    Quote: "Quote",
    Comma: "Comma",
    Period: "Period",
    Slash: "Slash",
    ArrowUp: "ArrowUp",
    ArrowDown: "ArrowDown",
    ArrowLeft: "ArrowLeft",
    ArrowRight: "ArrowRight",
  };
  return named[code] ?? null;
}

/**
 * The accelerator for a key press, or null while only modifiers are held or the combination has
 * no modifier (a global shortcut without one would steal ordinary typing).
 */
export function acceleratorFromKeyPress(e: KeyPress, platform: string): string | null {
  if (MODIFIER_KEYS.has(e.key)) return null;
  const key = keyName(e.code);
  if (key === null) return null;
  const mods: string[] = [];
  const mac = platform === "macos";
  // The platform's main modifier is written portably, so settings move between machines.
  if (mac ? e.metaKey : e.ctrlKey) mods.push("CommandOrControl");
  if (mac && e.ctrlKey) mods.push("Control");
  if (!mac && e.metaKey) mods.push("Super");
  if (e.altKey) mods.push("Alt");
  if (e.shiftKey) mods.push("Shift");
  const hasModifier = mods.some((m) => m !== "Shift");
  if (!hasModifier) return null;
  return [...mods, key].join("+");
}

/** How an accelerator reads on this platform. */
export function displayAccelerator(accelerator: string, platform: string): string {
  const mac = platform === "macos";
  const names: Record<string, string> = mac
    ? { CommandOrControl: "⌘", CmdOrCtrl: "⌘", Command: "⌘", Super: "⌘", Control: "⌃", Ctrl: "⌃", Alt: "⌥", Option: "⌥", Shift: "⇧" }
    : { CommandOrControl: "Ctrl", CmdOrCtrl: "Ctrl", Control: "Ctrl", Ctrl: "Ctrl", Super: "Super", Alt: "Alt", Shift: "Shift" };
  const parts = accelerator.split("+").map((p) => names[p] ?? p);
  return mac ? parts.join("") : parts.join("+");
}
