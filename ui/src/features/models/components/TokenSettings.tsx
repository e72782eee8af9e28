import { useEffect, useState } from "react";
import { describeError } from "../../../lib/ipc";
import { api } from "../api";

export function TokenSettings() {
  const [saved, setSaved] = useState<boolean | null>(null);
  const [token, setToken] = useState("");
  const [note, setNote] = useState<string | null>(null);
  useEffect(() => {
    void api.getSettings().then((v) => { setSaved(v.settings.hfToken !== null); }, () => undefined);
  }, []);
  const save = async (value: string | null) => {
    try {
      const v = await api.setHfToken(value);
      setSaved(v.settings.hfToken !== null);
      setToken("");
      setNote(value === null ? "Token removed." : "Token saved.");
    } catch (e) {
      setNote(describeError(e));
    }
  };
  return (
    <div className="token">
      <h2>Hugging Face token</h2>
      <p className="muted">Only needed for gated or private models. {saved === true ? "A token is saved." : "None saved; HF_TOKEN is used if set."}</p>
      <form onSubmit={(e) => { e.preventDefault(); void save(token); }}>
        <input type="password" aria-label="Hugging Face token" placeholder="hf_…" value={token} onChange={(e) => { setToken(e.target.value); }} />
        <button type="submit" disabled={token.trim().length === 0}>
          Save
        </button>
        {saved === true && (
          <button type="button" onClick={() => void save(null)}>
            Remove
          </button>
        )}
      </form>
      {note !== null && <p role="status" data-testid="token-note">{note}</p>}
    </div>
  );
}
