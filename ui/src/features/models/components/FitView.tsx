import { formatBytes } from "../../../lib/format";
import { VERDICT_TEXT, type Fit } from "../fit";

export function FitView({ fit, onRecheck }: { fit: Fit | undefined; onRecheck: () => void }) {
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
      {report.verdict === "doesNotFit" && (
        <p data-testid="fit-server">
          It can still answer from a computer that holds it: <a href="#/settings">run the model on a server</a> (vLLM, llama.cpp, LM Studio or another Fathom).
        </p>
      )}
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
