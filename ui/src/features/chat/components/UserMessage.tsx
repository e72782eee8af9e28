import { useState } from "react";

export function UserMessage({ text, busy, onEdit }: { text: string; busy: boolean; onEdit: (text: string) => void }) {
  const [editing, setEditing] = useState<string | null>(null);
  if (editing !== null) {
    return (
      <form
        className="message user editing"
        data-testid="message"
        data-role="user"
        onSubmit={(e) => {
          e.preventDefault();
          if (editing.trim() === "") return;
          onEdit(editing);
          setEditing(null);
        }}
      >
        <textarea aria-label="Edit message" value={editing} onChange={(e) => { setEditing(e.target.value); }} rows={3} />
        <div className="message-footer">
          <button type="submit" disabled={busy}>
            Save and reply
          </button>
          <button type="button" className="link" onClick={() => { setEditing(null); }}>
            Cancel
          </button>
        </div>
      </form>
    );
  }
  return (
    <div className="message user" data-testid="message" data-role="user">
      <div className="user-text">{text}</div>
      <div className="message-footer">
        <button type="button" className="link" onClick={() => { setEditing(text); }} disabled={busy}>
          Edit
        </button>
      </div>
    </div>
  );
}
