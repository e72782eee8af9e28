// The welcome guide a person sees on their first launch: will the model run here and what that
// means, the model (downloaded, or one already on disk), a first folder, a first search and a
// first Ask. Every step can be skipped; finishing or skipping ends it for good (Settings can show
// it again).
import { useCallback, useEffect, useState } from "react";
import { commands, describeError, type FitCheck, type Folder, type Hit, type ModelRow } from "../../lib/ipc";
import { startDownload, useDownloads } from "../../stores/downloads";
import { startIndexing, useIndexing } from "../../stores/indexing";
import { baseName, formatBytes, formatCount } from "../../lib/format";

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
export function verdictMeaning(check: FitCheck): string {
  const r = check.fit;
  const needs = formatBytes(r.requested.totalBytes);
  const has = formatBytes(r.budgetBytes);
  switch (r.verdict) {
    case "fits":
      return `Yes. Context-1 needs about ${needs} of memory and this computer can give it ${has}: chat and Ask will run with the full ${r.requested.context.toLocaleString("en-US")}-token context.`;
    case "fitsShorterContext":
      return `Yes, with a shorter context: up to ${r.maxContext.toLocaleString("en-US")} tokens instead of ${r.requested.context.toLocaleString("en-US")}. Chat works as usual; Ask reads fewer passages per question.`;
    case "doesNotFit":
      return `Not on this computer: Context-1 needs about ${needs} of memory and only ${has} is free for it. You can still add folders and search them; chat and Ask need more memory (close other apps, or use a bigger machine).`;
  }
}

