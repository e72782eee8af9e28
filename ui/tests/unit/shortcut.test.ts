import { describe, expect, it } from "vitest";
import { acceleratorFromKeyPress, displayAccelerator, type KeyPress } from "../../src/features/settings/shortcut";

const press = (p: Partial<KeyPress>): KeyPress => ({ key: "", code: "", ctrlKey: false, metaKey: false, altKey: false, shiftKey: false, ...p });

describe("acceleratorFromKeyPress", () => {
  it("writes the main modifier portably", () => {
    expect(acceleratorFromKeyPress(press({ key: " ", code: "Space", ctrlKey: true, shiftKey: true }), "linux")).toBe("CommandOrControl+Shift+Space");
    expect(acceleratorFromKeyPress(press({ key: " ", code: "Space", metaKey: true, shiftKey: true }), "macos")).toBe("CommandOrControl+Shift+Space");
  });
  it("uses the physical key, not the typed character", () => {
    expect(acceleratorFromKeyPress(press({ key: "Å", code: "KeyA", altKey: true, ctrlKey: true }), "linux")).toBe("CommandOrControl+Alt+A");
  });
  it("waits while only modifiers are held", () => {
    expect(acceleratorFromKeyPress(press({ key: "Shift", code: "ShiftLeft", shiftKey: true }), "linux")).toBeNull();
  });
  it("refuses keys without a real modifier", () => {
    expect(acceleratorFromKeyPress(press({ key: "k", code: "KeyK" }), "linux")).toBeNull();
    expect(acceleratorFromKeyPress(press({ key: "K", code: "KeyK", shiftKey: true }), "linux")).toBeNull();
  });
});

describe("displayAccelerator", () => {
  it("shows symbols on macOS and words elsewhere", () => {
    expect(displayAccelerator("CommandOrControl+Shift+Space", "macos")).toBe("⌘⇧Space");
    expect(displayAccelerator("CommandOrControl+Shift+Space", "linux")).toBe("Ctrl+Shift+Space");
  });
});
