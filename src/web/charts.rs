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

/// A "nice" top for an axis holding `max`: 1, 2, 2.5 or 5 times a power of ten.
fn nice_top(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let power = 10f64.powf(max.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if max <= m * power {
            return m * power;
        }
    }
    10.0 * power
}

/// A column chart of one value per labelled point (days, in order). `fmt` writes a value.
pub fn columns(title: &str, points: &[(String, f64)], fmt: &dyn Fn(f64) -> String) -> Markup {
    let max = points.iter().map(|p| p.1).fold(0.0, f64::max);
    let top = nice_top(max);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let n = points.len().max(1) as f64;
    let slot = plot_w / n;
    let bar = (slot * 0.8).max(1.0);
    let y = |v: f64| TOP + plot_h - (v / top) * plot_h;
    let ticks = [0.0, 0.25, 0.5, 0.75, 1.0];
    // Up to 6 evenly spread x labels.
    let every = points.len().div_ceil(6).max(1);
    html! {
        figure.chart {
            figcaption { (title) }
            @if points.is_empty() || max == 0.0 {
                p.muted.chart-empty { "Nothing in this range." }
            }
            svg viewBox=(format!("0 0 {W} {H}")) role="img" aria-label=(title) preserveAspectRatio="none" {
                @for t in ticks {
                    line.grid x1=(LEFT) x2=(W - RIGHT) y1=(y(t * top)) y2=(y(t * top)) {}
                    text.tick x=(LEFT - 6.0) y=(y(t * top) + 4.0) text-anchor="end" { (fmt(t * top)) }
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
    fn axis_tops_are_round() {
        assert_eq!(nice_top(0.0), 1.0);
        assert_eq!(nice_top(7.0), 10.0);
        assert_eq!(nice_top(13.0), 20.0);
        assert_eq!(nice_top(2100.0), 2500.0);
        assert_eq!(nice_top(0.03), 0.05);
    }

    #[test]
    fn charts_render_for_none_one_and_many_points_and_escape_labels() {
        let f = |v: f64| format!("{v:.0}");
        let empty = columns("Runs", &[], &f).into_string();
        assert!(empty.contains("Nothing in this range.") && empty.contains("<svg"));
        let one = columns("Runs", &[("2026-01-01".into(), 5.0)], &f).into_string();
        assert_eq!(one.matches("<rect").count(), 1);
        assert!(one.contains("<title>2026-01-01: 5</title>"));
        let many: Vec<(String, f64)> = (0..365).map(|i| (format!("d{i}"), i as f64)).collect();
        let svg = columns("Runs", &many, &f).into_string();
        assert_eq!(svg.matches("<rect").count(), 365);
        let b = bars("Cost", &[("<script>".into(), 1.0)], &f).into_string();
        assert!(!b.contains("<script>") && b.contains("&lt;script&gt;"));
    }
}
