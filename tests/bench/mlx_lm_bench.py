"""The reference side of `fathom bench`: mlx-lm's model on the same checkpoint, measured the same
way (load, prefill at each prompt length, greedy decode), printed as one JSON object.

    python mlx_lm_bench.py MODEL_DIR --prompt-lens 512,2048 --decode-tokens 16 --seed 0
"""
import argparse
import json
import resource
import sys
import time

import mlx.core as mx
from mlx_lm.utils import load_model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--prompt-lens", default="512,2048")
    ap.add_argument("--decode-tokens", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    start = time.perf_counter()
    model, config = load_model(__import__("pathlib").Path(args.model))
    mx.eval(model.parameters())
    load_seconds = time.perf_counter() - start

    vocab = config["vocab_size"]
    runs = []
    for n in [int(x) for x in args.prompt_lens.split(",") if x]:
        mx.random.seed(args.seed)
        prompt = mx.random.randint(0, vocab, (n,)).astype(mx.int32)
        cache = model.make_cache()
        t0 = time.perf_counter()
        logits = model(prompt[None], cache=cache)[:, -1]
        token = mx.argmax(logits, axis=-1)
        mx.eval(token)
        prefill = time.perf_counter() - t0
        run = {"promptTokens": n, "prefillSeconds": prefill, "prefillTokensPerSecond": n / prefill,
               "timeToFirstTokenSeconds": prefill}
        if args.decode_tokens > 1:
            t1 = time.perf_counter()
            for _ in range(args.decode_tokens - 1):
                logits = model(token.reshape(1, 1), cache=cache)[:, -1]
                token = mx.argmax(logits, axis=-1)
                mx.eval(token)
            decode = time.perf_counter() - t1
            run.update(decodeTokens=args.decode_tokens - 1, decodeSeconds=decode,
                       decodeTokensPerSecond=(args.decode_tokens - 1) / decode)
        runs.append(run)

    print(json.dumps({"implementation": "mlx-lm", "loadSeconds": load_seconds, "runs": runs,
                      "peakRssBytes": peak_rss_bytes(), "peakMlxBytes": mx.get_peak_memory()}))


def peak_rss_bytes():
    """This process's peak resident set. On Linux from VmHWM: ru_maxrss would include the peak of
    the process that started this one (fork copies its high-water mark, exec keeps it)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


if __name__ == "__main__":
    main()