export function Welcome({ folders, onPick, onFinish }: { folders: Folder[] | null; onPick: () => void; onFinish: (askDraft: string | null) => void }) {
  const [step, setStep] = useState<Step>("fit");
  const [rows, setRows] = useState<ModelRow[] | null>(null);
  const [check, setCheck] = useState<FitCheck | null>(null);
  const [error, setError] = useState<string | null>(null);
  const downloads = useDownloads();
  const runs = useIndexing();

  const refreshModels = useCallback(() => {
    commands.listModels().then(setRows, (e: unknown) => {
      setError(describeError(e));
    });
  }, []);
  useEffect(refreshModels, [refreshModels]);

  const recommended = rows?.find((r) => r.default) ?? null;
  useEffect(() => {
    if (recommended === null) return;
    commands.checkFit(recommended.repo, null).then(setCheck, (e: unknown) => {
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

function FitStep({ recommended, check }: { recommended: ModelRow | null; check: FitCheck | null }) {
  return (
    <div>
      <p>
        Fathom answers questions about your documents with Context-1, a model that runs entirely on this computer. First, whether it fits in this computer&apos;s memory.
      </p>
      {check === null ? (
        <p className="muted">Checking {recommended?.name ?? "the model"}…</p>
      ) : (
        <p className={`fit fit-${check.fit.verdict}`} data-testid="welcome-verdict" data-verdict={check.fit.verdict}>
          {verdictMeaning(check)}
        </p>
      )}
    </div>
  );
}

function ModelStep({ rows, check, downloads, onChanged, onError }: { rows: ModelRow[] | null; check: FitCheck | null; downloads: ReturnType<typeof useDownloads>; onChanged: () => void; onError: (m: string) => void }) {
  if (rows === null) return <p className="muted">Looking for models…</p>;
  const recommended = rows.find((r) => r.default) ?? null;
  const active = rows.find((r) => r.active) ?? null;
  // Models found on disk (the Hugging Face cache, LM Studio's folders) need no download.
  const onDisk = rows.filter((r) => r.installed !== null);
  const download = recommended ? downloads.get(recommended.repo) : undefined;
  const use = (repo: string) => {
    commands.setActiveModel(repo, false).then(onChanged, (e: unknown) => {
      onError(describeError(e));
    });
  };
  return (
    <div>
      {active !== null ? (
        <p className="ok" data-testid="welcome-model-ready">
          {active.name} is on this computer and ready.
        </p>
      ) : (
        <p>Fathom needs the model&apos;s weights on this computer: the only thing it ever downloads.</p>
      )}
      {onDisk.length > 0 && active === null && (
        <ul className="welcome-list">
          {onDisk.map((r) => (
            <li key={r.repo}>
              {r.name} is already on disk ({r.installed ? formatBytes(r.installed.diskBytes) : ""}){" "}
              <button type="button" onClick={() => { use(r.repo); }}>
                Use it
              </button>
            </li>
          ))}
        </ul>
      )}
      {recommended !== null && recommended.installed === null && active === null && (
        <div>
          {download?.state === "running" ? (
            <p data-testid="welcome-download">
              Downloading {recommended.name}…{" "}
              {download.progress !== null && `${formatBytes(download.progress.doneBytes)} of ${formatBytes(download.progress.totalBytes)}`}
              {" "}It goes on if you continue; the Models page shows it.
            </p>
          ) : (
            <button type="button" className="primary" data-testid="welcome-download-start" onClick={() => { startDownload(recommended.repo, onChanged); }}>
              Download {recommended.name}
              {check !== null && check.downloadBytes > 0 && ` (${formatBytes(check.downloadBytes)})`}
            </button>
          )}
          {download?.state === "failed" && <p className="warning">{download.message}</p>}
          {check?.fit.verdict === "doesNotFit" && <p className="muted">It will not run on this computer: you may skip this step and search your documents without it.</p>}
        </div>
      )}
    </div>
  );
}

function FolderStep({ folders, runs, onPick }: { folders: Folder[] | null; runs: ReturnType<typeof useIndexing>; onPick: () => void }) {
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

function SearchStep() {
  const [query, setQuery] = useState("");
  const [hits, setHits] = useState<Hit[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const search = (e: { preventDefault: () => void }) => {
    e.preventDefault();
    const q = query.trim();
    if (q === "") return;
    commands.searchLibrary(q, null, 5).then(
      (h) => {
        setHits(h);
        setError(null);
      },
      (err: unknown) => {
        setError(describeError(err));
      },
    );
  };
  return (
    <div>
      <p>Search finds passages by their words at once, and by their meaning once the library has been read for meaning.</p>
      <form onSubmit={search} className="search-bar">
        <input type="search" aria-label="Search your documents" placeholder="A word or phrase from your documents" value={query} onChange={(e) => { setQuery(e.target.value); }} />
        <button type="submit">Search</button>
      </form>
      {error !== null && <p className="warning">{error}</p>}
      {hits !== null && hits.length === 0 && <p className="muted">Nothing matches yet (is the folder still being indexed?).</p>}
      {hits !== null && hits.length > 0 && (
        <ol className="welcome-list" data-testid="welcome-hits">
          {hits.map((h) => (
            <li key={h.chunkId}>
              <strong>{baseName(h.path)}</strong> <span className="muted">{h.text.replace(/\s+/g, " ").slice(0, 160)}</span>
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

function AskStep({ hasModel, onAsk }: { hasModel: boolean; onAsk: (question: string) => void }) {
  const [question, setQuestion] = useState("");
  if (!hasModel)
    return (
      <p>
        Ask lets Context-1 search your documents with its own tools and answer with cited sources. It needs the model: download it from the Models page when you are ready. Search works without it.
      </p>
    );
  return (
    <div>
      <p>Ask a question: Context-1 searches your documents with its own tools, ranks what it found, and answers citing the passages.</p>
      <form
        className="search-bar"
        onSubmit={(e) => {
          e.preventDefault();
          if (question.trim() !== "") onAsk(question.trim());
        }}
      >
        <input aria-label="Your question" placeholder="What would you like to know?" value={question} onChange={(e) => { setQuestion(e.target.value); }} />
        <button type="submit" data-testid="welcome-ask">
          Ask
        </button>
      </form>
    </div>
  );
}
