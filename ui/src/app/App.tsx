import { useCallback, useEffect, useState } from "react";
import { getCurrentWebview } from "@tauri-apps/api/webview";
import { commands, describeError, events, type AddReport, type AvailableUpdate, type Folder } from "../lib/ipc";
import { LibraryPage } from "../features/library/LibraryPage";
import { SettingsPage } from "../features/settings/SettingsPage";
import { ModelsPage } from "../features/models/ModelsPage";
import { SearchPage } from "../features/search/SearchPage";
import { ChatPage } from "../features/chat/ChatPage";
import { AskPage } from "../features/ask/AskPage";
import { Welcome } from "../features/welcome/Welcome";
import { SHOW_WELCOME_EVENT } from "../lib/app-events";

export const PAGES = ["chat", "ask", "search", "library", "models", "settings"] as const;
export type Page = (typeof PAGES)[number];

const TITLES: Record<Page, string> = {
  chat: "Chat",
  ask: "Ask",
  search: "Search",
  library: "Library",
  models: "Models",
  settings: "Settings",
};

function pageFromHash(): Page {
  const name = window.location.hash.replace(/^#\/?/, "");
  return (PAGES as readonly string[]).includes(name) ? (name as Page) : "library";
}

export function App() {
  const [page, setPage] = useState<Page>(pageFromHash);
  const [folders, setFolders] = useState<Folder[] | null>(null);
  const [report, setReport] = useState<AddReport | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [dragging, setDragging] = useState(false);
  const [shownRun, setShownRun] = useState<string | null>(null);
  const [deviceProblem, setDeviceProblem] = useState<string | null>(null);
  // null until the settings say whether the welcome guide was done.
  const [welcome, setWelcome] = useState<boolean | null>(null);
  const [askDraft, setAskDraft] = useState<string | null>(null);
  const [update, setUpdate] = useState<AvailableUpdate | null>(null);

  // The start-up check found a newer Fathom (before this page loaded, or while it is open).
  useEffect(() => {
    commands.foundUpdate().then(
      (u) => {
        if (u !== null) setUpdate(u);
      },
      () => undefined,
    );
    const unlisten = events.updateAvailable.listen((e) => {
      setUpdate(e.payload);
    });
    return () => {
      void unlisten.then((f) => {
        f();
      });
    };
  }, []);

  useEffect(() => {
    commands.getSettings().then(
      (v) => {
        setWelcome(!v.settings.firstRunDone);
      },
      () => {
        setWelcome(false);
      },
    );
    const show = () => {
      setWelcome(true);
    };
    window.addEventListener(SHOW_WELCOME_EVENT, show);
    return () => {
      window.removeEventListener(SHOW_WELCOME_EVENT, show);
    };
  }, []);

  const finishWelcome = useCallback((draft: string | null) => {
    setWelcome(false);
    commands.setFirstRunDone(true).catch((e: unknown) => {
      setError(describeError(e));
    });
    if (draft !== null) {
      setAskDraft(draft);
      window.location.hash = "#/ask";
    }
  }, []);

  // A Mac whose GPU cannot start (or a damaged install) cannot run models: say so on every page.
  useEffect(() => {
    commands.appInfo().then(
      (info) => {
        setDeviceProblem(info.deviceProblem ?? null);
      },
      () => undefined,
    );
  }, []);

  // The quick window's "Open the full run": show that run on the Ask page.
  useEffect(() => {
    const unlisten = events.openRun.listen((e) => {
      setShownRun(e.payload);
      window.location.hash = "#/ask";
    });
    return () => {
      void unlisten.then((f) => {
        f();
      });
    };
  }, []);

  useEffect(() => {
    const onHash = () => {
      setPage(pageFromHash());
    };
    window.addEventListener("hashchange", onHash);
    return () => {
      window.removeEventListener("hashchange", onHash);
    };
  }, []);

  const refresh = useCallback(async () => {
    try {
      setFolders(await commands.listFolders());
    } catch (e) {
      setError(describeError(e));
    }
  }, []);

  useEffect(() => {
    commands.listFolders().then(setFolders, (e: unknown) => {
      setError(describeError(e));
    });
  }, []);

  const addPaths = useCallback(
    async (paths: string[]) => {
      try {
        const result = await commands.addFolders(paths);
        setReport(result);
        setError(null);
        window.location.hash = "#/library";
        await refresh();
      } catch (e) {
        setError(describeError(e));
      }
    },
    [refresh],
  );

  const pickFolders = useCallback(async () => {
    try {
      const result = await commands.pickFolders();
      if (result.added.length + result.rejected.length + result.absorbed.length === 0) return;
      setReport(result);
      setError(null);
      await refresh();
    } catch (e) {
      setError(describeError(e));
    }
  }, [refresh]);

  // ⌘1…⌘6 (Ctrl elsewhere) switch sections; ⌘, opens Settings, as on every Mac app.
  useEffect(() => {
    const mac = navigator.userAgent.includes("Mac");
    const onKey = (e: KeyboardEvent) => {
      if (!(mac ? e.metaKey : e.ctrlKey) || e.altKey || e.shiftKey) return;
      const target = e.key === "," ? "settings" : PAGES[Number(e.key) - 1];
      if (target !== undefined && /^[1-6,]$/.test(e.key)) {
        e.preventDefault();
        window.location.hash = `#/${target}`;
      }
    };
    window.addEventListener("keydown", onKey);
    return () => {
      window.removeEventListener("keydown", onKey);
    };
  }, []);

  // Folders dropped anywhere on the window join the library.
  useEffect(() => {
    const unlisten = getCurrentWebview().onDragDropEvent((event) => {
      const p = event.payload;
      if (p.type === "enter" || p.type === "over") {
        setDragging(true);
      } else if (p.type === "leave") {
        setDragging(false);
      } else {
        setDragging(false);
        void addPaths(p.paths);
      }
    });
    return () => {
      void unlisten.then((f) => {
        f();
      });
    };
  }, [addPaths]);

  if (welcome === true)
    return (
      <div className={`app welcome-app${dragging ? " dragging" : ""}`}>
        <main className="content">
          {error !== null && (
            <div role="alert" className="error">
              {error}
            </div>
          )}
          <Welcome folders={folders} onPick={() => void pickFolders()} onFinish={finishWelcome} />
        </main>
      </div>
    );

  return (
    <div className={`app${dragging ? " dragging" : ""}`}>
      <nav className="sidebar" aria-label="Sections">
        <div className="brand">Fathom</div>
        {PAGES.map((p) => (
          <a key={p} href={`#/${p}`} className={p === page ? "active" : undefined} aria-current={p === page ? "page" : undefined} data-page={p}>
            {TITLES[p]}
            <span className="nav-key" aria-hidden="true">{PAGES.indexOf(p) + 1}</span>
          </a>
        ))}
      </nav>
      <main className="content">
        <h1>{TITLES[page]}</h1>
        {update !== null && page !== "settings" && (
          <div className="notice" role="status" data-testid="update-available">
            Fathom {update.version} is available. <a href="#/settings">Install it from Settings</a>{" "}
            <button type="button" className="link" onClick={() => { setUpdate(null); }}>
              Later
            </button>
          </div>
        )}
        {deviceProblem !== null && (
          <div role="alert" className="error" data-testid="device-problem">
            {deviceProblem} Search and the library still work.
          </div>
        )}
        {error !== null && (
          <div role="alert" className="error">
            {error}
          </div>
        )}
        {page === "library" && (
          <LibraryPage folders={folders} report={report} onPick={() => void pickFolders()} onChanged={refresh} onDismissReport={() => { setReport(null); }} onError={setError} />
        )}
        {page === "settings" && <SettingsPage />}
        {page === "chat" && <ChatPage />}
        {page === "ask" && <AskPage folders={folders} showRun={shownRun} draft={askDraft} withoutModel={<SearchPage folders={folders} />} />}
        {page === "search" && <SearchPage folders={folders} />}
        {page === "models" && <ModelsPage />}
      </main>
      {dragging && (
        <div className="drop-overlay" aria-hidden="true">
          Drop folders to add them to your library
        </div>
      )}
    </div>
  );
}
