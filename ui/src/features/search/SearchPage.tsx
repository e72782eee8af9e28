import { useCallback, useEffect, useMemo, useState } from "react";
import { Detail } from "../../components/Detail";
import { describeError, type Folder, type Hit } from "../../lib/ipc";
import { baseName, describeSemantic } from "../../lib/format";
import { semanticReady, useSemanticStatus } from "../../stores/semantic";
import { FolderSelect } from "../../components/FolderSelect";
import { Reader, type ReaderTarget } from "../../components/Reader";
import { api } from "./api";

/** Results grouped by document, best first; each with its matching chunks. */
export function groupByDocument(hits: Hit[]): { docId: string; path: string; folder: string; hits: Hit[] }[] {
  const groups = new Map<string, { docId: string; path: string; folder: string; hits: Hit[] }>();
  for (const h of hits) {
    const g = groups.get(h.docId);
    if (g) g.hits.push(h);
    else groups.set(h.docId, { docId: h.docId, path: h.path, folder: h.folder, hits: [h] });
  }
  return [...groups.values()];
}

export function extensionOf(path: string): string {
  const name = baseName(path);
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
}

/** Words the index leaves out (as its BM25 analyzer does): marking them would be noise. */
const STOP_WORDS = new Set("a an and are as at be but by for if in into is it no not of on or such that the their then there these they this to was will with".split(" "));

/** The query's words worth marking: lowercased, no stop words or single letters. */
function queryWords(query: string): string[] {
  return query
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 1 && !STOP_WORDS.has(w));
}

/** The query's words marked in a snippet (case-insensitive, whole words and their prefixes). */
export function highlight(text: string, query: string): (string | { mark: string })[] {
  const words = queryWords(query);
  if (words.length === 0) return [text];
  // A word starts the match (not "in" inside "mornings"); the rest of the word is marked with it.
  // The boundary is matched, not looked behind (older WebKit has no lookbehind), and left unmarked.
  const pattern = new RegExp(`(^|[^\\p{L}\\p{N}])((?:${words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})[\\p{L}\\p{N}]*)`, "giu");
  const out: (string | { mark: string })[] = [];
  let last = 0;
  for (const found of text.matchAll(pattern)) {
    const word = found[2] ?? "";
    const i = found.index + (found[1] ?? "").length;
    if (i > last) out.push(text.slice(last, i));
    out.push({ mark: word });
    last = i + word.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** A window of the chunk around its first match, so snippets stay short. */
function snippet(text: string, query: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  // Where the first marked word starts: the length of the unmarked text before it.
  const parts = highlight(flat, query);
  const first = parts[0];
  const at = parts.length > 1 && typeof first === "string" ? first.length : 0;
  const start = Math.max(0, at - 80);
  return `${start > 0 ? "…" : ""}${flat.slice(start, start + 260)}${start + 260 < flat.length ? "…" : ""}`;
}

export function SearchPage({ folders }: { folders: Folder[] | null }) {
  const [semantic] = useSemanticStatus(useCallback(() => undefined, []));
  const [query, setQuery] = useState("");
  const [folder, setFolder] = useState<string>("");
  const [type, setType] = useState<string>("");
  const [found, setFound] = useState<{ query: string; hits: Hit[] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reading, setReading] = useState<ReaderTarget | null>(null);

  // Search as the user types, after a short pause; a newer query wins over a slower older one.
  useEffect(() => {
    const q = query.trim();
    if (q.length === 0) return;
    let live = true;
    const timer = setTimeout(() => {
      api.searchLibrary(q, folder === "" ? null : folder, 100).then(
        (h) => {
          if (live) {
            setFound({ query: q, hits: h });
            setError(null);
          }
        },
        (e: unknown) => {
          if (live) setError(describeError(e));
        },
      );
    }, 150);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [query, folder]);

  // Results of an emptied box are not shown.
  const hits = query.trim().length > 0 ? (found?.hits ?? null) : null;
  const types = useMemo(() => [...new Set((hits ?? []).map((h) => extensionOf(h.path)))].sort(), [hits]);
  const groups = groupByDocument((hits ?? []).filter((h) => type === "" || extensionOf(h.path) === type));

  return (
    <section className="search">
      <form className="search-bar" role="search" onSubmit={(e) => { e.preventDefault(); }}>
        <input type="search" aria-label="Search the library" placeholder="Search your library" value={query} autoFocus onChange={(e) => { setQuery(e.target.value); }} />
        <FolderSelect folders={folders} value={folder} onChange={setFolder} />
        <select aria-label="File type" value={type} onChange={(e) => { setType(e.target.value); }}>
          <option value="">All types</option>
          {types.map((t) => (
            <option key={t} value={t}>
              .{t}
            </option>
          ))}
        </select>
      </form>
      {error !== null && <p role="alert" className="warning">{error}</p>}
      {semantic !== null && folders !== null && folders.length > 0 && !semanticReady(semantic) && (
        <div className="muted" data-testid="semantic-note">
          <p>{describeSemantic(semantic).text}</p>
          <Detail text={describeSemantic(semantic).detail} />
        </div>
      )}
      {folders !== null && folders.length === 0 && <p className="muted">Add folders on the Library page (or drop them here) to search them.</p>}
      {hits !== null && groups.length === 0 && <p className="muted" data-testid="no-results">Nothing in your library matches “{query.trim()}”.</p>}
      <ol className="results" data-testid="results">
        {groups.map((g) => (
          <li key={g.docId} className="result" data-testid="result">
            <div className="result-head">
              <strong>{baseName(g.path)}</strong>
              <span className="muted result-path">{g.path}</span>
              <button type="button" onClick={() => { api.openDocument(g.path).catch((e: unknown) => { setError(describeError(e)); }); }}>
                Open
              </button>
            </div>
            {g.hits.slice(0, 3).map((h) => (
              <p key={h.chunkId} className="snippet">
                <button type="button" className="link place" title="Show this place in Fathom's reader" onClick={() => { setReading({ path: h.path, chunk: h.chunk, line: h.line, page: h.page }); }}>
                  {h.page > 0 ? `page ${String(h.page)}` : `line ${String(h.line)}`}
                </button>{" "}
                {highlight(snippet(h.text, query), query).map((part, i) => (typeof part === "string" ? part : <mark key={i}>{part.mark}</mark>))}
              </p>
            ))}
          </li>
        ))}
      </ol>
      {reading !== null && <Reader target={reading} onClose={() => { setReading(null); }} />}
    </section>
  );
}
