import { useState } from "react";
import { describeError } from "../../../lib/ipc";
import { api } from "../api";

/** "Copy diagnostics": versions, system, memory, model, library size and the log's tail for a bug
 *  report (never a document's text or the token). Shown as well, for when the clipboard is refused. */
export function Diagnostics() {
  const [text, setText] = useState<string | null>(null);
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const copy = async () => {
    try {
      const report = await api.diagnostics();
      setText(report);
      try {
        await navigator.clipboard.writeText(report);
        setNote({ ok: true, text: "Copied. Paste it into your bug report; it holds no document text." });
      } catch {
        setNote({ ok: false, text: "The clipboard refused it: select the text below and copy it." });
      }
    } catch (e) {
      setNote({ ok: false, text: describeError(e) });
    }
  };
  return (
    <div className="diagnostics">
      <button type="button" onClick={() => void copy()} data-testid="copy-diagnostics">
        Copy diagnostics
      </button>
      {note !== null && (
        <p className={note.ok ? "ok" : "warning"} role={note.ok ? "status" : "alert"} data-testid="diagnostics-note">
          {note.text}
        </p>
      )}
      {text !== null && <textarea readOnly aria-label="Diagnostics" value={text} rows={8} data-testid="diagnostics-text" />}
    </div>
  );
}
