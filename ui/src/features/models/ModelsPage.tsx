import { useCallback, useEffect, useState } from "react";
import { describeError, type MemoryInfo, type ModelRow } from "../../lib/ipc";
import { startDownload, useDownloads } from "../../stores/downloads";
import type { Fit } from "./fit";
import { MemorySummary } from "./components/MemorySummary";
import { ModelItem } from "./components/ModelItem";
import { AddModel } from "./components/AddModel";
import { TokenSettings } from "./components/TokenSettings";
import { api } from "./api";


export function ModelsPage() {
  const [rows, setRows] = useState<ModelRow[] | null>(null);
  const [memory, setMemory] = useState<MemoryInfo | null>(null);
  const [fits, setFits] = useState<Record<string, Fit>>({});
  const [error, setError] = useState<string | null>(null);
  const downloads = useDownloads();

  const refresh = useCallback(async () => {
    try {
      setRows(await api.listModels());
    } catch (e) {
      setError(describeError(e));
    }
  }, []);

  const check = useCallback(async (repo: string) => {
    setFits((f) => ({ ...f, [repo]: { state: "checking" } }));
    try {
      const result = await api.checkFit(repo, null);
      setFits((f) => ({ ...f, [repo]: { state: "ok", check: result } }));
      return result;
    } catch (e) {
      setFits((f) => ({ ...f, [repo]: { state: "failed", message: describeError(e) } }));
      return null;
    }
  }, []);

  useEffect(() => {
    void api.memoryInfo().then(setMemory, () => undefined);
    api.listModels().then(
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

