//! SVG charts drawn on the server: no script, no front-end build. Every label is escaped
//! here because templates embed the result with `|safe`.

use std::fmt::Write as _;

const W: f64 = 560.0;
const H: f64 = 220.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 40.0;

pub const TIER_COLORS: [&str; 3] = ["#d9480f", "#f59f00", "#1c7ed6"];

pub fn esc(s: &str) -> String {
    // askama's escaper, the one the console templates use: `& < > " '` become entities,
    // which is safe in text and in quoted attributes.
    askama::filters::escape(s, askama::filters::Html)
        .map(|safe| safe.to_string())
        .unwrap_or_default()
}

/// A round axis maximum at or above `v` (1, 2, 5 × 10ⁿ).
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if v <= m * p {
            return m * p;
        }
    }
    10.0 * p
}

fn frame(out: &mut String, title: &str, max: f64, fmt: &dyn Fn(f64) -> String, labels: &[String]) {
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" class=\"chart\" role=\"img\" aria-label=\"{t}\"><title>{t}</title><text x=\"{LEFT}\" y=\"16\" font-size=\"13\" font-weight=\"600\" fill=\"#212529\">{t}</text>",
        t = esc(title)
    );
    let ph = H - TOP - BOTTOM;
    for i in 0..=4 {
        let y = TOP + ph - ph * f64::from(i) / 4.0;
        let v = max * f64::from(i) / 4.0;
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{x2}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e9ecef\"/><text x=\"{tx}\" y=\"{ty:.1}\" font-size=\"10\" text-anchor=\"end\" fill=\"#495057\">{l}</text>",
            x2 = W - RIGHT,
            tx = LEFT - 6.0,
            ty = y + 3.5,
            l = esc(&fmt(v))
        );
    }
    let _ = write!(
        out,
        "<line x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{yb}\" stroke=\"#868e96\"/><line x1=\"{LEFT}\" x2=\"{xr}\" y1=\"{yb}\" y2=\"{yb}\" stroke=\"#868e96\"/>",
        yb = H - BOTTOM,
        xr = W - RIGHT
    );
    let n = labels.len().max(1);
    let step = (n / 8).max(1);
    let pw = W - LEFT - RIGHT;
    for (i, l) in labels.iter().enumerate() {
        if i % step != 0 && i != n - 1 {
            continue;
        }
        let x = LEFT + pw * (i as f64 + 0.5) / n as f64;
        let _ = write!(
            out,
            "<text x=\"{x:.1}\" y=\"{y}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#495057\">{l}</text>",
            y = H - BOTTOM + 14.0,
            l = esc(l)
        );
    }
}

fn legend(out: &mut String, items: &[(&str, &str)]) {
    let mut x = LEFT;
    for (name, color) in items {
        let _ = write!(
            out,
            "<rect x=\"{x}\" y=\"{y}\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{tx}\" y=\"{ty}\" font-size=\"11\" fill=\"#212529\">{n}</text>",
            y = H - 16.0,
            tx = x + 14.0,
            ty = H - 7.0,
            n = esc(name)
        );
        x += 24.0 + 7.0 * name.len() as f64;
    }
}

/// Stacked bars: one bar per label, one segment per series.
pub fn stacked_bars(
    title: &str,
    labels: &[String],
    series: &[(&str, &str, Vec<f64>)],
    unit: &str,
) -> String {
    let mut out = String::new();
    let totals: Vec<f64> = (0..labels.len())
        .map(|i| {
            series
                .iter()
                .map(|s| s.2.get(i).copied().unwrap_or(0.0))
                .sum()
        })
        .collect();
    let max = nice_max(totals.iter().copied().fold(0.0, f64::max));
    let unit = unit.to_string();
    frame(
        &mut out,
        title,
        max,
        &|v| format!("{}{unit}", short(v)),
        labels,
    );
    let n = labels.len().max(1) as f64;
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let bw = (pw / n * 0.7).max(1.0);
    for (i, label) in labels.iter().enumerate() {
        let x = LEFT + pw * (i as f64 + 0.15) / n;
        let mut y = TOP + ph;
        for (name, color, vals) in series {
            let v = vals.get(i).copied().unwrap_or(0.0);
            if v <= 0.0 {
                continue;
            }
            let h = ph * v / max;
            y -= h;
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{h:.1}\" fill=\"{color}\"><title>{t}</title></rect>",
                t = esc(&format!("{label}: {} {}", short(v), name))
            );
        }
    }
    let items: Vec<(&str, &str)> = series.iter().map(|s| (s.0, s.1)).collect();
    legend(&mut out, &items);
    out.push_str("</svg>");
    out
}

