// Fathom's reader: a document's indexed chunks joined back into its text (chunks overlap, so
// each one's repeat of the previous one's end is dropped), and the place to show.
import type { Hit } from "../lib/ipc";

export interface Joined {
  text: string;
  /** Where each chunk's new text starts in `text`, with its line and page. */
  starts: { at: number; chunk: number; line: number; page: number }[];
}

/** The longest end of `a` that `b` starts with (the chunks' overlap), up to `max` characters. */
function overlap(a: string, b: string, max = 4000): number {
  for (let k = Math.min(a.length, b.length, max); k > 0; k -= 1) {
    if (a.endsWith(b.slice(0, k))) return k;
  }
  return 0;
}

export function joinChunks(chunks: Hit[]): Joined {
  const sorted = [...chunks].sort((x, y) => x.chunk - y.chunk);
  let text = "";
  const starts: Joined["starts"] = [];
  for (const c of sorted) {
    const skip = text === "" ? 0 : overlap(text, c.text);
    starts.push({ at: text.length, chunk: c.chunk, line: c.line, page: c.page });
    text += c.text.slice(skip);
  }
  return { text, starts };
}

/** Where `quote` is in `text`: its words in order, any whitespace between, any case. */
export function findQuote(text: string, quote: string): [number, number] | null {
  const words = quote.split(/\s+/).filter((w) => w !== "").map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  if (words.length === 0) return null;
  const m = new RegExp(words.join("\\s+"), "i").exec(text);
  return m ? [m.index, m.index + m[0].length] : null;
}

/** The offset to show for a line or page (the chunk that starts at or before it). */
export function offsetFor(joined: Joined, target: { line?: number; page?: number; chunk?: number }): number {
  let best = 0;
  for (const s of joined.starts) {
    const fits = target.chunk !== undefined ? s.chunk <= target.chunk : target.page !== undefined && target.page > 0 ? s.page <= target.page : s.line <= (target.line ?? 0);
    if (fits) best = s.at;
  }
  return best;
}
