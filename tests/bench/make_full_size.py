"""Writes a full-size gpt-oss-20b-shaped checkpoint with random weights in the MLX MXFP4 layout of
foadmk/context-1-MLX-MXFP4 (every linear and embedding layer mxfp4, the router 8-bit affine in
groups of 64), one layer at a time so that it fits in memory. For `fathom bench`.

    python make_full_size.py OUT_DIR [--layers 24]
"""
import argparse
import json
from pathlib import Path

import mlx.core as mx

CONFIG = {
    "model_type": "gpt_oss", "num_hidden_layers": 24, "num_local_experts": 32, "num_experts_per_tok": 4,
    "vocab_size": 201088, "rms_norm_eps": 1e-05, "hidden_size": 2880, "intermediate_size": 2880,
    "head_dim": 64, "num_attention_heads": 64, "num_key_value_heads": 8, "sliding_window": 128,
    "rope_theta": 150000, "max_position_embeddings": 131072,
    "rope_scaling": {"rope_type": "yarn", "factor": 32.0, "beta_fast": 32.0, "beta_slow": 1.0,
                     "original_max_position_embeddings": 4096, "truncate": False},
}


def linear(out, inp, scale, mode="mxfp4", group=32, bits=4):
    """A random [out, in] matrix, quantized. MXFP4 ones are drawn directly as random codes with
    scales near `scale` (what a quantized random matrix is, and minutes faster than quantizing
    20B normal samples); others are made in row blocks and quantized."""
    if mode == "mxfp4":
        exponent = 127 + round(__import__("math").log2(scale))
        codes = mx.random.randint(0, 2**31 - 1, (out, inp // 8)).astype(mx.uint32) * 2 + mx.random.randint(0, 2, (out, inp // 8)).astype(mx.uint32)
        scales = (exponent + mx.random.randint(-1, 2, (out, inp // 32))).astype(mx.uint8)
        mx.eval(codes, scales)
        return [codes, scales]
    blocks = []
    for start in range(0, out, 8192):
        rows = min(8192, out - start)
        w = (mx.random.normal((rows, inp)) * scale).astype(mx.bfloat16)
        parts = mx.quantize(w, group_size=group, bits=bits, mode=mode)
        mx.eval(parts)
        blocks.append(parts)
    return [mx.concatenate([b[k] for b in blocks]) for k in range(len(blocks[0]))]


def add(weights, name, parts):
    weights[f"{name}.weight"] = parts[0]
    weights[f"{name}.scales"] = parts[1]
    if len(parts) > 2 and parts[2] is not None:
        weights[f"{name}.biases"] = parts[2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=24)
    args = ap.parse_args()
    c = dict(CONFIG, num_hidden_layers=args.layers)
    c["layer_types"] = ["sliding_attention", "full_attention"] * (args.layers // 2)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    h, i, e, d = c["hidden_size"], c["intermediate_size"], c["num_local_experts"], c["head_dim"]
    q, kv = c["num_attention_heads"] * d, c["num_key_value_heads"] * d
    mx.random.seed(0)
    weight_map = {}
    total = 0

    def flush(weights, name):
        nonlocal total
        mx.eval(weights)
        mx.save_safetensors(str(out / name), weights, metadata={"format": "mlx"})
        for k, v in weights.items():
            weight_map[k] = name
            total += v.nbytes

    n_files = args.layers + 1
    top = {}
    add(top, "model.embed_tokens", linear(c["vocab_size"], h, 0.02))
    add(top, "lm_head", linear(c["vocab_size"], h, 0.02))
    top["model.norm.weight"] = mx.ones((h,), mx.bfloat16)
    flush(top, f"model-{1:05d}-of-{n_files:05d}.safetensors")
    for layer in range(args.layers):
        p = f"model.layers.{layer}"
        w = {}
        for name, (o, n) in {"q_proj": (q, h), "k_proj": (kv, h), "v_proj": (kv, h), "o_proj": (h, q)}.items():
            add(w, f"{p}.self_attn.{name}", linear(o, n, n ** -0.5))
            w[f"{p}.self_attn.{name}.bias"] = mx.zeros((o,), mx.bfloat16)
        w[f"{p}.self_attn.sinks"] = mx.random.normal((c["num_attention_heads"],)).astype(mx.bfloat16)
        add(w, f"{p}.mlp.router", linear(e, h, h ** -0.5, mode="affine", group=64, bits=8))
        w[f"{p}.mlp.router.bias"] = mx.zeros((e,), mx.bfloat16)
        for name, (o, n) in {"gate_proj": (i, h), "up_proj": (i, h), "down_proj": (h, i)}.items():
            experts = [linear(o, n, n ** -0.5) for _ in range(e)]
            w[f"{p}.mlp.experts.{name}.weight"] = mx.stack([x[0] for x in experts])
            w[f"{p}.mlp.experts.{name}.scales"] = mx.stack([x[1] for x in experts])
            w[f"{p}.mlp.experts.{name}.bias"] = mx.zeros((e, o), mx.bfloat16)
        w[f"{p}.input_layernorm.weight"] = mx.ones((h,), mx.bfloat16)
        w[f"{p}.post_attention_layernorm.weight"] = mx.ones((h,), mx.bfloat16)
        flush(w, f"model-{layer + 2:05d}-of-{n_files:05d}.safetensors")
        print(f"layer {layer + 1}/{args.layers}", flush=True)
    quant = {"group_size": 32, "bits": 4, "mode": "mxfp4"}
    quant.update({f"model.layers.{l}.mlp.router": {"group_size": 64, "bits": 8} for l in range(args.layers)})
    c["quantization"] = quant
    c["quantization_config"] = quant
    (out / "config.json").write_text(json.dumps(c, indent=2))
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (out / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    print(f"wrote {out} ({total / 1e9:.1f} GB)")


if __name__ == "__main__":
    main()
