import { useCallback, useEffect, useState } from "react";
import { Detail } from "../../components/Detail";
import { commands, describeError, isCommandError, type FitCheck, type MemoryInfo, type ModelRow, type PullProgress } from "../../lib/ipc";
import { cancelDownload, forget, pauseDownload, startDownload, useDownloads, type Download } from "../../stores/downloads";
import { formatBytes, formatDuration } from "../../lib/format";

type Fit = { state: "checking" } | { state: "ok"; check: FitCheck } | { state: "failed"; message: string };

const VERDICT_TEXT = { fits: "Fits", fitsShorterContext: "Fits with a shorter context", doesNotFit: "Does not fit" } as const;

export function MemorySummary({ memory }: { memory: MemoryInfo }) {
  const source = {
    available: "memory available now",
    gpuWorkingSet: "the GPU's working-set limit or the memory available now, whichever is less",
    totalFraction: "two thirds of memory or the memory available now, whichever is less",
    given: "the limit you set",
  }[memory.source];
  return (
    <p className="muted" data-testid="memory">
      This computer has {formatBytes(memory.totalBytes)} of memory; models may use {formatBytes(memory.budgetBytes)} ({source}).
    </p>
  );
}

export function ModelsPage() {
  const [rows, setRows] = useState<ModelRow[] | null>(null);
  const [memory, setMemory] = useState<MemoryInfo | null>(null);
  const [fits, setFits] = useState<Record<string, Fit>>({});
  const [error, setError] = useState<string | null>(null);
  const downloads = useDownloads();

  const refresh = useCallback(async () => {
    try {
      setRows(await commands.listModels());
    } catch (e) {
      setError(describeError(e));
    }
  }, []);

  const check = useCallback(async (repo: string) => {
    setFits((f) => ({ ...f, [repo]: { state: "checking" } }));
    try {
      const result = await commands.checkFit(repo, null);
      setFits((f) => ({ ...f, [repo]: { state: "ok", check: result } }));
      return result;
    } catch (e) {
      setFits((f) => ({ ...f, [repo]: { state: "failed", message: describeError(e) } }));
      return null;
    }
  }, []);

  useEffect(() => {
    void commands.memoryInfo().then(setMemory, () => undefined);
    commands.listModels().then(
      (list) => {
        setRows(list);
        for (const r of list) void check(r.repo);
      },
      (e: unknown) => {
        setError(describeError(e));
      },
    );
  }, [check]);

  return (
    <section className="models">
      {memory && <MemorySummary memory={memory} />}
      {error !== null && (
        <p role="alert" className="warning">
          {error}
        </p>
      )}
      {rows === null ? (
        <p className="muted">Loading…</p>
      ) : (
        <ul className="model-list" data-testid="models">
          {rows.map((row) => (
            <ModelItem key={row.repo} row={row} fit={fits[row.repo]} download={downloads.get(row.repo)} onChanged={refresh} onRecheck={() => void check(row.repo)} />
          ))}
        </ul>
      )}
      <AddModel
        known={rows?.map((r) => r.repo) ?? []}
        onCheck={check}
        fits={fits}
        onStart={(repo) => {
          startDownload(repo, () => void refresh());
          void refresh();
        }}
      />
      <TokenSettings />
    </section>
  );
}

function FitView({ fit, onRecheck }: { fit: Fit | undefined; onRecheck: () => void }) {
  if (fit === undefined || fit.state === "checking") return <span className="muted" data-testid="fit" data-verdict="checking">Checking whether it fits…</span>;
  if (fit.state === "failed")
    return (
      <span className="warning" data-testid="fit" data-verdict="unknown">
        Could not check: {fit.message}{" "}
        <button type="button" className="link" onClick={onRecheck}>
          Try again
        </button>
      </span>
    );
  const { fit: report } = fit.check;
  return (
    <details className={`fit fit-${report.verdict}`} data-testid="fit" data-verdict={report.verdict}>
      <summary>
        <strong>{VERDICT_TEXT[report.verdict]}</strong> · needs {formatBytes(report.requested.totalBytes)} at {report.requested.context.toLocaleString("en-US")} tokens
        {report.verdict !== "doesNotFit" && report.maxContext > 0 && <> · up to {report.maxContext.toLocaleString("en-US")} tokens</>}
      </summary>
      <p>{report.summary}</p>
      <dl className="about">
        <dt>Weights</dt>
        <dd>{formatBytes(report.requested.weightsBytes)}</dd>
        <dt>KV cache</dt>
        <dd>{formatBytes(report.requested.kvCacheBytes)}</dd>
        <dt>Runtime</dt>
        <dd>{formatBytes(report.requested.runtimeBytes)}</dd>
        <dt>Available</dt>
        <dd>{formatBytes(report.budgetBytes)}</dd>
      </dl>
    </details>
  );
}

