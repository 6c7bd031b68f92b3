// Byte-addressed reads of a weight part in row quads (row_quads.wgsl), for the embedding lookup
// (`p.cols` is the table's columns): byte `off` of the part's stored rows, row-major, as
// common.wgsl reads a buffer. The re-encoded blocks are word-aligned, so every read is.

fn load_u32(off: u32) -> u32 {
    let row_bytes = p.cols / BLOCK_WEIGHTS * BLOCK_BYTES;
    let row = off / row_bytes;
    return words(row / 4u, (off % row_bytes) / 4u)[row % 4u];
}
