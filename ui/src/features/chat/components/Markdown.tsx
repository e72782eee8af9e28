import { useMemo } from "react";
import { renderMarkdown } from "../../../lib/markdown";

export function Markdown({ text }: { text: string }) {
  const html = useMemo(() => renderMarkdown(text), [text]);
  // Sanitized by renderMarkdown (DOMPurify): no script, no remote loads, no navigation.
  return <div className="markdown" dangerouslySetInnerHTML={{ __html: html }} />;
}
