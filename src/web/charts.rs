//! Charts drawn on the server as SVG: no script, nothing fetched, readable in light and dark
//! mode (colours come from the stylesheet's variables), with a title, axes, each value on hover
//! (`<title>`), and an accessible name. The numbers are also in a table next to each chart.

use maud::{Markup, html};

const W: f64 = 720.0;
const H: f64 = 220.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 28.0;

/// A "nice" axis for values up to `max`: a step of 1, 2 or 5 times a power of ten giving at
/// most five intervals, and the top as a whole number of steps.
fn axis(max: f64) -> (f64, f64) {
    scale(max, false)
}

/// As [`axis`]; for counts (`integer`), steps are whole numbers, so no tick repeats (0, 1, 2,
/// not 0, 0.5, 1 printed as 0, 1, 1).
fn scale(max: f64, integer: bool) -> (f64, f64) {
    if max <= 0.0 || !max.is_finite() {
        return if integer { (1.0, 1.0) } else { (1.0, 0.25) };
    }
    let rough = if integer {
        (max / 4.0).max(1.0)
    } else {
        max / 4.0
    };
    let power = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * power);
    (step * (max / step - 1e-9).ceil().max(1.0), step)
}

/// The top of the axis for `max`.
fn nice_top(max: f64) -> f64 {
    axis(max).0
}

/// A column chart of one value per labelled point (days, in order). `fmt` writes a value;
/// `counts` makes the axis ticks whole numbers. With nothing to show it draws no axes.
pub fn columns(
    title: &str,
    points: &[(String, f64)],
    fmt: &dyn Fn(f64) -> String,
    counts: bool,
) -> Markup {
    let max = points.iter().map(|p| p.1).fold(0.0, f64::max);
    let (top, step) = scale(max, counts);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let n = points.len().max(1) as f64;
    let slot = plot_w / n;
    let bar = (slot * 0.8).max(1.0);
    let y = |v: f64| TOP + plot_h - (v / top) * plot_h;
    let ticks: Vec<f64> = (0..=((top / step).round() as usize))
        .map(|i| i as f64 * step)
        .collect();
    // Up to 6 evenly spread x labels.
    let every = points.len().div_ceil(6).max(1);
    html! {
        figure.chart {
            figcaption { (title) }
            @if points.is_empty() || max == 0.0 {
                p.muted.chart-empty { "Nothing in this range." }
            } @else {
            svg viewBox=(format!("0 0 {W} {H}")) role="img" aria-label=(title) preserveAspectRatio="none" {
                @for t in ticks {
                    line.grid x1=(LEFT) x2=(W - RIGHT) y1=(y(t)) y2=(y(t)) {}
                    text.tick x=(LEFT - 6.0) y=(y(t) + 4.0) text-anchor="end" { (fmt(t)) }
                }
                line.axis x1=(LEFT) x2=(W - RIGHT) y1=(y(0.0)) y2=(y(0.0)) {}
                @for (i, (label, v)) in points.iter().enumerate() {
                    @let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
                    rect.bar x=(x) y=(y(*v)) width=(bar) height=((y(0.0) - y(*v)).max(0.0)) {
                        title { (label) ": " (fmt(*v)) }
                    }
                    @if i % every == 0 || i + 1 == points.len() {
                        text.tick x=(x + bar / 2.0) y=(H - 8.0) text-anchor="middle" { (label) }
                    }
                }
            }
            }
        }
    }
}

/// A horizontal bar chart of labelled values, largest first as given.
pub fn bars(title: &str, items: &[(String, f64)], fmt: &dyn Fn(f64) -> String) -> Markup {
    let max = items.iter().map(|p| p.1).fold(0.0, f64::max);
    let top = nice_top(max);
    let row = 26.0;
    let label_w = 180.0;
    let h = TOP + row * items.len().max(1) as f64 + 8.0;
    let plot_w = W - label_w - 90.0;
    html! {
        figure.chart {
            figcaption { (title) }
            @if items.is_empty() {
                p.muted.chart-empty { "Nothing in this range." }
            } @else {
                svg viewBox=(format!("0 0 {W} {h}")) role="img" aria-label=(title) {
                    @for (i, (label, v)) in items.iter().enumerate() {
                        @let y = TOP + row * i as f64;
                        @let w = (v / top) * plot_w;
                        text.tick x=(label_w - 8.0) y=(y + 15.0) text-anchor="end" { (shorten(label)) }
                        rect.bar x=(label_w) y=(y + 3.0) width=(w.max(1.0)) height=(row - 8.0) {
                            title { (label) ": " (fmt(*v)) }
                        }
                        text.value x=(label_w + w + 6.0) y=(y + 15.0) { (fmt(*v)) }
                    }
                }
            }
        }
    }
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= 24 {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(23).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_round() {
        assert_eq!(axis(0.0), (1.0, 0.25));
        assert_eq!(axis(24.0), (30.0, 10.0));
        assert_eq!(axis(7.0), (8.0, 2.0));
        assert_eq!(axis(13_920.0), (15_000.0, 5_000.0));
        assert_eq!(axis(1.0), (1.0, 0.5));
        let (top, step) = axis(0.03);
        assert!((top - 0.03).abs() < 1e-9 && (step - 0.01).abs() < 1e-9);
        // Counts: whole steps, so small counts never repeat a tick.
        assert_eq!(scale(2.0, true), (2.0, 1.0));
        assert_eq!(scale(1.0, true), (1.0, 1.0));
        assert_eq!(scale(7.0, true), (8.0, 2.0));
        let f = |v: f64| format!("{v:.0}");
        let svg = columns("Runs", &[("a".into(), 2.0), ("b".into(), 1.0)], &f, true).into_string();
        let ticks: Vec<&str> = svg
            .split("<text class=\"tick\"")
            .skip(1)
            .filter_map(|t| t.split('>').nth(1)?.split('<').next())
            .collect();
        assert_eq!(&ticks[..3], ["0", "1", "2"], "{svg}");
    }

    #[test]
    fn charts_render_for_none_one_and_many_points_and_escape_labels() {
        let f = |v: f64| format!("{v:.0}");
        let empty = columns("Runs", &[], &f, true).into_string();
        assert!(empty.contains("Nothing in this range.") && !empty.contains("<svg"));
        let zeros = columns("Cost", &[("d".into(), 0.0)], &f, false).into_string();
        assert!(!zeros.contains("<svg"), "no $0 to $1 axis under nothing");
        let one = columns("Runs", &[("2026-01-01".into(), 5.0)], &f, true).into_string();
        assert_eq!(one.matches("<rect").count(), 1);
        assert!(one.contains("<title>2026-01-01: 5</title>"));
        let many: Vec<(String, f64)> = (0..365).map(|i| (format!("d{i}"), i as f64)).collect();
        let svg = columns("Runs", &many, &f, true).into_string();
        assert_eq!(svg.matches("<rect").count(), 365);
        let b = bars("Cost", &[("<script>".into(), 1.0)], &f).into_string();
        assert!(!b.contains("<script>") && b.contains("&lt;script&gt;"));
    }
}
