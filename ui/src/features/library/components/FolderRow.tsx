import { useEffect } from "react";
import { describeError, type Folder, type FolderStatus } from "../../../lib/ipc";
import { baseName } from "../../../lib/format";
import { forgetIndexing, pauseIndexing, startIndexing, useIndexing } from "../../../stores/indexing";
import { Problems } from "./Problems";
import { FolderIndex } from "./FolderIndex";
import { api } from "../api";

export function FolderRow({ folder, status, onRemoved, onError, onIndexed }: { folder: Folder; status: FolderStatus | undefined; onRemoved: () => Promise<void>; onError: (m: string) => void; onIndexed: () => void }) {
  const runs = useIndexing();
  const run = runs.get(folder.id);

  // Every folder is brought up to date when the library is shown (only changed files are redone).
  useEffect(() => {
    if (runs.get(folder.id) === undefined) startIndexing(folder.id, onIndexed);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- once per folder, not on every progress event
  }, [folder.id]);

  const remove = async () => {
    try {
      await pauseIndexing(folder.id);
      await api.removeFolder(folder.id);
      forgetIndexing(folder.id);
      await onRemoved();
    } catch (e) {
      onError(describeError(e));
    }
  };

  return (
    <li className="folder" data-testid="folder" data-path={folder.path}>
      <div className="folder-main">
        <div className="folder-name">{baseName(folder.path)}</div>
        <div className="folder-path muted">{folder.path}</div>
        {status && <Problems status={status} />}
      </div>
      <FolderIndex run={run} status={status} onResume={() => { startIndexing(folder.id, onIndexed); }} onPause={() => void pauseIndexing(folder.id)} />
      <button type="button" className="remove" onClick={() => void remove()} aria-label={`Remove ${baseName(folder.path)} from the library`}>
        Remove
      </button>
    </li>
  );
}
