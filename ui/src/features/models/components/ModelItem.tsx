import { useState } from "react";
import { Detail } from "../../../components/Detail";
import { describeError, isCommandError, type ModelRow } from "../../../lib/ipc";
import { cancelDownload, forget, pauseDownload, startDownload, type Download } from "../../../stores/downloads";
import { formatBytes } from "../../../lib/format";
import { FitView } from "./FitView";
import { ProgressView } from "./ProgressView";
import type { Fit } from "../fit";
import { api } from "../api";

export function ModelItem({ row, fit, download, onChanged, onRecheck }: { row: ModelRow; fit: Fit | undefined; download: Download | undefined; onChanged: () => Promise<void>; onRecheck: () => void }) {
  const [message, setMessage] = useState<{ text: string; overridable: boolean } | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const installed = row.installed !== null;
  const running = download?.state === "running";
  const size = fit?.state === "ok" ? fit.check.downloadBytes : 0;
  const tooBig = fit?.state === "ok" && fit.check.fit.verdict === "doesNotFit";

  const act = async (f: () => Promise<unknown>) => {
    try {
      setMessage(null);
      await f();
      await onChanged();
    } catch (e) {
      setMessage({ text: describeError(e), overridable: isCommandError(e) && e.kind === "doesNotFit" });
    }
  };
  const start = () => {
    startDownload(row.repo, () => void onChanged().then(onRecheck));
  };

  return (
    <li className={`model${row.active ? " active" : ""}`} data-testid="model" data-repo={row.repo}>
      <div className="model-head">
        <div>
          <div className="model-name">
            {row.name} {row.default && <span className="tag">Recommended</span>} {row.active && <span className="tag active-tag">Active</span>}
          </div>
          <div className="muted model-repo">
            {row.repo}
            {size > 0 && <> · {formatBytes(size)} download</>}
            {row.installed && <> · {formatBytes(row.installed.diskBytes)} on disk</>}
          </div>
          {row.description !== null && <div className="model-desc">{row.description}</div>}
        </div>
        <div className="model-actions">
          {installed && !row.active && (
            <button type="button" onClick={() => void act(() => api.setActiveModel(row.repo, false))}>
              Use
            </button>
          )}
          {installed && (
            <button type="button" onClick={() => void act(() => api.revealModel(row.repo))}>
              Show in folder
            </button>
          )}
          {installed &&
            (confirmDelete ? (
              <>
                <button type="button" className="danger" onClick={() => void act(() => api.deleteModel(row.repo).then(() => { forget(row.repo); }))}>
                  Delete {row.installed ? formatBytes(row.installed.diskBytes) : ""}
                </button>
                <button type="button" onClick={() => { setConfirmDelete(false); }}>
                  Keep
                </button>
              </>
            ) : (
              <button type="button" onClick={() => { setConfirmDelete(true); }}>
                Delete…
              </button>
            ))}
          {!installed && !running && row.pending === null && (
            <button type="button" className={tooBig ? undefined : "primary"} onClick={start}>
              {tooBig ? "Download anyway" : "Download"}
            </button>
          )}
          {!installed && !running && row.pending !== null && (
            <>
              <button type="button" className="primary" onClick={start}>
                Resume
              </button>
              <button type="button" onClick={() => void act(() => cancelDownload(row.repo))}>
                Discard
              </button>
            </>
          )}
          {running && (
            <>
              <button type="button" onClick={() => void pauseDownload(row.repo)}>
                Pause
              </button>
              <button type="button" onClick={() => void act(() => cancelDownload(row.repo))}>
                Cancel
              </button>
            </>
          )}
        </div>
      </div>
      {!installed && <FitView fit={fit} onRecheck={onRecheck} />}
      {running && <ProgressView progress={download.progress} />}
      {!running && !installed && row.pending !== null && (
        <p className={row.pending.error === null ? "muted" : "warning"} data-testid="pending">
          {row.pending.error ?? "Paused"} · {formatBytes(row.pending.doneBytes ?? 0)} of {formatBytes(row.pending.totalBytes)} downloaded
        </p>
      )}
      {download?.state === "failed" && row.pending === null && (
        <div className="warning">
          <p>{download.message}</p>
          <Detail text={download.detail} />
        </div>
      )}
      {message !== null && (
        <p role="alert" className="warning" data-testid="model-message">
          {message.text}{" "}
          {message.overridable && (
            <button type="button" className="link" onClick={() => void act(() => api.setActiveModel(row.repo, true))}>
              Use anyway
            </button>
          )}
        </p>
      )}
    </li>
  );
}
