// The welcome guide a person sees on their first launch: will the model run here and what that
// means, the model (downloaded, or one already on disk), a first folder, a first search and a
// first Ask. Every step can be skipped; finishing or skipping ends it for good (Settings can show
// it again).
import { useCallback, useEffect, useState } from "react";
import { describeError, type FitCheck, type Folder, type ModelRow } from "../../lib/ipc";
import { useDownloads } from "../../stores/downloads";
import { startIndexing, useIndexing } from "../../stores/indexing";
import { FitStep } from "./components/FitStep";
import { ModelStep } from "./components/ModelStep";
import { FolderStep } from "./components/FolderStep";
import { SearchStep } from "./components/SearchStep";
import { AskStep } from "./components/AskStep";
import { api } from "./api";

const STEPS = ["fit", "model", "folder", "search", "ask"] as const;
type Step = (typeof STEPS)[number];
const STEP_TITLES: Record<Step, string> = {
  fit: "Will Context-1 run here?",
  model: "The model",
  folder: "Your documents",
  search: "Your first search",
  ask: "Your first question",
};

/** What a memory-check verdict means for this person, in a sentence. */

export function Welcome({ folders, onPick, onFinish }: { folders: Folder[] | null; onPick: () => void; onFinish: (askDraft: string | null) => void }) {
  const [step, setStep] = useState<Step>("fit");
  const [rows, setRows] = useState<ModelRow[] | null>(null);
  const [check, setCheck] = useState<FitCheck | null>(null);
  const [error, setError] = useState<string | null>(null);
  const downloads = useDownloads();
  const runs = useIndexing();

  const refreshModels = useCallback(() => {
    api.listModels().then(setRows, (e: unknown) => {
      setError(describeError(e));
    });
  }, []);
  useEffect(refreshModels, [refreshModels]);

  const recommended = rows?.find((r) => r.default) ?? null;
  useEffect(() => {
    if (recommended === null) return;
    api.checkFit(recommended.repo, null).then(setCheck, (e: unknown) => {
      setError(describeError(e));
    });
  }, [recommended?.repo]); // eslint-disable-line react-hooks/exhaustive-deps -- once per repo

  // Folders added here are indexed at once, as the Library page would (keyed by their ids, not
  // by the list's identity).
  const folderIds = (folders ?? []).map((f) => f.id).join("\n");
  useEffect(() => {
    for (const id of folderIds.split("\n")) if (id !== "" && runs.get(id) === undefined) startIndexing(id, () => undefined);
  }, [folderIds, runs]);

  const index = STEPS.indexOf(step);
  const next = () => {
    setError(null);
    const following = STEPS[index + 1];
    if (following === undefined) onFinish(null);
    else setStep(following);
  };

  return (
    <section className="welcome" data-testid="welcome" data-step={step} aria-labelledby="welcome-title">
      <p className="muted">
        Welcome to Fathom · step {index + 1} of {STEPS.length}
      </p>
      <h2 id="welcome-title">{STEP_TITLES[step]}</h2>
      {error !== null && (
        <p role="alert" className="warning">
          {error}
        </p>
      )}
      {step === "fit" && <FitStep recommended={recommended} check={check} />}
      {step === "model" && <ModelStep rows={rows} check={check} downloads={downloads} onChanged={refreshModels} onError={setError} />}
      {step === "folder" && <FolderStep folders={folders} runs={runs} onPick={onPick} />}
      {step === "search" && <SearchStep />}
      {step === "ask" && <AskStep hasModel={rows?.some((r) => r.active) ?? false} onAsk={(q) => { onFinish(q); }} />}
      <div className="welcome-actions">
        <button type="button" className="primary" onClick={next} data-testid="welcome-next">
          {step === "ask" ? "Finish" : "Next"}
        </button>
        {step !== "ask" && (
          <button type="button" className="link" onClick={next} data-testid="welcome-skip-step">
            Skip this step
          </button>
        )}
        <button type="button" className="link" onClick={() => { onFinish(null); }} data-testid="welcome-skip">
          Skip the guide
        </button>
      </div>
    </section>
  );
}

