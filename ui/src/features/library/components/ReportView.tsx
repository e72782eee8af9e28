import { type AddReport } from "../../../lib/ipc";
import { baseName, describeRejection, formatCount } from "../../../lib/format";

export function ReportView({ report, onDismiss }: { report: AddReport; onDismiss: () => void }) {
  return (
    <div className="report" role="status" data-testid="add-report">
      {report.added.length > 0 && <p>Added {formatCount(report.added.length, "folder", "folders")}: {report.added.map((f) => baseName(f.path)).join(", ")}.</p>}
      {report.absorbed.length > 0 && <p>Now covered by a folder you added: {report.absorbed.map((f) => baseName(f.path)).join(", ")}.</p>}
      {report.rejected.map((r) => (
        <p key={r.path} className="warning" data-testid="rejection">
          {describeRejection(r)}
        </p>
      ))}
      <button type="button" className="link" onClick={onDismiss}>
        Dismiss
      </button>
    </div>
  );
}
