import { type FolderStatus } from "../../../lib/ipc";
import { baseName, formatCount } from "../../../lib/format";

export function Problems({ status }: { status: FolderStatus }) {
  if (status.failed.length === 0 && status.needsOcr.length === 0) return null;
  return (
    <details className="problems" data-testid="problems">
      <summary className="warning">
        {status.failed.length > 0 && `${formatCount(status.failed.length, "file", "files")} could not be read`}
        {status.failed.length > 0 && status.needsOcr.length > 0 && " · "}
        {status.needsOcr.length > 0 && `${formatCount(status.needsOcr.length, "file has", "files have")} pages without text`}
      </summary>
      <ul>
        {[...status.failed, ...status.needsOcr].map((p) => (
          <li key={p.path}>
            {baseName(p.path)}: {p.reason}
          </li>
        ))}
      </ul>
    </details>
  );
}