/// Lines over the labels; `None` points are gaps.
pub fn lines(
    title: &str,
    labels: &[String],
    series: &[(&str, &str, Vec<Option<f64>>)],
    fmt: &dyn Fn(f64) -> String,
) -> String {
    let mut out = String::new();
    let max = nice_max(
        series
            .iter()
            .flat_map(|s| s.2.iter().flatten().copied())
            .fold(0.0, f64::max),
    );
    frame(&mut out, title, max, fmt, labels);
    let n = labels.len().max(1) as f64;
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    for (name, color, vals) in series {
        let mut d = String::new();
        let mut pen = false;
        for (i, v) in vals.iter().enumerate() {
            match v {
                Some(v) => {
                    let x = LEFT + pw * (i as f64 + 0.5) / n;
                    let y = TOP + ph - ph * v / max;
                    let _ = write!(d, "{}{x:.1},{y:.1} ", if pen { "L" } else { "M" });
                    let _ = write!(
                        out,
                        "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2.5\" fill=\"{color}\"><title>{t}</title></circle>",
                        t = esc(&format!("{}: {} {}", labels[i], fmt(*v), name))
                    );
                    pen = true;
                }
                None => pen = false,
            }
        }
        let _ = write!(
            out,
            "<path d=\"{d}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>"
        );
    }
    let items: Vec<(&str, &str)> = series.iter().map(|s| (s.0, s.1)).collect();
    legend(&mut out, &items);
    out.push_str("</svg>");
    out
}

/// Horizontal-style comparison: one bar per label (0..1) with a target tick each.
pub fn bars_with_targets(
    title: &str,
    labels: &[String],
    values: &[Option<f64>],
    targets: &[f64],
) -> String {
    let mut out = String::new();
    frame(
        &mut out,
        title,
        1.0,
        &|v| format!("{:.0}%", v * 100.0),
        labels,
    );
    let n = labels.len().max(1) as f64;
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let bw = pw / n * 0.5;
    for (i, l) in labels.iter().enumerate() {
        let x = LEFT + pw * (i as f64 + 0.25) / n;
        let target = targets.get(i).copied().unwrap_or(0.0);
        if let Some(v) = values.get(i).copied().flatten() {
            let h = ph * v.clamp(0.0, 1.0);
            let color = if v >= target { "#2f9e44" } else { "#e03131" };
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{h:.1}\" fill=\"{color}\"><title>{t}</title></rect><text x=\"{cx:.1}\" y=\"{ly:.1}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#212529\">{p:.1}%</text>",
                y = TOP + ph - h,
                cx = x + bw / 2.0,
                ly = (TOP + ph - h - 4.0).max(TOP + 10.0),
                p = v * 100.0,
                t = esc(&format!(
                    "{l}: {:.1}% (target {:.0}%)",
                    v * 100.0,
                    target * 100.0
                ))
            );
        } else {
            let _ = write!(
                out,
                "<text x=\"{cx:.1}\" y=\"{y:.1}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#868e96\">no data</text>",
                cx = x + bw / 2.0,
                y = TOP + ph - 6.0
            );
        }
        let ty = TOP + ph - ph * target;
        let _ = write!(
            out,
            "<line x1=\"{x1:.1}\" x2=\"{x2:.1}\" y1=\"{ty:.1}\" y2=\"{ty:.1}\" stroke=\"#212529\" stroke-width=\"2\" stroke-dasharray=\"4 2\"><title>target {tp:.0}%</title></line>",
            x1 = x - 6.0,
            x2 = x + bw + 6.0,
            tp = target * 100.0
        );
    }
    legend(
        &mut out,
        &[
            ("met target", "#2f9e44"),
            ("below target", "#e03131"),
            ("target (dashed)", "#212529"),
        ],
    );
    out.push_str("</svg>");
    out
}

fn short(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v >= 1000.0 {
        format!("{:.1}k", v / 1000.0)
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        let s = stacked_bars(
            "<b>",
            &["<script>".into()],
            &[("x\"", "#000", vec![1.0])],
            "",
        );
        assert!(!s.contains("<script>"));
        assert!(s.contains("&#60;script&#62;"), "{s}");
        assert!(s.contains("x&#34;"), "{s}");
    }

    #[test]
    fn axis_maxima_are_round() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(130.0), 200.0);
        assert_eq!(nice_max(4100.0), 5000.0);
    }
}
