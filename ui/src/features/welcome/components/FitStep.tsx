import { formatBytes } from "../../../lib/format";
import { type FitCheck, type ModelRow } from "../../../lib/ipc";

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

export function FitStep({ recommended, check }: { recommended: ModelRow | null; check: FitCheck | null }) {
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
