import { useEffect, useState } from "react";
import { commands, describeError, type Folder } from "../lib/ipc";
import { AskPage } from "../features/ask/AskPage";
import { SearchPage } from "../features/search/SearchPage";

/** The small always-on-top window: Ask over the library (plain search without a model), the
 *  answer and its sources compactly; the full run opens in the main window. Escape hides it. */
export function QuickQuery() {
  const [folders, setFolders] = useState<Folder[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") void commands.hideQuickWindow();
    };
    const onFocus = () => {
      document.querySelector<HTMLInputElement>('input[type="search"]')?.focus();
      commands.listFolders().then(setFolders, (e: unknown) => {
        setError(describeError(e));
      });
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
    <div className="quick-query" data-testid="quick">
      <AskPage folders={folders} compact onOpenFull={(id) => void commands.openMainWindow(id)} withoutModel={<SearchPage folders={folders} />} />
      {error !== null && <p className="warning">{error}</p>}
      <div className="quick-actions">
        <button type="button" onClick={() => void commands.openMainWindow(null)}>
          Open Fathom
        </button>
        <span className="muted">Esc to close</span>
      </div>
    </div>
  );
}
