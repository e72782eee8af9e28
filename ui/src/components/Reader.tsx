import { useEffect, useMemo, useRef, useState } from "react";
import { baseName } from "../lib/format";
import { commands, describeError, type Hit } from "../lib/ipc";
import { findQuote, joinChunks, offsetFor } from "./reader";

/** What to show in a document: a quote (highlighted), else a line, page or chunk. */
export interface ReaderTarget {
  path: string;
  quote?: string;
  line?: number;
  page?: number;
  chunk?: number;
}

/** A document's text as Fathom indexed it, opened at the place a result or citation points to. */
export function Reader({ target, onClose }: { target: ReaderTarget; onClose: () => void }) {
  const [chunks, setChunks] = useState<Hit[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const place = useRef<HTMLElement>(null);

  useEffect(() => {
    commands.readDocumentText(target.path).then(setChunks, (e: unknown) => {
      setError(describeError(e));
    });
  }, [target.path]);

  const view = useMemo(() => {
    if (chunks === null) return null;
    const joined = joinChunks(chunks);
    const found = target.quote !== undefined ? findQuote(joined.text, target.quote) : null;
    const at = found?.[0] ?? offsetFor(joined, target);
    return { joined, found, at };
  }, [chunks, target]);

  useEffect(() => {
    place.current?.scrollIntoView({ block: "center" });
  }, [view]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") onClose();
    };
    window.addEventListener("keydown", onKey);
    return () => {
      window.removeEventListener("keydown", onKey);
    };
  }, [onClose]);

  const name = baseName(target.path);
  return (
    <div className="reader-backdrop" onClick={onClose}>
      <div role="dialog" aria-label={`Reader: ${name}`} className="reader" data-testid="reader" onClick={(e) => { e.stopPropagation(); }}>
        <div className="reader-bar">
          <strong>{name}</strong>
          {target.page !== undefined && target.page > 0 && <span className="muted">page {target.page}</span>}
          {target.quote !== undefined && view !== null && view.found === null && <span className="warning">The quote is not in this document.</span>}
          <span className="spacer" />
          <button type="button" className="link" onClick={() => void commands.openDocument(target.path).catch((e: unknown) => { setError(describeError(e)); })}>
            Open in its app
          </button>
          <button type="button" onClick={onClose}>
            Close
          </button>
        </div>
        {error !== null && <p className="warning">{error}</p>}
        {view !== null && (
          <div className="reader-text">
            {view.found !== null ? (
              <>
                {view.joined.text.slice(0, view.found[0])}
                <mark ref={place} data-testid="reader-quote">
                  {view.joined.text.slice(view.found[0], view.found[1])}
                </mark>
                {view.joined.text.slice(view.found[1])}
              </>
            ) : (
              <>
                {view.joined.text.slice(0, view.at)}
                <span ref={place} className="reader-place" data-testid="reader-place" />
                {view.joined.text.slice(view.at)}
              </>
            )}
          </div>
        )}
      </div>
    </div>
  );
}