function ProgressView({ progress }: { progress: PullProgress | null }) {
  if (progress === null) return <div className="muted">Starting…</div>;
  const pct = progress.totalBytes > 0 ? (100 * progress.doneBytes) / progress.totalBytes : 0;
  const retrying = progress.files.find((f) => f.note !== null);
  return (
    <div className="download" data-testid="progress">
      <progress max={progress.totalBytes} value={progress.doneBytes} aria-label="Download progress" />
      <span>
        {formatBytes(progress.doneBytes)} of {formatBytes(progress.totalBytes)} ({pct.toFixed(0)}%)
        {(progress.bytesPerSecond ?? 0) > 0 && <> · {formatBytes(progress.bytesPerSecond ?? 0)}/s</>}
        {progress.etaSeconds !== null && <> · {formatDuration(progress.etaSeconds)} left</>}
      </span>
      {retrying?.note != null && <span className="warning"> · {retrying.note}</span>}
      <details>
        <summary>Files</summary>
        <ul className="files">
          {progress.files.map((f) => (
            <li key={f.path}>
              {f.path}: {formatBytes(f.done)} of {formatBytes(f.size)} {f.state === "done" ? "✓" : ""}
            </li>
          ))}
        </ul>
      </details>
    </div>
  );
}

function ModelItem({ row, fit, download, onChanged, onRecheck }: { row: ModelRow; fit: Fit | undefined; download: Download | undefined; onChanged: () => Promise<void>; onRecheck: () => void }) {
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
            <button type="button" onClick={() => void act(() => commands.setActiveModel(row.repo, false))}>
              Use
            </button>
          )}
          {installed && (
            <button type="button" onClick={() => void act(() => commands.revealModel(row.repo))}>
              Show in folder
            </button>
          )}
          {installed &&
            (confirmDelete ? (
              <>
                <button type="button" className="danger" onClick={() => void act(() => commands.deleteModel(row.repo).then(() => { forget(row.repo); }))}>
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
            <button type="button" className="link" onClick={() => void act(() => commands.setActiveModel(row.repo, true))}>
              Use anyway
            </button>
          )}
        </p>
      )}
    </li>
  );
}

function AddModel({ known, fits, onCheck, onStart }: { known: string[]; fits: Record<string, Fit>; onCheck: (repo: string) => Promise<FitCheck | null>; onStart: (repo: string) => void }) {
  const [repo, setRepo] = useState("");
  const [checked, setChecked] = useState<string | null>(null);
  const id = repo.trim();
  const fit = checked === null ? undefined : fits[checked];
  return (
    <div className="add-model">
      <h2>Another model from Hugging Face</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (id.length === 0) return;
          setChecked(id);
          void onCheck(id);
        }}
      >
        <input aria-label="Hugging Face repository" placeholder="owner/name of a gpt-oss checkpoint" value={repo} onChange={(e) => { setRepo(e.target.value); }} />
        <button type="submit">Check</button>
      </form>
      {checked !== null && !known.includes(checked) && (
        <div className="model" data-testid="candidate">
          <FitView fit={fit} onRecheck={() => void onCheck(checked)} />
          {fit?.state === "ok" && (
            <button type="button" className="primary" onClick={() => { onStart(checked); setChecked(null); setRepo(""); }}>
              Download {formatBytes(fit.check.downloadBytes)}
            </button>
          )}
        </div>
      )}
    </div>
  );
}

function TokenSettings() {
  const [saved, setSaved] = useState<boolean | null>(null);
  const [token, setToken] = useState("");
  const [note, setNote] = useState<string | null>(null);
  useEffect(() => {
    void commands.getSettings().then((v) => { setSaved(v.settings.hfToken !== null); }, () => undefined);
  }, []);
  const save = async (value: string | null) => {
    try {
      const v = await commands.setHfToken(value);
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
