//! Unrolling marked WGSL lines: WGSL cannot index a function's registers, and on a CPU driver
//! a dynamically indexed array is a gather of one scalar load per SIMD lane, so the attention
//! kernels keep their per-dimension (and per-head) values in separately named variables,
//! written out here from one template line each.
//!
//! A line ending in `// each d` is written once for every 4 of a head's dimensions (i = 0, 1,
//! ..., `vecs` − 1; d = 4i), and a block of lines from a line `// each d {` to a line `// }`
//! once for each of them too, in order (each vec4's value is then used as soon as it is
//! loaded). A line ending in `// each g`, alone or in such a block, is written once for each of
//! `heads` heads (g = 0, 1, ...). In such lines the name `d` alone becomes `{4i}u` and `g`
//! alone `{g}u`; in a longer name, a `_`-separated part `d` becomes `i` and a part `g` becomes
//! `g` (`a_g_d` → `a_0_3`).

const EACH_D: &str = " // each d";
const EACH_G: &str = " // each g";
const BLOCK_START: &str = "// each d {";
const BLOCK_END: &str = "// }";

/// `source` with its marked lines written out for `vecs` vec4s a head and `heads` heads.
pub(crate) fn unroll(source: &str, vecs: u32, heads: u32) -> String {
    let mut out = String::with_capacity(source.len() * 2);
    let mut lines = source.lines();
    while let Some(line) = lines.next() {
        // The lines written for each vec4: a block's, or a `// each d` line alone.
        let per_vec: Vec<&str> = if line.trim() == BLOCK_START {
            lines
                .by_ref()
                .take_while(|l| l.trim() != BLOCK_END)
                .collect()
        } else if let Some(body) = line.strip_suffix(EACH_D) {
            vec![body]
        } else {
            write_heads(&mut out, line, heads, None);
            continue;
        };
        for i in 0..vecs {
            for line in &per_vec {
                write_heads(&mut out, line, heads, Some(i));
            }
        }
    }
    out
}

/// Writes `line` with vec4 `i` put in: once, or for each head if it is a `// each g` line.
fn write_heads(out: &mut String, line: &str, heads: u32, i: Option<u32>) {
    let mut push = |g| {
        out.push_str(&substitute(line.strip_suffix(EACH_G).unwrap_or(line), g, i));
        out.push('\n');
    };
    match line.strip_suffix(EACH_G) {
        Some(_) => (0..heads).for_each(|g| push(Some(g))),
        None => push(None),
    }
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
    fn marked_lines_are_written_per_vec_and_per_head() {
        let source = "let x = 1u;\n\
                      var a_d = k4(kb + d); // each d\n\
                      m_g = max(m_g, s_g + f32(g)); // each g\n\
                      let head_dim = d_g; // unmarked\n";
        let want = "let x = 1u;\n\
                    var a_0 = k4(kb + 0u);\n\
                    var a_1 = k4(kb + 4u);\n\
                    m_0 = max(m_0, s_0 + f32(0u));\n\
                    m_1 = max(m_1, s_1 + f32(1u));\n\
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
        let source = "    // each d {\n\
                      let hd = kv_off + dg + gd_x + q_base + 4u; // each g\n\
                      // }\n";
        assert_eq!(
            unroll(source, 1, 1),
            "let hd = kv_off + dg + gd_x + q_base + 4u;\n"
        );
    }
}
