import { useState } from "react";
import { describeError, type Hit } from "../../../lib/ipc";
import { baseName } from "../../../lib/format";
import { api } from "../api";

export function SearchStep() {
  const [query, setQuery] = useState("");
  const [hits, setHits] = useState<Hit[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const search = (e: { preventDefault: () => void }) => {
    e.preventDefault();
    const q = query.trim();
    if (q === "") return;
    api.searchLibrary(q, null, 5).then(
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
