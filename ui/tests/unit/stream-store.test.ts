import { describe, expect, it } from "vitest";
import { streamStore } from "../../src/lib/stream-store";
import type { Stream } from "../../src/lib/ipc";

/** A stream driven by the test: progress, then an ending it chooses. */
function controlled<R>() {
  let resolve!: (r: R) => void;
  let reject!: (e: unknown) => void;
  const result = new Promise<R>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  let cancels = 0;
  const stream: Stream<R> = {
    result,
    cancel: () => {
      cancels += 1;
      reject({ kind: "cancelled" });
      return Promise.resolve(true);
    },
  };
  return { stream, resolve, reject, cancels: () => cancels };
}

describe("one store for streamed work that outlives its page", () => {
  it("runs, reports progress, ends done, and calls onSettled once", async () => {
    const c = controlled<string>();
    let send: (p: number) => void = () => undefined;
    const store = streamStore<number, string>((_key, onProgress) => {
      send = onProgress;
      return c.stream;
    });
    let settled = 0;
    store.start("a", () => (settled += 1));
    // A second start while it runs is ignored.
    store.start("a", () => (settled += 10));
    expect(store.get("a")).toMatchObject({ state: "running", progress: null });
    send(3);
    expect(store.get("a")).toMatchObject({ state: "running", progress: 3 });
    c.resolve("ok");
    await c.stream.result;
    await Promise.resolve();
    expect(store.get("a")).toEqual({ state: "done", result: "ok" });
    expect(settled).toBe(1);
  });

  it("a cancelled stream is paused and can be started again; a failure keeps its message", async () => {
    const first = controlled<string>();
    const second = controlled<string>();
    let calls = 0;
    const store = streamStore<number, string>(() => (calls++ === 0 ? first : second).stream);
    store.start("a", () => undefined);
    await store.stop("a");
    expect(first.cancels()).toBe(1);
    expect(store.get("a")).toEqual({ state: "paused" });
    store.start("a", () => undefined);
    second.reject({ kind: "model", message: "The Hub cannot be reached.", detail: "tcp connect error" });
    await second.stream.result.catch(() => undefined);
    await Promise.resolve();
    expect(store.get("a")).toEqual({ state: "failed", message: "The Hub cannot be reached.", detail: "tcp connect error" });
    store.forget("a");
    expect(store.get("a")).toBeUndefined();
  });
});
