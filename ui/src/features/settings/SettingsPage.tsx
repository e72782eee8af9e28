import { useEffect, useState } from "react";
import { commands, describeError, errorDetail, streams, type AppInfo, type SettingsView, type UpdateCheck, type UpdateProgress } from "../../lib/ipc";
import { Detail } from "../../components/Detail";
import { formatBytes } from "../../lib/format";
import { acceleratorFromKeyPress, displayAccelerator } from "./shortcut";
import { startIndexing } from "../../stores/indexing";
import { showWelcome } from "../../lib/app-events";

export function SettingsPage() {
  const [info, setInfo] = useState<AppInfo | null>(null);
  const [view, setView] = useState<SettingsView | null>(null);
  const [recording, setRecording] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);

  useEffect(() => {
    void Promise.all([commands.appInfo(), commands.getSettings()]).then(
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
      const next = await commands.setQuickShortcut(accelerator);
      setView(next);
      setMessage({ ok: true, text: `Quick query now opens with ${displayAccelerator(accelerator, platform)}.` });
    } catch (err) {
      setMessage({ ok: false, text: describeError(err) });
    }
  };

  const setHidden = async (hidden: boolean) => {
    try {
      setView(await commands.setIndexHidden(hidden));
      // Bring every folder in line with the new rule.
      for (const f of await commands.listFolders()) startIndexing(f.id, () => undefined);
      setMessage({ ok: true, text: hidden ? "Hidden files will be indexed." : "Hidden files will be left out." });
    } catch (err) {
      setMessage({ ok: false, text: describeError(err) });
    }
  };

  const setSemantic = async (on: boolean) => {
    try {
      setView(await commands.setSemanticSearch(on));
      setMessage({ ok: true, text: on ? "Semantic search is on." : "Semantic search is off: search matches words only." });
    } catch (err) {
      setMessage({ ok: false, text: describeError(err) });
    }
  };

  const setIdle = async (minutes: number) => {
    try {
      setView(await commands.setModelIdleMinutes(minutes));
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
      <button type="button" className="link" onClick={() => void commands.unloadModel().then(() => { setMessage({ ok: true, text: "The model was unloaded." }); }, (err: unknown) => { setMessage({ ok: false, text: describeError(err) }); })}>
        Unload now
      </button>
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
          commands.setFirstRunDone(false).then(
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

/** "Copy diagnostics": versions, system, memory, model, library size and the log's tail for a bug
 *  report (never a document's text or the token). Shown as well, for when the clipboard is refused. */
function Diagnostics() {
  const [text, setText] = useState<string | null>(null);
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const copy = async () => {
    try {
      const report = await commands.diagnostics();
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

type UpdateState =
  | { state: "idle" }
  | { state: "checking" }
  | { state: "checked"; check: UpdateCheck }
  | { state: "installing"; version: string; progress: UpdateProgress | null }
  | { state: "installed"; version: string }
  | { state: "failed"; message: string; detail: string | null };

/** Updates: checked at start unless turned off, and here on demand; installing verifies the
 *  download's signature against Fathom's key first. */
function Updates({ checkAtStart, onChanged }: { checkAtStart: boolean; onChanged: (v: SettingsView) => void }) {
  const [update, setUpdate] = useState<UpdateState>({ state: "idle" });
  const check = () => {
    setUpdate({ state: "checking" });
    commands.checkForUpdate().then(
      (c) => {
        setUpdate({ state: "checked", check: c });
      },
      (e: unknown) => {
        setUpdate({ state: "failed", message: describeError(e), detail: errorDetail(e) });
      },
    );
  };
  const install = (version: string) => {
    setUpdate({ state: "installing", version, progress: null });
    const s = streams.installUpdate((progress) => {
      setUpdate((u) => (u.state === "installing" ? { ...u, progress } : u));
    });
    s.result.then(
      (v) => {
        setUpdate({ state: "installed", version: v });
      },
      (e: unknown) => {
        setUpdate({ state: "failed", message: describeError(e), detail: errorDetail(e) });
      },
    );
  };
  return (
    <div className="updates" data-testid="updates" data-state={update.state}>
      <h2>Updates</h2>
      <label className="row">
        <input
          type="checkbox"
          data-testid="check-updates"
          checked={checkAtStart}
          onChange={(e) => {
            commands.setCheckUpdates(e.target.checked).then(onChanged, (err: unknown) => {
              setUpdate({ state: "failed", message: describeError(err), detail: null });
            });
          }}
        />
        Check for a newer Fathom when it starts
      </label>
      <button type="button" onClick={check} disabled={update.state === "checking" || update.state === "installing"} data-testid="check-now">
        Check now
      </button>
      <p className="muted" data-testid="update-status" role="status">
        {update.state === "checking" && "Checking…"}
        {update.state === "checked" && !update.check.configured && `Fathom ${update.check.current} was built without an update key: it does not update itself.`}
        {update.state === "checked" && update.check.configured && update.check.available === null && `Fathom ${update.check.current} is up to date.`}
        {update.state === "checked" && update.check.available !== null && `Fathom ${update.check.available.version} is available (you have ${update.check.current}).`}
        {update.state === "installing" && `Installing Fathom ${update.version}… ${update.progress !== null ? formatBytes(update.progress.doneBytes) : ""}`}
        {update.state === "installed" && `Fathom ${update.version} is installed. Restart Fathom to use it.`}
      </p>
      {update.state === "checked" && update.check.available !== null && (
        <button type="button" className="primary" data-testid="install-update" onClick={() => { if (update.check.available) install(update.check.available.version); }}>
          Install {update.check.available.version}
        </button>
      )}
      {update.state === "installed" && (
        <button type="button" className="primary" onClick={() => void commands.restartApp()}>
          Restart now
        </button>
      )}
      {update.state === "failed" && (
        <div className="warning" role="alert" data-testid="update-error">
          <p>{update.message}</p>
          <Detail text={update.detail} />
        </div>
      )}
    </div>
  );
}
