//! Unrolling marked WGSL lines: WGSL cannot index a function's registers, and on a CPU driver
//! a dynamically indexed array is a gather of one scalar load per SIMD lane, so the attention
//! kernels keep their per-dimension (and per-head) values in separately named variables,
//! written out here from one template line each.
//!
//! A line ending in `// each d` is written once for every 4 of a head's dimensions (i = 0, 1,
//! ..., `vecs` − 1; d = 4i), one ending in `// each g` once for each of `heads` heads
//! (g = 0, 1, ...), and one ending in `// each g d` for each pair, g first. In such a line the
//! name `d` alone becomes `{4i}u` and `g` alone `{g}u`; in a longer name, a `_`-separated part
//! `d` becomes `i` and a part `g` becomes `g` (`a_g_d` → `a_0_3`). A block of lines from one
//! ending in `// each d {` to a line `// }` is written once for each vec4, its `// each g`
//! lines for each head: each vec4's value is then used as soon as it is loaded.

/// The lines between these two (each a line of its own) are written once for each vec4, in
/// order, with `// each g` lines in them written for each head: the d-first order that
/// `// each g d` does not give.
const BLOCK_START: &str = "// each d {";
const BLOCK_END: &str = "// }";

const MARKS: [(&str, bool, bool); 3] = [
    (" // each g d", true, true),
    (" // each d", false, true),
    (" // each g", true, false),
];

/// `source` with its marked lines written out for `vecs` vec4s a head and `heads` heads.
pub(crate) fn unroll(source: &str, vecs: u32, heads: u32) -> String {
    let mut out = String::with_capacity(source.len() * 2);
    let mut lines = source.lines();
    while let Some(line) = lines.next() {
        if line.trim() == BLOCK_START {
            // The block's lines, repeated for each vec4 with d fixed.
            let block: Vec<&str> = lines
                .by_ref()
                .take_while(|l| l.trim() != BLOCK_END)
                .collect();
            for i in 0..vecs {
                for line in &block {
                    match marked(line) {
                        Some((body, true, false)) => {
                            for g in 0..heads {
                                push_line(&mut out, &substitute(body, Some(g), Some(i)));
                            }
                        }
                        _ => push_line(&mut out, &substitute(line, None, Some(i))),
                    }
                }
            }
            continue;
        }
        match marked(line) {
            Some((body, per_head, per_vec)) => {
                for g in 0..if per_head { heads } else { 1 } {
                    for i in 0..if per_vec { vecs } else { 1 } {
                        let line = substitute(body, per_head.then_some(g), per_vec.then_some(i));
                        push_line(&mut out, &line);
                    }
                }
            }
            None => push_line(&mut out, line),
        }
    }
    out
}

/// A marked line's body and whether it is written per head and per vec4.
fn marked(line: &str) -> Option<(&str, bool, bool)> {
    MARKS.iter().find_map(|&(mark, per_head, per_vec)| {
        line.strip_suffix(mark)
            .map(|body| (body, per_head, per_vec))
    })
}

fn push_line(out: &mut String, line: &str) {
    out.push_str(line);
    out.push('\n');
}

/// `body` with head `g` and vec4 `i` put in for the names that stand for them.
fn substitute(body: &str, g: Option<u32>, i: Option<u32>) -> String {
    let name = |word: &str| -> String {
        match (word, g, i) {
            ("d", _, Some(i)) => format!("{}u", 4 * i),
            ("g", Some(g), _) => format!("{g}u"),
            _ if word.starts_with(|c: char| c.is_ascii_alphabetic()) => word
                .split('_')
                .map(|part| match (part, g, i) {
                    ("d", _, Some(i)) => i.to_string(),
                    ("g", Some(g), _) => g.to_string(),
                    _ => part.to_string(),
                })
                .collect::<Vec<_>>()
                .join("_"),
            _ => word.to_string(),
        }
    };
    let mut out = String::with_capacity(body.len() + 16);
    let mut word = String::new();
    for c in body.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            out.push_str(&name(&word));
            word.clear();
            out.push(c);
        }
    }
    out.push_str(&name(&word));
    out
}

#[cfg(test)]
mod tests {
    use super::unroll;

    #[test]
    fn marked_lines_are_written_per_vec_head_and_pair() {
        let source = "let x = 1u;\n\
                      var a_d = k4(kb + d); // each d\n\
                      m_g = max(m_g, s_g); // each g\n\
                      a_g_d += q_g_d * lane_d[g + d / 4u]; // each g d\n\
                      let head_dim = d_g; // unmarked\n";
        let want = "let x = 1u;\n\
                    var a_0 = k4(kb + 0u);\n\
                    var a_1 = k4(kb + 4u);\n\
                    m_0 = max(m_0, s_0);\n\
                    m_1 = max(m_1, s_1);\n\
                    a_0_0 += q_0_0 * lane_0[0u + 0u / 4u];\n\
                    a_0_1 += q_0_1 * lane_1[0u + 4u / 4u];\n\
                    a_1_0 += q_1_0 * lane_0[1u + 0u / 4u];\n\
                    a_1_1 += q_1_1 * lane_1[1u + 4u / 4u];\n\
                    let head_dim = d_g; // unmarked\n";
        assert_eq!(unroll(source, 2, 2), want);
    }

    #[test]
    fn a_block_is_written_per_vec_with_its_head_lines_inside() {
        let source = "    // each d {\n\
                      let k_d = k4(d);\n\
                      s_g += dot(q_g_d, k_d); // each g\n\
                      // }\n\
                      done();\n";
        let want = "let k_0 = k4(0u);\n\
                    s_0 += dot(q_0_0, k_0);\n\
                    s_1 += dot(q_1_0, k_0);\n\
                    let k_1 = k4(4u);\n\
                    s_0 += dot(q_0_1, k_1);\n\
                    s_1 += dot(q_1_1, k_1);\n\
                    done();\n";
        assert_eq!(unroll(source, 2, 2), want);
    }

    #[test]
    fn names_merely_containing_d_or_g_are_kept() {
        let source = "let hd = kv_off + dg + gd_x + q_base + 4u; // each g d\n";
        assert_eq!(
            unroll(source, 1, 1),
            "let hd = kv_off + dg + gd_x + q_base + 4u;\n"
        );
    }
}
