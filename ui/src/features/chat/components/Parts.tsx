import { type Part } from "../../../lib/ipc";
import { Markdown } from "./Markdown";

export function Parts({ parts, live }: { parts: Part[]; live: boolean }) {
  return (
    <>
      {parts.map((p, i) => {
        const last = live && i === parts.length - 1;
        switch (p.kind) {
          case "reasoning":
            return (
              <details key={i} className="thinking" open={last}>
                <summary>{last ? "Thinking…" : "Thinking"}</summary>
                <div className="thinking-text">{p.text}</div>
              </details>
            );
          case "commentary":
            return (
              <p key={i} className="commentary">
                {p.text}
              </p>
            );
          case "toolCall":
            return (
              <details key={i} className="tool-call">
                <summary>
                  Tool call: <code>{p.tool}</code>
                </summary>
                <pre>{p.arguments}</pre>
                {p.output != null && <pre className="tool-output">{p.output}</pre>}
              </details>
            );
          case "answer":
            return <Markdown key={i} text={p.text} />;
        }
      })}
    </>
  );
}
