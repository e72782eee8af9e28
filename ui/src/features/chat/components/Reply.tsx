import { useState } from "react";
import { describeStats, ENDINGS, replyText } from "../chat";
import { type Message } from "../../../lib/ipc";
import { Parts } from "./Parts";

export function Reply({ message, isLast, busy, onRegenerate }: { message: Extract<Message, { role: "assistant" }>; isLast: boolean; busy: boolean; onRegenerate: () => void }) {
  const [copied, setCopied] = useState(false);
  const ending = ENDINGS[message.ending ?? "done"];
  const copy = () => {
    void navigator.clipboard.writeText(replyText(message)).then(() => {
      setCopied(true);
      setTimeout(() => {
        setCopied(false);
      }, 1500);
    });
  };
  return (
    <div className="message assistant" data-testid="message" data-role="assistant" data-ending={message.ending}>
      <Parts parts={message.parts} live={false} />
      <div className="message-footer">
        {message.stats != null && <span data-testid="stats">{describeStats(message.stats)}</span>}
        {ending != null && <span className="ending">{ending}</span>}
        <button type="button" className="link" onClick={copy}>
          {copied ? "Copied" : "Copy"}
        </button>
        {isLast && (
          <button type="button" className="link" onClick={onRegenerate} disabled={busy}>
            Regenerate
          </button>
        )}
      </div>
    </div>
  );
}
