import { useState } from "react";
import { type FitCheck } from "../../../lib/ipc";
import { formatBytes } from "../../../lib/format";
import { FitView } from "./FitView";
import type { Fit } from "../fit";

export function AddModel({ known, fits, onCheck, onStart }: { known: string[]; fits: Record<string, Fit>; onCheck: (repo: string) => Promise<FitCheck | null>; onStart: (repo: string) => void }) {
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
