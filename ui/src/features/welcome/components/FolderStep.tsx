import { type Folder } from "../../../lib/ipc";
import { useIndexing } from "../../../stores/indexing";
import { baseName, formatCount } from "../../../lib/format";

export function FolderStep({ folders, runs, onPick }: { folders: Folder[] | null; runs: ReturnType<typeof useIndexing>; onPick: () => void }) {
  const list = folders ?? [];
  return (
    <div>
      <p>Add the folders you want to search and ask about. Fathom reads them on this computer and keeps its index here; it watches them for changes.</p>
      <button type="button" className="primary" onClick={onPick} data-testid="welcome-pick">
        Choose folders…
      </button>{" "}
      <span className="muted">or drop folders onto this window.</span>
      {list.length > 0 && (
        <ul className="welcome-list" data-testid="welcome-folders">
          {list.map((f) => {
            const run = runs.get(f.id);
            const state = run === undefined ? "waiting" : run.state === "running" ? "indexing…" : run.state === "done" ? `${formatCount(run.result.indexed + run.result.unchanged, "document", "documents")} indexed` : run.state;
            return (
              <li key={f.id} data-state={run?.state ?? "waiting"}>
                {baseName(f.path)} · {state}
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
