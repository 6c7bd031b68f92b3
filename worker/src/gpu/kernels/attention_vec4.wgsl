// The KV cache as vec4s, read only, and vec4 reads of it and of the queries: what
// attention_lanes.wgsl and attention_heads.wgsl share. A lane loads a position's row of its KV
// head (or its share of it) in loads of 16 bytes (as f32s it took 4 times as many, each a
// separate transaction across the workgroup's lanes, which read rows far apart).
// Concatenated after attention_io.wgsl.

@group(0) @binding(1) var<storage, read> k_cache: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> v_cache: array<vec4<f32>>;

fn q4(i: u32) -> vec4<f32> {
    return vec4<f32>(q[i], q[i + 1u], q[i + 2u], q[i + 3u]);
}

// The cache's vec4 holding elements i..i + 4 (i a multiple of 4).
fn k4(i: u32) -> vec4<f32> {
    return k_cache[i / 4u];
}

fn v4(i: u32) -> vec4<f32> {
    return v_cache[i / 4u];
}
