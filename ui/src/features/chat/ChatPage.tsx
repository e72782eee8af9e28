import { useCallback, useEffect, useRef, useState } from "react";
import { applyDelta } from "./chat";
import { Detail } from "../../components/Detail";
import { describeError, errorDetail, isCommandError, type CommandError, type Conversation, type ConversationSummary, type Effort, type Part, type ReplyAction, type Stream } from "../../lib/ipc";
import { convertingText } from "../../lib/format";
import { Parts } from "./components/Parts";
import { Reply } from "./components/Reply";
import { UserMessage } from "./components/UserMessage";
import { api } from "./api";

const EFFORTS: Effort[] = ["low", "medium", "high"];

/** A reply being generated: what has streamed so far. */
interface Live {
  parts: Part[];
  loading: boolean;
  /** A first load's conversion for llama.cpp, as it goes. */
  converting: string | null;
  /** Set once started; events may arrive before. */
  stream: Stream<Conversation> | null;
}

export function ChatPage() {
  const [list, setList] = useState<ConversationSummary[]>([]);
  const [query, setQuery] = useState("");
  const [current, setCurrent] = useState<Conversation | null>(null);
  const [effort, setEffort] = useState<Effort>("medium");
  const [instructions, setInstructions] = useState("");
  const [editingInstructions, setEditingInstructions] = useState(false);
  const [draft, setDraft] = useState("");
  const [live, setLive] = useState<Live | null>(null);
  const [error, setError] = useState<CommandError | string | null>(null);
  const [renaming, setRenaming] = useState<string | null>(null);
  const [exported, setExported] = useState<string | null>(null);
  const bottom = useRef<HTMLDivElement>(null);

  const refreshList = useCallback(async (q: string) => {
    try {
      setList(await api.listConversations(q.trim() === "" ? null : q));
    } catch (e) {
      setError(isCommandError(e) ? e : describeError(e));
    }
  }, []);

  useEffect(() => {
    const timer = setTimeout(() => void refreshList(query), 150);
    return () => {
      clearTimeout(timer);
    };
  }, [query, refreshList]);

  useEffect(() => {
    bottom.current?.scrollIntoView({ block: "end" });
  }, [current, live]);

  const open = async (id: string) => {
    if (live !== null) return;
    try {
      const c = await api.getConversation(id);
      setCurrent(c);
      setEffort(c.setup.effort);
      setInstructions(c.setup.instructions ?? "");
      setEditingInstructions(false);
      setError(null);
      setExported(null);
    } catch (e) {
      setError(isCommandError(e) ? e : describeError(e));
    }
  };

  const startNew = () => {
    if (live !== null) return;
    setCurrent(null);
    setInstructions("");
    setEditingInstructions(false);
    setError(null);
    setExported(null);
  };

  const run = async (action: ReplyAction, allowUnfit = false) => {
    setError(null);
    let conversation = current;
    try {
      conversation ??= await api.newConversation(effort, instructions.trim() === "" ? null : instructions);
    } catch (e) {
      setError(isCommandError(e) ? e : describeError(e));
      return;
    }
    // Show the user's words at once; the stored conversation replaces this when the reply ends.
    const messages = [...conversation.messages];
    if (action.kind === "send") messages.push({ role: "user", text: action.text });
    if (action.kind === "edit") messages.splice(action.index, messages.length - action.index, { role: "user", text: action.text });
    if (action.kind === "regenerate") {
      const lastUser = messages.map((m) => m.role).lastIndexOf("user");
      messages.splice(lastUser + 1);
    }
    setCurrent({ ...conversation, messages });
    const id = conversation.id;
    // In place before the stream starts: its first events can arrive before `chatReply` returns.
    setLive({ parts: [], loading: false, converting: null, stream: null });
    const stream = api.chatReply(id, action, allowUnfit, (event) => {
      setLive((l) => {
        if (l === null) return l;
        switch (event.event) {
          case "loading":
            return { ...l, loading: true };
          case "converting":
            return { ...l, loading: true, converting: convertingText(event.doneBytes, event.totalBytes) };
          case "delta":
            return { ...l, loading: false, converting: null, parts: applyDelta(l.parts, event) };
          default:
            return l;
        }
      });
    });
    setLive((l) => (l === null ? l : { ...l, stream }));
    try {
      setCurrent(await stream.result);
    } catch (e) {
      setError(isCommandError(e) ? e : describeError(e));
      // What was saved (the user's message) is shown as the store has it.
      api.getConversation(id).then(setCurrent, () => undefined);
    } finally {
      setLive(null);
      void refreshList(query);
    }
  };

  const send = () => {
    const text = draft.trim();
    if (text === "" || live !== null) return;
    setDraft("");
    void run({ kind: "send", text });
  };

  const changeEffort = async (next: Effort) => {
    setEffort(next);
    if (current === null) return;
    try {
      setCurrent(await api.setConversationSetup(current.id, next, instructions.trim() === "" ? null : instructions));
    } catch (e) {
      setError(isCommandError(e) ? e : describeError(e));
    }
  };

  const saveInstructions = async () => {
    setEditingInstructions(false);
    if (current === null) return;
    try {
      setCurrent(await api.setConversationSetup(current.id, effort, instructions.trim() === "" ? null : instructions));
    } catch (e) {
      setError(isCommandError(e) ? e : describeError(e));
    }
  };

  const rename = async (id: string, title: string) => {
    setRenaming(null);
    if (title.trim() === "") return;
    try {
      const c = await api.renameConversation(id, title);
      if (current?.id === id) setCurrent(c);
      await refreshList(query);
    } catch (e) {
      setError(isCommandError(e) ? e : describeError(e));
    }
  };

  const remove = async (s: ConversationSummary) => {
    if (!window.confirm(`Delete “${s.title || "Untitled"}”? This cannot be undone.`)) return;
    try {
      await api.deleteConversation(s.id);
      if (current?.id === s.id) setCurrent(null);
      await refreshList(query);
    } catch (e) {
      setError(isCommandError(e) ? e : describeError(e));
    }
  };

  const exportCurrent = async () => {
    if (current === null) return;
    try {
      const path = await api.exportConversation(current.id, null);
      setExported(path);
    } catch (e) {
      setError(isCommandError(e) ? e : describeError(e));
    }
  };

  const messages = current?.messages ?? [];
  const lastReply = messages.map((m) => m.role).lastIndexOf("assistant");
  const busy = live !== null;

  return (
    <div className="chat">
      <aside className="conversations" aria-label="Conversations">
        <button type="button" onClick={startNew} disabled={busy}>
          New chat
        </button>
        <input type="search" aria-label="Search conversations" placeholder="Search conversations" value={query} onChange={(e) => { setQuery(e.target.value); }} />
        <ul>
          {list.map((s) => (
            <li key={s.id} data-testid="conversation" className={s.id === current?.id ? "current" : undefined}>
              {renaming === s.id ? (
                <form
                  onSubmit={(e) => {
                    e.preventDefault();
                    const input = e.currentTarget.elements.namedItem("title") as HTMLInputElement;
                    void rename(s.id, input.value);
                  }}
                >
                  <input name="title" aria-label="Conversation title" defaultValue={s.title} autoFocus onBlur={(e) => void rename(s.id, e.target.value)} />
                </form>
              ) : (
                <button type="button" className="conversation-title" title={s.title} onClick={() => void open(s.id)} aria-current={s.id === current?.id ? "true" : undefined}>
                  {s.title || "Untitled"}
                </button>
              )}
              {s.snippet != null && <div className="snippet">{s.snippet}</div>}
              <div className="conversation-actions">
                <button type="button" className="link" onClick={() => { setRenaming(s.id); }}>
                  Rename
                </button>
                <button type="button" className="link danger" onClick={() => void remove(s)} disabled={busy && s.id === current?.id}>
                  Delete
                </button>
              </div>
            </li>
          ))}
          {list.length === 0 && <li className="empty">{query.trim() === "" ? "No conversations yet." : `Nothing matches “${query.trim()}”.`}</li>}
        </ul>
      </aside>
      <section className="thread" aria-label="Conversation">
        <div className="thread-bar">
          <span className="thread-title">{current?.title || "New chat"}</span>
          <label>
            Reasoning{" "}
            <select aria-label="Reasoning effort" value={effort} onChange={(e) => void changeEffort(e.target.value as Effort)} disabled={busy}>
              {EFFORTS.map((e) => (
                <option key={e} value={e}>
                  {e}
                </option>
              ))}
            </select>
          </label>
          <button type="button" className="link" onClick={() => { setEditingInstructions(!editingInstructions); }} aria-expanded={editingInstructions}>
            {instructions.trim() === "" ? "Instructions…" : "Instructions ✓"}
          </button>
          {current !== null && (
            <button type="button" className="link" onClick={() => void exportCurrent()}>
              Export…
            </button>
          )}
        </div>
        {editingInstructions && (
          <form
            className="instructions"
            onSubmit={(e) => {
              e.preventDefault();
              void saveInstructions();
            }}
          >
            <textarea aria-label="Instructions" placeholder="How Context-1 should answer in this conversation (e.g. “Answer in French, briefly.”)" value={instructions} rows={3} onChange={(e) => { setInstructions(e.target.value); }} />
            <button type="submit" disabled={busy}>
              Save instructions
            </button>
          </form>
        )}
        {exported !== null && <div className="notice">Saved to {exported}</div>}
        <div className="messages" data-testid="messages">
          {messages.map((m, i) =>
            m.role === "user" ? (
              <UserMessage key={`${String(i)}-${m.text}`} text={m.text} busy={busy} onEdit={(text) => void run({ kind: "edit", index: i, text })} />
            ) : (
              <Reply key={i} message={m} isLast={i === lastReply && !busy} busy={busy} onRegenerate={() => void run({ kind: "regenerate" })} />
            ),
          )}
          {live !== null && (
            <div className="message assistant live" data-testid="live-reply" aria-live="polite">
              {live.loading && <p className="loading">{live.converting ?? "Loading the model…"}</p>}
              {!live.loading && live.parts.length === 0 && <p className="loading">Thinking…</p>}
              <Parts parts={live.parts} live />
            </div>
          )}
          {error !== null && (
            <div role="alert" className="error">
              {typeof error === "string" ? error : describeError(error)}
          {typeof error !== "string" && <Detail text={errorDetail(error)} />}
              {typeof error !== "string" && error.kind === "doesNotFit" && (
<>
                <button type="button" onClick={() => void run({ kind: "regenerate" }, true)}>
                  Load anyway
                </button>
                <a href="#/settings" data-testid="run-on-server">Run it on a server</a>
</>
              )}
              {typeof error !== "string" && error.kind !== "doesNotFit" && messages.at(-1)?.role === "user" && (
                <button type="button" onClick={() => void run({ kind: "regenerate" })}>
                  Try again
                </button>
              )}
            </div>
          )}
          <div ref={bottom} />
        </div>
        <form
          className="composer"
          onSubmit={(e) => {
            e.preventDefault();
            send();
          }}
        >
          <textarea
            aria-label="Message"
            placeholder="Message Context-1"
            value={draft}
            rows={3}
            onChange={(e) => { setDraft(e.target.value); }}
            onKeyDown={(e) => {
              // Enter sends; Shift+Enter is a new line.
              if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
                e.preventDefault();
                send();
              }
            }}
          />
          {busy ? (
            <button type="button" onClick={() => void live.stream?.cancel()}>
              Stop
            </button>
          ) : (
            <button type="submit" disabled={draft.trim() === ""}>
              Send
            </button>
          )}
        </form>
      </section>
    </div>
  );
}
