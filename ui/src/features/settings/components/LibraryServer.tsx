// Settings → Where the library lives: on this computer, on a Chroma server beside a copy here, or
// on a Chroma server alone (for a library too big for one computer, or shared by a team). Files
// are still read and embedded here; search, grep, reading and Ask run on the server. Checking the
// connection shows the server answers and takes the token; moving checks it first. A move that
// carries the library (to the server alone, or back from it) shows its progress and can be
// stopped, leaving the library where it was.
import { useRef, useState } from "react";
import { describeError, type ChromaConnection, type LibraryPlace, type MoveProgress, type SettingsView, type Stream } from "../../../lib/ipc";
import { api } from "../api";

export function LibraryServer({ view, onChanged }: { view: SettingsView | null; onChanged: (v: SettingsView) => void }) {
  // The form starts from what is saved, once it has loaded.
  if (view === null)
    return (
      <div className="library-server" data-testid="library-server" id="library-server">
        <h2>Where the library lives</h2>
      </div>
    );
  return <LibraryServerForm view={view} onChanged={onChanged} />;
}

function LibraryServerForm({ view, onChanged }: { view: SettingsView; onChanged: (v: SettingsView) => void }) {
  const saved = view.settings.chroma;
  const [place, setPlace] = useState<LibraryPlace>(view.settings.libraryPlace);
  const [url, setUrl] = useState(saved.url);
  const [tenant, setTenant] = useState(saved.tenant);
  const [database, setDatabase] = useState(saved.database);
  const [collection, setCollection] = useState(saved.collection);
  const [token, setToken] = useState(saved.token ?? "");
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [moving, setMoving] = useState<MoveProgress | null>(null);
  const running = useRef<Stream<SettingsView> | null>(null);

  const connection = (): ChromaConnection => ({
    url: url.trim(),
    tenant: tenant.trim(),
    database: database.trim(),
    collection: collection.trim(),
    token: token.trim() === "" ? null : token.trim(),
  });

  const run = async (work: () => Promise<string>) => {
    setBusy(true);
    setMessage(null);
    try {
      setMessage({ ok: true, text: await work() });
    } catch (e) {
      setMessage({ ok: false, text: describeError(e) });
    } finally {
      setBusy(false);
    }
  };

  const move = (next: LibraryPlace) =>
    run(async () => {
      const s = api.setLibraryPlace(next, next === "computer" ? null : connection(), setMoving);
      running.current = s;
      try {
        onChanged(await s.result);
      } catch (e) {
        // Stopped or failed: the library stays where it was (the server's form stays open, to
        // mend the address or token).
        if (next === "computer") setPlace(view.settings.libraryPlace);
        throw e;
      } finally {
        running.current = null;
        setMoving(null);
      }
      setPlace(next);
      switch (next) {
        case "chroma":
          return "The library now lives on the server: what is indexed here is being copied there, and search and Ask run there.";
        case "chromaOnly":
          return "The library now lives on the server alone: new files are indexed straight there, and this computer keeps only a list of what was indexed.";
        case "computer":
          return "The library is searched on this computer again.";
      }
    });

  const check = () =>
    run(async () => {
      const n = await api.checkLibraryServer(connection());
      return `Connected: the collection holds ${n} passage${n === 1 ? "" : "s"}.`;
    });

  const onServer = view.settings.libraryPlace !== "computer";
  const choose = (next: LibraryPlace) => {
    setPlace(next);
    setMessage(null);
  };
  const ready = url.trim() !== "" && tenant.trim() !== "" && database.trim() !== "" && collection.trim() !== "";
  return (
    <div className="library-server" data-testid="library-server" id="library-server">
      <h2>Where the library lives</h2>
      <div role="radiogroup" aria-label="Keep the library">
        <label className="row">
          <input type="radio" name="library-place" data-testid="library-computer" checked={place === "computer"} disabled={busy} onChange={() => { setPlace("computer"); if (onServer) void move("computer"); }} />
          This computer
        </label>
        <label className="row">
          <input type="radio" name="library-place" data-testid="library-chroma" checked={place === "chroma"} disabled={busy} onChange={() => { choose("chroma"); }} />
          A Chroma server, with the index kept here too: shared by a team
        </label>
        <label className="row">
          <input type="radio" name="library-place" data-testid="library-chroma-only" checked={place === "chromaOnly"} disabled={busy} onChange={() => { choose("chromaOnly"); }} />
          A Chroma server alone: for a library bigger than this computer
        </label>
      </div>
      {moving !== null && (
        <div className="row" data-testid="library-moving" role="status">
          <progress max={Math.max(moving.total, 1)} value={moving.done} />
          <span>
            {moving.step === "copying" ? "Copying to the server" : "Reading back from the server"}: {moving.done} of {moving.total} passages
          </span>
          <button type="button" data-testid="library-move-stop" onClick={() => void running.current?.cancel()}>
            Stop
          </button>
        </div>
      )}
      {place !== "computer" && (
        <form
          className="server-form"
          onSubmit={(e) => {
            e.preventDefault();
            void move(place);
          }}
        >
          <p className="muted">
            {place === "chromaOnly"
              ? "Files are still read and embedded on this computer, then written with their passages and vectors straight to the server; the index here is copied there and emptied. Search, grep, reading and Ask run there. Needs the embedder (semantic search on). Everyone with access to the collection can read them."
              : "Files are still read and embedded on this computer, then copied with their passages and vectors to the server; search, grep, reading and Ask run there. Everyone with access to the collection can read them."}
          </p>
          <label className="row">
            Address
            <input data-testid="chroma-url" type="url" required placeholder="http://192.168.1.20:8000" value={url} onChange={(e) => { setUrl(e.target.value); }} />
          </label>
          <label className="row">
            Tenant
            <input data-testid="chroma-tenant" required value={tenant} onChange={(e) => { setTenant(e.target.value); }} />
          </label>
          <label className="row">
            Database
            <input data-testid="chroma-database" required value={database} onChange={(e) => { setDatabase(e.target.value); }} />
          </label>
          <label className="row">
            Collection
            <input data-testid="chroma-collection" required value={collection} onChange={(e) => { setCollection(e.target.value); }} />
          </label>
          <label className="row">
            Token
            <input data-testid="chroma-token" type="password" autoComplete="off" placeholder="none" value={token} onChange={(e) => { setToken(e.target.value); }} />
          </label>
          <div className="row">
            <button type="button" data-testid="chroma-check" disabled={busy || !ready} onClick={() => void check()}>
              Check connection
            </button>
            <button type="submit" data-testid="chroma-save" disabled={busy || !ready}>
              {view.settings.libraryPlace === place ? "Save" : "Move the library there"}
            </button>
          </div>
        </form>
      )}
      {message !== null && (
        <p className={message.ok ? "ok" : "warning"} role={message.ok ? "status" : "alert"} data-testid="library-server-message">
          {message.text}
        </p>
      )}
    </div>
  );
}
