/** A page whose capability has not landed yet says so plainly, with no fake data. */
export function Placeholder({ what, needs }: { what: string; needs: string }) {
  return (
    <section className="placeholder" data-testid="not-available">
      <p className="lead">{what} is not available in this version of Fathom yet.</p>
      <p className="muted">It arrives with {needs}.</p>
    </section>
  );
}
