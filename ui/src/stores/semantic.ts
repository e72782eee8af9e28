// Semantic search's status as the pages show it: fetched once, then kept current by the app's
// `semanticStatusChanged` events.
import { useCallback, useEffect, useState } from "react";
import { commands, describeError, events, type SemanticStatus } from "../lib/ipc";

export function useSemanticStatus(onError: (message: string) => void): [SemanticStatus | null, () => void] {
  const [status, setStatus] = useState<SemanticStatus | null>(null);
  const refresh = useCallback(() => {
    commands.semanticStatus().then(setStatus, (e: unknown) => {
      onError(describeError(e));
    });
  }, [onError]);
  useEffect(() => {
    refresh();
    const unlisten = events.semanticStatusChanged.listen((e) => {
      setStatus(e.payload);
    });
    return () => {
      void unlisten.then((f) => {
        f();
      });
    };
  }, [refresh]);
  return [status, refresh];
}

/** Whether searches match by meaning for every passage right now. */
export function semanticReady(s: SemanticStatus): boolean {
  return s.embedder.state === "ready" && s.pass === "upToDate";
}
