import { useCallback, useEffect, useRef, useState, type ReactNode } from "react";
import { describeAction, uniqueCitations, withoutQuotes } from "./ask";
import { baseName, convertingText } from "../../lib/format";
import { FolderSelect } from "../../components/FolderSelect";
import { Detail } from "../../components/Detail";
import { describeError, errorDetail, isCommandError, type Action, type Asked, type CommandError, type Folder, type RankedDocument, type RunSummary, type Stream, type SavedRun } from "../../lib/ipc";
import { renderMarkdown } from "../../lib/markdown";
import { Reader, type ReaderTarget } from "../../components/Reader";
import { api } from "./api";

/** What a run shows while it streams, and after. */
interface View {
  question: string;
  actions: Action[];
  thinking: string;
  /** A first load's conversion for llama.cpp, as it goes. */
  preparing: string | null;
  used: number;
  total: number;
  documents: RankedDocument[] | null;
  answerText: string;
  asked: Asked | null;
  running: boolean;
}

const empty = (question: string): View => ({ question, actions: [], thinking: "", preparing: null, used: 0, total: 0, documents: null, answerText: "", asked: null, running: true });

function fromSaved(asked: Asked): View {
  return {
    question: asked.run.question,
    actions: asked.run.actions,
    thinking: "",
    preparing: null,
    used: asked.run.used,
    total: asked.run.budget.total,
    documents: asked.run.documents,
    answerText: asked.answer?.text ?? "",
    asked,
    running: false,
  };
}

const ENDINGS: Record<string, string> = {
  ranked: "",
  turnLimit: "The search reached its turn limit; the model ranked what it had.",
  outOfContext: "The model's context filled up: these are the documents it kept, in the order it found them.",
  stopped: "Stopped.",
  unranked: "The model gave no ranking: these are the documents it kept, in the order it found them.",
};

