import { Detail } from "../../../components/Detail";
import { describeError } from "../../../lib/ipc";
import { useSemanticStatus } from "../../../stores/semantic";
import { baseName, describeSemantic } from "../../../lib/format";
import { api } from "../api";

/** Semantic search: its model's download and the background pass that reads passages for meaning. */
export function SemanticLine({ onError }: { onError: (m: string) => void }) {
  const [status, refresh] = useSemanticStatus(onError);
  if (status === null) return null;
  const { text, tone, done, detail } = describeSemantic(status);
  const act = (p: Promise<unknown>) => {
    p.then(refresh, (e: unknown) => {
      onError(describeError(e));
    });
  };
  const pausable = status.embedder.state === "ready" && (status.pass === "embedding" || status.pausedByUser);
  return (
    <div className="semantic" data-testid="semantic" data-state={status.embedder.state} data-pass={status.pass}>
      <span className={tone === "muted" ? "muted" : tone}>{text}</span>
      <Detail text={detail} />
      {done !== null && <progress max={1} value={done} aria-label="Semantic search progress" />}
      {pausable && (
        <button type="button" onClick={() => { act(api.pauseSemantic(!status.pausedByUser)); }}>
          {status.pausedByUser ? "Resume" : "Pause"}
        </button>
      )}
      {(status.embedder.state === "failed" || status.pass === "failed") && (
        <button type="button" onClick={() => { act(api.retrySemantic()); }}>
          Try again
        </button>
      )}
      {status.failed.length > 0 && (
        <details className="problems">
          <summary className="warning">Details</summary>
          <ul>
            {status.failed.map((p) => (
              <li key={p.path}>
                {baseName(p.path)}: {p.reason}
              </li>
            ))}
          </ul>
        </details>
      )}
    </div>
  );
}
