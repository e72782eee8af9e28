// Settings → Where the model runs: on this computer (the model chosen on the Models page), or on
// an OpenAI-compatible server (vLLM, llama.cpp's server, LM Studio, another Fathom) for a machine
// that cannot hold the model. Checking the connection lists the server's models.
import { useState } from "react";
import { describeError, type ComputeBackend, type EnginePlace, type ServerSettings, type SettingsView } from "../../../lib/ipc";
import { api } from "../api";

export function Engine({ view, onChanged }: { view: SettingsView | null; onChanged: (v: SettingsView) => void }) {
  // The form starts from what is saved, once it has loaded.
  if (view === null)
    return (
      <div className="engine" data-testid="engine" id="engine">
        <h2>Where the model runs</h2>
      </div>
    );
  return <EngineForm view={view} onChanged={onChanged} />;
}

function EngineForm({ view, onChanged }: { view: SettingsView; onChanged: (v: SettingsView) => void }) {
  const saved = view.settings.server;
  const [place, setPlace] = useState<EnginePlace>(view.settings.engine);
  const [url, setUrl] = useState(saved.url);
  const [key, setKey] = useState(saved.key ?? "");
  const [model, setModel] = useState(saved.model ?? "");
  const [models, setModels] = useState<string[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);

  const server = (): ServerSettings => ({ url: url.trim(), key: key.trim() === "" ? null : key.trim(), model: model.trim() === "" ? null : model.trim() });

  const save = async (next: EnginePlace) => {
    setBusy(true);
    setMessage(null);
    try {
      onChanged(await api.setEngine(next, next === "server" ? server() : saved));
      setPlace(next);
      setMessage({ ok: true, text: next === "server" ? "Chat and Ask now run on the server." : "Chat and Ask now run on this computer." });
    } catch (e) {
      setMessage({ ok: false, text: describeError(e) });
    } finally {
      setBusy(false);
    }
  };

  const chooseBackend = async (backend: ComputeBackend) => {
    setBusy(true);
    setMessage(null);
    try {
      onChanged(await api.setBackend(backend));
      setMessage({ ok: true, text: "The model runs this way from its next load." });
    } catch (e) {
      setMessage({ ok: false, text: describeError(e) });
    } finally {
      setBusy(false);
    }
  };

  const check = async () => {
    setBusy(true);
    setMessage(null);
    setModels(null);
    try {
      const list = await api.serverModels(server());
      setModels(list);
      setMessage(list.length === 0 ? { ok: false, text: "The server answers but serves no models." } : { ok: true, text: `Connected: it serves ${list.join(", ")}.` });
    } catch (e) {
      setMessage({ ok: false, text: describeError(e) });
    } finally {
      setBusy(false);
    }
  };

  const onServer = view.settings.engine === "server";
  return (
    <div className="engine" data-testid="engine" id="engine">
      <h2>Where the model runs</h2>
      <div role="radiogroup" aria-label="Run the model on">
        <label className="row">
          <input type="radio" name="engine" data-testid="engine-computer" checked={place === "computer"} disabled={busy} onChange={() => { if (onServer) void save("computer"); else setPlace("computer"); }} />
          This computer
        </label>
        <label className="row">
          <input type="radio" name="engine" data-testid="engine-server" checked={place === "server"} disabled={busy} onChange={() => { setPlace("server"); setMessage(null); }} />
          A server: for a computer without the memory for the model
        </label>
      </div>
      {place === "computer" && (
        <label className="row">
          Run it with
          <select data-testid="engine-backend" value={view.settings.backend} disabled={busy} onChange={(e) => void chooseBackend(e.target.value as ComputeBackend)}>
            <option value="auto">Automatic: MLX on a Mac, llama.cpp elsewhere</option>
            <option value="mlx">MLX (Metal on a Mac; one CPU core&apos;s speed elsewhere)</option>
            <option value="llamaCpp">llama.cpp (every CPU core; converts the model once)</option>
          </select>
        </label>
      )}
      {place === "server" && (
        <form
          className="server-form"
          onSubmit={(e) => {
            e.preventDefault();
            void save("server");
          }}
        >
          <p className="muted">
            Any OpenAI-compatible server running Context-1 or gpt-oss: vLLM, llama.cpp&apos;s server, LM Studio, or another Fathom&apos;s Local API. Chat and Ask send your conversations and the passages they find in your library to it.
          </p>
          <label className="row">
            Address
            <input data-testid="server-url" type="url" required placeholder="http://192.168.1.20:8000/v1" value={url} onChange={(e) => { setUrl(e.target.value); }} />
          </label>
          <label className="row">
            API key
            <input data-testid="server-key" type="password" autoComplete="off" placeholder="none" value={key} onChange={(e) => { setKey(e.target.value); }} />
          </label>
          <label className="row">
            Model
            <input data-testid="server-model" list="server-models" placeholder="the server's first" value={model} onChange={(e) => { setModel(e.target.value); }} />
            <datalist id="server-models">
              {(models ?? []).map((m) => (
                <option key={m} value={m} />
              ))}
            </datalist>
          </label>
          <div className="row">
            <button type="button" data-testid="server-check" disabled={busy || url.trim() === ""} onClick={() => void check()}>
              Check connection
            </button>
            <button type="submit" data-testid="server-save" disabled={busy || url.trim() === ""}>
              {onServer ? "Save" : "Run on this server"}
            </button>
          </div>
        </form>
      )}
      {message !== null && (
        <p className={message.ok ? "ok" : "warning"} role={message.ok ? "status" : "alert"} data-testid="engine-message">
          {message.text}
        </p>
      )}
    </div>
  );
}
