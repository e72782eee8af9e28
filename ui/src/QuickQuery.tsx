import { useEffect, useRef, useState } from "react";
import { commands, describeError } from "./ipc";
import { formatCount } from "./format";

/** The small always-on-top window: Escape hides it; Ask arrives with the engine. */
export function QuickQuery() {
  const input = useRef<HTMLInputElement>(null);
  const [folders, setFolders] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") void commands.hideQuickWindow();
    };
    const onFocus = () => {
      input.current?.focus();
      commands.listFolders().then(
        (f) => {
          setFolders(f.length);
        },
        (e: unknown) => {
          setError(describeError(e));
        },
      );
    };
    window.addEventListener("keydown", onKey);
    window.addEventListener("focus", onFocus);
    onFocus();
    return () => {
      window.removeEventListener("keydown", onKey);
      window.removeEventListener("focus", onFocus);
    };
  }, []);

  return (
    <div className="quick-query">
      <input ref={input} className="quick-input" placeholder="Ask your library…" aria-label="Question" data-testid="quick-input" />
      <p className="muted" data-testid="quick-status">
        Answers from your library arrive with the on-device model; this version cannot answer yet.
        {folders !== null && ` Your library has ${formatCount(folders, "folder", "folders")}.`}
      </p>
      {error !== null && <p className="warning">{error}</p>}
      <div className="quick-actions">
        <button type="button" onClick={() => void commands.openMainWindow()}>
          Open Fathom
        </button>
        <span className="muted">Esc to close</span>
      </div>
    </div>
  );
}
