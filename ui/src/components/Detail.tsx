/** The technical detail behind a plain message, folded away: a person reads the sentence, a bug
 *  report gets the rest. Renders nothing without detail. */
export function Detail({ text }: { text: string | null | undefined }) {
  if (text === null || text === undefined || text === "") return null;
  return (
    <details className="detail" data-testid="error-detail">
      <summary>Technical details</summary>
      <pre>{text}</pre>
    </details>
  );
}
