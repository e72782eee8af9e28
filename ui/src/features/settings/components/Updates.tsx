import { useState } from "react";
import { describeError, errorDetail, type SettingsView, type UpdateCheck, type UpdateProgress } from "../../../lib/ipc";
import { Detail } from "../../../components/Detail";
import { formatBytes } from "../../../lib/format";
import { api } from "../api";

type UpdateState =
  | { state: "idle" }
  | { state: "checking" }
  | { state: "checked"; check: UpdateCheck }
  | { state: "installing"; version: string; progress: UpdateProgress | null }
  | { state: "installed"; version: string }
  | { state: "failed"; message: string; detail: string | null };

/** Updates: checked at start unless turned off, and here on demand; installing verifies the
 *  download's signature against Fathom's key first. */
export function Updates({ checkAtStart, onChanged }: { checkAtStart: boolean; onChanged: (v: SettingsView) => void }) {
  const [update, setUpdate] = useState<UpdateState>({ state: "idle" });
  const check = () => {
    setUpdate({ state: "checking" });
    api.checkForUpdate().then(
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
    const s = api.installUpdate((progress) => {
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
            api.setCheckUpdates(e.target.checked).then(onChanged, (err: unknown) => {
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
        <button type="button" className="primary" onClick={() => void api.restartApp()}>
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