/** `withoutModel`: what still works until the model is here (the app passes its Search page). */
export function AskPage({ folders, compact = false, onOpenFull, showRun, draft, withoutModel }: { folders: Folder[] | null; compact?: boolean; onOpenFull?: (runId: string) => void; showRun?: string | null; draft?: string | null; withoutModel?: ReactNode }) {
  const [hasModel, setHasModel] = useState<boolean | null>(null);
  // A question brought from elsewhere (the welcome guide) waits in the box to be asked.
  const [question, setQuestion] = useState(draft ?? "");
  const [folder, setFolder] = useState("");
  const [budget, setBudget] = useState(32_768);
  const [view, setView] = useState<View | null>(null);
  const [stream, setStream] = useState<Stream<SavedRun> | null>(null);
  const [error, setError] = useState<CommandError | string | null>(null);
  const [history, setHistory] = useState<RunSummary[]>([]);
  const [runId, setRunId] = useState<string | null>(null);
  const [reading, setReading] = useState<ReaderTarget | null>(null);

  const refreshHistory = useCallback(async () => {
    try {
      setHistory(await api.listRuns());
    } catch {
      setHistory([]);
    }
  }, []);

  useEffect(() => {
    api.getSettings().then(
      (s) => {
        // A model here, or a server that runs it.
        setHasModel(s.settings.activeModel !== null || s.settings.engine === "server");
      },
      () => {
        setHasModel(false);
      },
    );
    api.listRuns().then(setHistory, () => {
      setHistory([]);
    });
  }, []);

  // A run asked for from outside (the quick window's "Open the full run").
  useEffect(() => {
    if (showRun == null) return;
    api.getRun(showRun).then(
      (asked) => {
        setView(fromSaved(asked));
        setRunId(showRun);
        setQuestion(asked.run.question);
      },
      (e: unknown) => {
        setError(isCommandError(e) ? e : describeError(e));
      },
    );
  }, [showRun]);

  const ask = async (allowUnfit = false) => {
    const q = (view !== null && allowUnfit ? view.question : question).trim();
    if (q === "" || stream !== null) return;
    setError(null);
    setRunId(null);
    setView(empty(q));
    const s = api.askLibrary(q, folder === "" ? null : folder, budget, allowUnfit, (e) => {
      setView((v) => {
        if (v === null) return v;
        switch (e.event) {
          case "turn":
            return { ...v, thinking: "" };
          case "reply":
            if (e.reply.event === "converting") return { ...v, preparing: convertingText(e.reply.doneBytes, e.reply.totalBytes) };
            return e.reply.event === "delta" && e.reply.part === "reasoning" ? { ...v, preparing: null, thinking: v.thinking + e.reply.text } : v;
          case "action":
            return { ...v, actions: [...v.actions, e.action] };
          case "usage":
            return { ...v, used: e.used, total: e.total };
          case "ranked":
            return { ...v, documents: e.documents, thinking: "" };
          case "answering":
            return e.reply.event === "delta" && e.reply.part === "answer" ? { ...v, answerText: v.answerText + e.reply.text } : v;
          case "answered":
            return { ...v, answerText: e.answer.text };
        }
      });
    });
    setStream(s);
    try {
      const saved = await s.result;
      setView(fromSaved(saved.asked));
      setRunId(saved.id);
    } catch (e) {
      setError(isCommandError(e) ? e : describeError(e));
      setView((v) => (v === null ? v : { ...v, running: false }));
    } finally {
      setStream(null);
      void refreshHistory();
    }
  };

  // A question from the welcome guide is asked as soon as the page knows a model is there.
  const draftAsked = useRef(false);
  useEffect(() => {
    if (draft == null || draftAsked.current || hasModel !== true) return;
    draftAsked.current = true;
    void ask();
    // eslint-disable-next-line react-hooks/exhaustive-deps -- once, when the model is known
  }, [hasModel]);

  const openRun = async (id: string) => {
    if (stream !== null) return;
    try {
      setView(fromSaved(await api.getRun(id)));
      setRunId(id);
      setError(null);
    } catch (e) {
      setError(isCommandError(e) ? e : describeError(e));
    }
  };

  const deleteRun = async (id: string) => {
    try {
      await api.deleteRun(id);
      if (runId === id) setView(null);
      await refreshHistory();
    } catch (e) {
      setError(isCommandError(e) ? e : describeError(e));
    }
  };

  const reader = reading !== null && <Reader target={reading} onClose={() => { setReading(null); }} />;

  if (hasModel === false) {
    return (
      <div className="ask">
        <p className="notice" data-testid="needs-model">
          Ask needs Context-1 on this machine: it searches your library with its own tools and answers with cited sources. Download it on the <a href="#/models">Models</a> page, or <a href="#/settings">run it on a server</a>. Until then, plain search works:
        </p>
        {withoutModel}
        {reader}
      </div>
    );
  }

  const citations = uniqueCitations(view?.asked?.answer?.citations ?? []);
  return (
    <div className={compact ? "ask compact" : "ask"}>
      <form
        className="ask-form"
        onSubmit={(e) => {
          e.preventDefault();
          void ask();
        }}
      >
        <input type="search" aria-label="Question" placeholder="Ask your library…" value={question} onChange={(e) => { setQuestion(e.target.value); }} autoFocus={compact} />
        {!compact && (
          <FolderSelect folders={folders} value={folder} onChange={setFolder} />
        )}
        {!compact && (
          <select aria-label="Token budget" value={budget} onChange={(e) => { setBudget(Number(e.target.value)); }} title="How much the search may read in all">
            {[16_384, 32_768, 65_536].map((b) => (
              <option key={b} value={b}>
                {b / 1024}k tokens
              </option>
            ))}
          </select>
        )}
        {stream !== null ? (
          <button type="button" onClick={() => void stream.cancel()}>
            Stop
          </button>
        ) : (
          <button type="submit" disabled={question.trim() === ""}>
            Ask
          </button>
        )}
      </form>
      {error !== null && (
        <div role="alert" className="error">
          {typeof error === "string" ? error : describeError(error)}
          {typeof error !== "string" && <Detail text={errorDetail(error)} />}
          {typeof error !== "string" && error.kind === "doesNotFit" && (
<>
            <button type="button" onClick={() => void ask(true)}>
              Load anyway
            </button>
            <a href="#/settings" data-testid="run-on-server">Run it on a server</a>
</>
          )}
        </div>
      )}
      <div className="ask-body">
        {view !== null && (
          <section className="ask-run" aria-label="Run" data-testid="run">
            {view.total > 0 && !compact && (
              <label className="budget">
                Token budget {view.used.toLocaleString("en-US")} of {view.total.toLocaleString("en-US")}
                <progress aria-label="Token budget" value={view.used} max={view.total} />
              </label>
            )}
            {!compact && (
              <ol className="trace" data-testid="trace">
                {view.actions.map((a, i) => (
                  <li key={i} className={`trace-${a.kind}`}>
                    {describeAction(a)}
                  </li>
                ))}
                {view.running && view.documents === null && <li className="loading">{view.preparing ?? (view.thinking === "" ? "Searching…" : view.thinking.slice(-240))}</li>}
              </ol>
            )}
            {view.documents !== null && (
              <>
                <h2>Documents</h2>
                {view.asked !== null && ENDINGS[view.asked.run.ending] !== "" && <p className="notice">{ENDINGS[view.asked.run.ending]}</p>}
                <ol className="documents" data-testid="documents">
                  {view.documents.map((d) => (
                    <li key={d.docId}>
                      <button type="button" className="link" onClick={() => { setReading({ path: d.path }); }}>
                        {baseName(d.path)}
                      </button>
                      {d.justification !== "" && !compact && <div className="justification">{d.justification}</div>}
                    </li>
                  ))}
                  {view.documents.length === 0 && <li className="empty">Nothing in your library seems to answer this.</li>}
                </ol>
              </>
            )}
            {view.answerText !== "" && (
              <>
                <h2>Answer</h2>
                <div className="markdown answer" data-testid="answer" dangerouslySetInnerHTML={{ __html: renderMarkdown(withoutQuotes(view.answerText)) }} />
              </>
            )}
            {citations.length > 0 && (
              <ol className="citations" data-testid="citations">
                {citations.map((c, i) => (
                  <li key={i} className={c.verified ? "verified" : "unverified"} data-verified={c.verified ? "true" : "false"}>
                    <span className="citation-number">[{c.number}]</span>{" "}
                    {c.path !== "" ? (
                      <button type="button" className="link" onClick={() => { setReading({ path: c.path, quote: c.quote, line: c.line, page: c.page }); }}>
                        {baseName(c.path)}
                        {c.page > 0 ? `, page ${String(c.page)}` : c.line > 0 ? `, line ${String(c.line)}` : ""}
                      </button>
                    ) : (
                      <span>no such source</span>
                    )}{" "}
                    <q>{c.quote}</q> {c.verified ? <span className="ok">✓ in the source</span> : <span className="warning">✗ not found in the source</span>}
                  </li>
                ))}
              </ol>
            )}
            {compact && runId !== null && onOpenFull !== undefined && (
              <button type="button" className="link" onClick={() => { onOpenFull(runId); }}>
                Open the full run
              </button>
            )}
          </section>
        )}
        {!compact && (
          <aside className="ask-history" aria-label="Earlier questions">
            <h2>Earlier questions</h2>
            <ul>
              {history.map((r) => (
                <li key={r.id} data-testid="run-item">
                  <button type="button" className="link" onClick={() => void openRun(r.id)}>
                    {r.question}
                  </button>{" "}
                  <button type="button" className="link danger" aria-label={`Delete “${r.question}”`} onClick={() => void deleteRun(r.id)}>
                    ×
                  </button>
                </li>
              ))}
              {history.length === 0 && <li className="empty">None yet.</li>}
            </ul>
          </aside>
        )}
      </div>
      {reader}
    </div>
  );
}
