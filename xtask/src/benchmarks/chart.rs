//! `docs/benchmarks.svg`: a horizontal bar per engine of its decode tok/s in the browser.

use super::report::BrowserReport;
use std::fmt::Write;

const WIDTH: f64 = 760.0;
const LABEL_WIDTH: f64 = 300.0;
const VALUE_WIDTH: f64 = 90.0;
const BAR_HEIGHT: f64 = 26.0;
const GAP: f64 = 12.0;
const TOP: f64 = 56.0;
const HEARTH_COLOUR: &str = "#c2410c";
const OTHER_COLOUR: &str = "#1d4ed8";

/// The chart as an SVG document.
pub fn decode_chart(report: &BrowserReport) -> String {
    let bars: Vec<(&str, f64, bool)> = report
        .runs
        .iter()
        .map(|r| {
            (
                r.label.as_str(),
                r.generation.decode_tok_s.unwrap_or(0.0),
                r.engine == "hearth",
            )
        })
        .collect();
    let title = format!(
        "Decode tok/s in Chromium: {}, {} greedy tokens (longer is faster)",
        report.model.name, report.workload.new_tokens
    );
    bar_chart(&title, &bars)
}

/// Bars of `(label, value, highlighted)`, scaled so the largest value fills the width.
fn bar_chart(title: &str, bars: &[(&str, f64, bool)]) -> String {
    let height = TOP + bars.len() as f64 * (BAR_HEIGHT + GAP) + GAP;
    let max = bars.iter().map(|b| b.1).fold(0.0, f64::max);
    let span = WIDTH - LABEL_WIDTH - VALUE_WIDTH;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="title">"#
    );
    let _ = writeln!(svg, r#"<title id="title">{}</title>"#, escape(title));
    let _ = writeln!(
        svg,
        r##"<rect width="100%" height="100%" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        svg,
        r##"<text x="12" y="30" font-family="sans-serif" font-size="15" fill="#111827">{}</text>"##,
        escape(title)
    );
    for (i, (label, value, highlighted)) in bars.iter().enumerate() {
        let y = TOP + i as f64 * (BAR_HEIGHT + GAP);
        let text_y = y + BAR_HEIGHT * 0.68;
        let length = if max > 0.0 { value / max * span } else { 0.0 };
        let colour = if *highlighted {
            HEARTH_COLOUR
        } else {
            OTHER_COLOUR
        };
        let _ = writeln!(
            svg,
            r##"<text x="{x}" y="{text_y:.1}" font-family="sans-serif" font-size="13" fill="#111827" text-anchor="end">{label}</text>"##,
            x = LABEL_WIDTH - 10.0,
            label = escape(label)
        );
        let _ = writeln!(
            svg,
            r#"<rect x="{LABEL_WIDTH}" y="{y:.1}" width="{length:.1}" height="{BAR_HEIGHT}" fill="{colour}"/>"#
        );
        let _ = writeln!(
            svg,
            r##"<text x="{x:.1}" y="{text_y:.1}" font-family="sans-serif" font-size="13" fill="#111827">{value}</text>"##,
            x = LABEL_WIDTH + length + 6.0,
            value = rate(*value)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// A rate with a sensible number of digits.
pub fn rate(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widths(svg: &str) -> Vec<f64> {
        svg.lines()
            .filter(|l| l.starts_with("<rect x="))
            .map(|l| {
                let w = l.split("width=\"").nth(1).unwrap();
                w[..w.find('"').unwrap()].parse().unwrap()
            })
            .collect()
    }

    #[test]
    fn the_largest_value_fills_the_span_and_the_others_scale() {
        let svg = bar_chart(
            "t",
            &[("a", 2.0, true), ("b", 8.0, false), ("c", 0.0, false)],
        );
        let span = WIDTH - LABEL_WIDTH - VALUE_WIDTH;
        assert_eq!(widths(&svg), vec![span / 4.0, span, 0.0]);
        assert!(svg.contains(HEARTH_COLOUR) && svg.contains(OTHER_COLOUR));
    }

    #[test]
    fn labels_are_escaped() {
        let svg = bar_chart("A & B", &[("<x> \"y\"", 1.0, false)]);
        assert!(svg.contains("A &amp; B"));
        assert!(svg.contains("&lt;x&gt; &quot;y&quot;"));
        assert!(!svg.contains("<x>"));
    }

    #[test]
    fn rates_keep_three_significant_digits_or_so() {
        assert_eq!(rate(0.4567), "0.46");
        assert_eq!(rate(12.46), "12.5");
        assert_eq!(rate(512.4), "512");
    }
}
