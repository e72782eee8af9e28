use super::*;
use mlx_rs::ops;

/// FP4 E2M1 values by code (low nibble first in each byte).
const E2M1: [f32; 16] = [
    0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0,
];

fn random(shape: &[i32], seed: u64) -> Array {
    let key = mlx_rs::random::key(seed).unwrap();
    mlx_rs::random::normal::<f32>(shape, None, None, &key).unwrap()
}

fn max_abs_diff(a: &Array, b: &Array) -> f32 {
    let d = ops::abs(a.subtract(b).unwrap()).unwrap();
    let m = d.max(None).unwrap();
    m.eval().unwrap();
    m.item_exact::<f32>()
}

#[test]
fn mxfp4_packs_like_the_openai_layout() {
    // Codes 0..15 in order, two per byte (low nibble first), eight per uint32, scale 2^0.
    let codes: Vec<u32> = (0..4)
        .map(|word| (0..8).fold(0u32, |acc, i| acc | (((word * 8 + i) % 16) << (4 * i))))
        .collect();
    let weight = Array::from_slice(&codes, &[1, 4]);
    let scales = Array::from_slice(&[127u8], &[1, 1]);
    let q = Quantized::new(weight, scales, None, QuantSpec::MXFP4).unwrap();
    let w = q.dequantize().unwrap();
    w.eval().unwrap();
    let expected: Vec<f32> = (0..32).map(|i| E2M1[i % 16]).collect();
    assert_eq!(w.as_slice::<f32>(), expected.as_slice());

    // Scale byte 129 is 2^(129-127) = 4.
    let q = Quantized::new(
        q.weight.clone(),
        Array::from_slice(&[129u8], &[1, 1]),
        None,
        QuantSpec::MXFP4,
    )
    .unwrap();
    let w = q.dequantize().unwrap();
    w.eval().unwrap();
    assert_eq!(w.as_slice::<f32>()[7], 24.0);
}

#[test]
fn mxfp4_round_trips_representable_values_exactly() {
    // Each row: a power-of-two scale times values from the E2M1 table.
    let values: Vec<f32> = (0..4 * 64)
        .map(|i| E2M1[(i * 7) % 16] * [0.25, 1.0, 8.0, 0.5][i / 64])
        .collect();
    let w = Array::from_slice(&values, &[4, 64]);
    let q = quantize(&w, QuantSpec::MXFP4).unwrap();
    assert_eq!(q.weight.shape(), &[4, 8]);
    assert_eq!(q.weight.dtype(), Dtype::Uint32);
    assert_eq!(q.scales.shape(), &[4, 2]);
    assert_eq!(q.scales.dtype(), Dtype::Uint8);
    assert!(q.biases.is_none());
    assert_eq!(max_abs_diff(&q.dequantize().unwrap(), &w), 0.0);
}

#[test]
fn mxfp4_matmul_matches_the_dequantized_product() {
    let w = random(&[96, 128], 1);
    let x = random(&[5, 128], 2);
    let q = quantize(&w, QuantSpec::MXFP4).unwrap();
    let reference = x.matmul(q.dequantize().unwrap().t()).unwrap();
    let got = q.matmul(&x).unwrap();
    assert_eq!(got.shape(), &[5, 96]);
    assert!(max_abs_diff(&got, &reference) < 1e-4);
    // And it is a real quantization: close to, not equal to, the float product.
    let exact = x.matmul(w.t()).unwrap();
    let err = max_abs_diff(&got, &exact);
    assert!(err > 0.0 && err < 10.0, "{err}");
}

#[test]
fn mxfp4_gather_matmul_picks_each_tokens_expert() {
    let experts = random(&[4, 64, 96], 3);
    let q = quantize(&experts, QuantSpec::MXFP4).unwrap();
    let dense = q.dequantize().unwrap();
    // Three tokens, each sent to two experts: x is [tokens, 1, 1, in], indices [tokens, 2].
    let x = random(&[3, 1, 1, 96], 4);
    let idx = Array::from_slice(&[2u32, 0, 1, 3, 3, 2], &[3, 2]);
    let got = q.gather_matmul(&x, &idx, false).unwrap();
    let reference =
        ops::gather_mm(&x, dense.swap_axes(-1, -2).unwrap(), None, &idx, false).unwrap();
    assert_eq!(got.shape(), &[3, 2, 1, 64]);
    assert!(max_abs_diff(&got, &reference) < 1e-4);
}

#[test]
fn affine_matmul_matches_the_dequantized_product() {
    let w = random(&[64, 128], 5);
    let x = random(&[3, 128], 6);
    let q = quantize(&w, QuantSpec::affine(64, 8).unwrap()).unwrap();
    assert!(q.biases.is_some());
    assert!(max_abs_diff(&q.dequantize().unwrap(), &w) < 0.05);
    let reference = x.matmul(q.dequantize().unwrap().t()).unwrap();
    assert!(max_abs_diff(&q.matmul(&x).unwrap(), &reference) < 1e-4);
}

#[test]
fn malformed_parts_are_refused_with_a_reason() {
    let w = random(&[8, 64], 7);
    let q = quantize(&w, QuantSpec::MXFP4).unwrap();
    let err = |r: Result<Quantized>| r.unwrap_err().to_string();

    let wrong_scales = Array::from_slice(&[127u8; 8 * 3], &[8, 3]);
    assert!(err(Quantized::new(
        q.weight.clone(),
        wrong_scales,
        None,
        QuantSpec::MXFP4
    ))
    .contains("do not fit"));
    let float_scales = Array::from_slice(&[1.0f32; 16], &[8, 2]);
    assert!(err(Quantized::new(
        q.weight.clone(),
        float_scales,
        None,
        QuantSpec::MXFP4
    ))
    .contains("uint8"));
    let biases = Array::from_slice(&[0.0f32; 16], &[8, 2]);
    assert!(err(Quantized::new(
        q.weight.clone(),
        q.scales.clone(),
        Some(biases),
        QuantSpec::MXFP4
    ))
    .contains("no biases"));
    let bad_spec = QuantSpec {
        group_size: 64,
        ..QuantSpec::MXFP4
    };
    assert!(err(Quantized::new(
        q.weight.clone(),
        q.scales.clone(),
        None,
        bad_spec
    ))
    .contains("group size 32"));
    assert!(err(quantize(&random(&[8, 48], 8), QuantSpec::MXFP4)).contains("groups of 32"));
    assert!(QuantSpec::affine(64, 9).is_err());

    let narrow = random(&[2, 32], 9);
    assert!(q
        .matmul(&narrow)
        .unwrap_err()
        .to_string()
        .contains("input width 32"));
    assert!(q
        .gather_matmul(
            &random(&[1, 64], 1),
            &Array::from_slice(&[0u32], &[1]),
            false
        )
        .unwrap_err()
        .to_string()
        .contains("stack"));
}
