import { useEffect, useState } from "react";
import { describeError, type AppInfo, type SettingsView } from "../../lib/ipc";
import { acceleratorFromKeyPress, displayAccelerator } from "./shortcut";
import { startIndexing } from "../../stores/indexing";
import { showWelcome } from "../../lib/app-events";
import { Diagnostics } from "./components/Diagnostics";
import { Updates } from "./components/Updates";
import { LocalApi } from "./components/LocalApi";
import { Engine } from "./components/Engine";
import { LibraryServer } from "./components/LibraryServer";
import { api } from "./api";

export function SettingsPage() {
  const [info, setInfo] = useState<AppInfo | null>(null);
  const [view, setView] = useState<SettingsView | null>(null);
  const [recording, setRecording] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);

  useEffect(() => {
    void Promise.all([api.appInfo(), api.getSettings()]).then(
      ([i, v]) => {
        setInfo(i);
        setView(v);
      },
      (e: unknown) => {
        setMessage({ ok: false, text: describeError(e) });
      },
    );
  }, []);

  const platform = info?.platform ?? "linux";

  const onKeyDown = async (e: React.KeyboardEvent) => {
    e.preventDefault();
    if (e.key === "Escape") {
      setRecording(false);
      return;
    }
    const accelerator = acceleratorFromKeyPress(e, platform);
    if (accelerator === null) return;
    setRecording(false);
    try {
      const next = await api.setQuickShortcut(accelerator);
      setView(next);
      setMessage({ ok: true, text: `Quick query now opens with ${displayAccelerator(accelerator, platform)}.` });
    } catch (err) {
      setMessage({ ok: false, text: describeError(err) });
    }
  };

  const setHidden = async (hidden: boolean) => {
    try {
      setView(await api.setIndexHidden(hidden));
      // Bring every folder in line with the new rule.
      for (const f of await api.listFolders()) startIndexing(f.id, () => undefined);
      setMessage({ ok: true, text: hidden ? "Hidden files will be indexed." : "Hidden files will be left out." });
    } catch (err) {
      setMessage({ ok: false, text: describeError(err) });
    }
  };

  const setSemantic = async (on: boolean) => {
    try {
      setView(await api.setSemanticSearch(on));
      setMessage({ ok: true, text: on ? "Semantic search is on." : "Semantic search is off: search matches words only." });
    } catch (err) {
      setMessage({ ok: false, text: describeError(err) });
    }
  };

  const setIdle = async (minutes: number) => {
    try {
      setView(await api.setModelIdleMinutes(minutes));
      setMessage({ ok: true, text: minutes === 0 ? "The model stays loaded until Fathom quits." : `The model is unloaded after ${String(minutes)} minutes unused.` });
    } catch (err) {
      setMessage({ ok: false, text: describeError(err) });
    }
  };

  return (
    <section className="settings">
      <h2>Quick query</h2>
      <div className="row">
        <span>Shortcut</span>
        <kbd data-testid="shortcut">{view ? displayAccelerator(view.settings.quickShortcut, platform) : "…"}</kbd>
        {recording ? (
          <button type="button" className="recording" autoFocus onKeyDown={(e) => void onKeyDown(e)} onBlur={() => { setRecording(false); }} data-testid="shortcut-recorder">
            Press the new shortcut… (Esc to cancel)
          </button>
        ) : (
          <button type="button" onClick={() => { setRecording(true); setMessage(null); }} data-testid="change-shortcut">
            Change…
          </button>
        )}
      </div>
      {view?.shortcutError != null && (
        <p className="warning" data-testid="shortcut-error">
          The shortcut is not active: {view.shortcutError}
        </p>
      )}
      {message !== null && (
        <p className={message.ok ? "ok" : "warning"} role={message.ok ? "status" : "alert"} data-testid="settings-message">
          {message.text}
        </p>
      )}
      <h2>Library</h2>
      <label className="row">
        <input
          type="checkbox"
          data-testid="index-hidden"
          checked={view?.settings.indexHidden ?? false}
          disabled={view === null}
          onChange={(e) => void setHidden(e.target.checked)}
        />
        Index hidden files and folders (names starting with a dot)
      </label>
      <label className="row">
        <input
          type="checkbox"
          data-testid="semantic-search"
          checked={view?.settings.semanticSearch ?? true}
          disabled={view === null}
          onChange={(e) => void setSemantic(e.target.checked)}
        />
        Semantic search: find passages by meaning as well as by their words (downloads a 90 MB model once)
      </label>
      <h2>Model</h2>
      <label className="row">
        Free the model&apos;s memory after
        <select aria-label="Unload the model after" value={view?.settings.modelIdleMinutes ?? 15} disabled={view === null} onChange={(e) => void setIdle(Number(e.target.value))}>
          {[5, 15, 60, 240].map((m) => (
            <option key={m} value={m}>
              {m < 60 ? `${String(m)} minutes` : `${String(m / 60)} hour${m === 60 ? "" : "s"}`} unused
            </option>
          ))}
          <option value={0}>never (until Fathom quits)</option>
        </select>
      </label>
      <button type="button" className="link" onClick={() => void api.unloadModel().then(() => { setMessage({ ok: true, text: "The model was unloaded." }); }, (err: unknown) => { setMessage({ ok: false, text: describeError(err) }); })}>
        Unload now
      </button>
      <Engine view={view} onChanged={setView} />
      <LibraryServer view={view} onChanged={setView} />
      <LocalApi />
      <h2>About</h2>
      {info && (
        <dl className="about">
          <dt>Version</dt>
          <dd>{info.version}</dd>
          <dt>Data</dt>
          <dd>{info.dataDir}</dd>
          <dt>Settings</dt>
          <dd>{info.configDir}</dd>
        </dl>
      )}
      <Updates checkAtStart={view?.settings.checkUpdates ?? true} onChanged={setView} />
      <Diagnostics />
      <button
        type="button"
        className="link"
        data-testid="show-welcome"
        onClick={() => {
          api.setFirstRunDone(false).then(
            () => {
              showWelcome();
            },
            (err: unknown) => {
              setMessage({ ok: false, text: describeError(err) });
            },
          );
        }}
      >
        Show the welcome guide again
      </button>
    </section>
  );
}


