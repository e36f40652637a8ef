//! The replay report as one self-contained HTML page for people: totals, the wrong batches
//! first (first divergent block, correct vs claimed root and gas), two charts (L2 gas per
//! batch coloured by verdict, replay speed per batch) and the verdict of every batch.
//!
//! Input: a [`Report`]. Output: an HTML5 document with inline CSS and inline SVG; no script,
//! no external resource, so it opens from disk, offline, in any browser. Every text from
//! the report is escaped.

use super::range::Bound;
use super::report::{BatchReport, BatchVerdict, Report};
use std::fmt::Write;

/// Bar and legend colours, by verdict.
pub const VALID_COLOUR: &str = "#2e8b57";
pub const INVALID_COLOUR: &str = "#d62728";
pub const SKIPPED_COLOUR: &str = "#9e9e9e";
/// The replay speed line.
pub const SPEED_COLOUR: &str = "#1f5fbf";

const CHART_W: f64 = 960.0;
const CHART_H: f64 = 240.0;
const MARGIN_L: f64 = 64.0;
const MARGIN_R: f64 = 16.0;
const MARGIN_T: f64 = 12.0;
const MARGIN_B: f64 = 36.0;

/// The page. See the module documentation.
pub fn render(report: &Report) -> String {
    let mut page = String::with_capacity(4096 + report.batches.len() * 600);
    let title = format!("Rollup audit: {} to {}", bound(report.from), bound(report.to));
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    totals(&mut page, report);
    wrong_batches(&mut page, report);
    page.push_str("<h2>L2 gas per batch</h2>\n");
    legend(&mut page);
    page.push_str(&gas_chart(&report.batches));
    page.push_str("<h2>Replay speed per batch (L2 Mgas/s)</h2>\n");
    page.push_str(&speed_chart(&report.batches));
    batch_table(&mut page, report);
    let _ = write!(
        page,
        "<footer>Report format {}; written by native-challenger {}.</footer>\n</body>\n</html>\n",
        escape(&report.format),
        env!("CARGO_PKG_VERSION")
    );
    page
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}\
h1{font-size:22px}h2{font-size:17px;margin-top:28px}\
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\
th{background:#f2f2f2}td.l{text-align:left}code{font-size:12px;word-break:break-all}\
.valid{color:#2e8b57}.invalid{color:#d62728;font-weight:bold}.skipped{color:#777}\
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}\
svg{display:block;width:100%;height:auto;background:#fff}\
footer{margin-top:32px;color:#777;font-size:12px}";

fn bound(b: Bound) -> String {
    match b {
        Bound::Batch(id) => format!("batch {id}"),
        Bound::L1Block(n) => format!("L1 block {n}"),
    }
}

/// `&`, `<`, `>`, `"` and `'` as entities.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn totals(page: &mut String, report: &Report) {
    let t = &report.totals;
    let verdict = if t.invalid > 0 {
        format!("<p class=\"invalid\" id=\"verdict\">{} wrong batch(es) found.</p>", t.invalid)
    } else if t.batches == 0 {
        "<p id=\"verdict\">No batch in the range.</p>".to_string()
    } else {
        "<p class=\"valid\" id=\"verdict\">Every replayed batch is correct.</p>".to_string()
    };
    page.push_str(&verdict);
    let _ = write!(
        page,
        "\n<table id=\"totals\"><tr><th>batches</th><th>valid</th><th>invalid</th><th>skipped</th>\
         <th>L2 blocks</th><th>L2 gas</th><th>replay time</th><th>L2 Mgas/s</th></tr>\n\
         <tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3} s</td>\
         <td>{:.2}</td></tr></table>\n",
        t.batches,
        t.valid,
        t.invalid,
        t.skipped,
        t.l2_blocks,
        t.l2_gas,
        t.replay_seconds,
        t.mgas_per_second
    );
}

fn wrong_batches(page: &mut String, report: &Report) {
    let wrong: Vec<&BatchReport> = report
        .batches
        .iter()
        .filter(|b| matches!(b.verdict, BatchVerdict::Invalid { .. }))
        .collect();
    if wrong.is_empty() {
        return;
    }
    page.push_str(
        "<h2>Wrong batches</h2>\n<table id=\"wrong\"><tr><th>batch</th><th>first divergent \
         L2 block</th><th></th><th>post-state root</th><th>gas used</th></tr>\n",
    );
    for b in wrong {
        if let BatchVerdict::Invalid { first_divergent_block, correct, claimed, .. } = &b.verdict {
            let _ = write!(
                page,
                "<tr><td rowspan=\"2\">{}</td><td rowspan=\"2\">{first_divergent_block}</td>\
                 <td class=\"l\">correct</td><td class=\"l\"><code>{}</code></td><td>{}</td></tr>\n\
                 <tr><td class=\"l invalid\">claimed</td><td class=\"l\"><code>{}</code></td>\
                 <td>{}</td></tr>\n",
                b.id,
                correct.post_state_root,
                correct.gas_used,
                claimed.post_state_root,
                claimed.gas_used
            );
        }
    }
    page.push_str("</table>\n");
}

fn legend(page: &mut String) {
    let _ = writeln!(
        page,
        "<div class=\"legend\"><span style=\"background:{VALID_COLOUR}\"></span>valid\
         <span style=\"background:{INVALID_COLOUR}\"></span>invalid (gas up to the first \
         divergent block)<span style=\"background:{SKIPPED_COLOUR}\"></span>skipped (not \
         replayed)</div>"
    );
}

fn colour(v: &BatchVerdict) -> &'static str {
    match v {
        BatchVerdict::Valid => VALID_COLOUR,
        BatchVerdict::Invalid { .. } => INVALID_COLOUR,
        BatchVerdict::Skipped { .. } => SKIPPED_COLOUR,
    }
}

fn verdict_word(v: &BatchVerdict) -> &'static str {
    match v {
        BatchVerdict::Valid => "valid",
        BatchVerdict::Invalid { .. } => "invalid",
        BatchVerdict::Skipped { .. } => "skipped",
    }
}

/// A round step for about four ticks up to `max`.
fn tick_step(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let raw = max / 4.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude)
}

/// The chart frame: the SVG start, horizontal grid lines with their labels, the x-axis
/// labels (first and last batch id) and the y scale (`value -> y`).
struct Frame {
    svg: String,
    max: f64,
}

impl Frame {
    fn new(id: &str, label: &str, max: f64, first: Option<u64>, last: Option<u64>) -> Self {
        let step = tick_step(max);
        let max = if max > 0.0 { (max / step).ceil() * step } else { step };
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            "<svg id=\"{id}\" viewBox=\"0 0 {CHART_W} {CHART_H}\" role=\"img\" \
             aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
            escape(label)
        );
        let mut v = 0.0;
        while v <= max + step / 2.0 {
            let y = frame_y(v, max);
            let _ = writeln!(
                svg,
                "<line x1=\"{MARGIN_L}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
                 <text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"#555\">{}</text>",
                CHART_W - MARGIN_R,
                MARGIN_L - 6.0,
                y + 4.0,
                tick_label(v)
            );
            v += step;
        }
        let base = CHART_H - MARGIN_B;
        for (x, anchor, id) in [(MARGIN_L, "start", first), (CHART_W - MARGIN_R, "end", last)] {
            if let Some(id) = id {
                let _ = writeln!(
                    svg,
                    "<text x=\"{x}\" y=\"{}\" font-size=\"11\" text-anchor=\"{anchor}\" fill=\"#555\">batch {id}</text>",
                    base + 16.0
                );
            }
        }
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
            (MARGIN_L + CHART_W - MARGIN_R) / 2.0,
            base + 30.0,
            escape(label)
        );
        Self { svg, max }
    }

    fn y(&self, value: f64) -> f64 {
        frame_y(value, self.max)
    }

    fn finish(mut self) -> String {
        let base = CHART_H - MARGIN_B;
        let _ = write!(
            self.svg,
            "<line x1=\"{MARGIN_L}\" x2=\"{}\" y1=\"{base}\" y2=\"{base}\" stroke=\"#555\"/>\n</svg>\n",
            CHART_W - MARGIN_R
        );
        self.svg
    }
}

fn frame_y(value: f64, max: f64) -> f64 {
    let plot = CHART_H - MARGIN_T - MARGIN_B;
    CHART_H - MARGIN_B - plot * (value / max).clamp(0.0, 1.0)
}

fn tick_label(v: f64) -> String {
    if v == v.trunc() { format!("{v:.0}") } else { format!("{v:.2}") }
}

/// Bars of L2 Mgas per batch, in id order, coloured by verdict; each bar's tooltip names
/// its batch.
fn gas_chart(batches: &[BatchReport]) -> String {
    let max = batches.iter().map(|b| b.l2_gas as f64 / 1e6).fold(0.0, f64::max);
    let (first, last) = (batches.first().map(|b| b.id), batches.last().map(|b| b.id));
    let mut frame = Frame::new("gas-chart", "L2 Mgas per batch, by batch id", max, first, last);
    let width = (CHART_W - MARGIN_L - MARGIN_R) / batches.len().max(1) as f64;
    let gap = if width > 4.0 { width * 0.15 } else { 0.0 };
    let base = CHART_H - MARGIN_B;
    for (i, b) in batches.iter().enumerate() {
        let mgas = b.l2_gas as f64 / 1e6;
        let top = frame.y(mgas);
        // A batch with no gas (skipped) still gets a sliver, so it is visible.
        let height = (base - top).max(2.0);
        let _ = writeln!(
            frame.svg,
            "<rect class=\"bar {}\" x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{height:.2}\" fill=\"{}\">\
             <title>batch {}: {} gas, {}</title></rect>",
            verdict_word(&b.verdict),
            MARGIN_L + i as f64 * width + gap / 2.0,
            base - height,
            (width - gap).max(0.5),
            colour(&b.verdict),
            b.id,
            b.l2_gas,
            verdict_word(&b.verdict)
        );
    }
    frame.finish()
}

/// Replay speed (L2 Mgas/s) of every batch that was replayed and timed, as a line with a
/// dot per batch, at the batch's position in the range.
fn speed_chart(batches: &[BatchReport]) -> String {
    let speeds: Vec<(usize, u64, f64)> = batches
        .iter()
        .enumerate()
        .filter_map(|(i, b)| match b.replay_seconds {
            Some(s) if s > 0.0 && b.l2_gas > 0 => Some((i, b.id, b.l2_gas as f64 / 1e6 / s)),
            _ => None,
        })
        .collect();
    let max = speeds.iter().map(|s| s.2).fold(0.0, f64::max);
    let (first, last) = (batches.first().map(|b| b.id), batches.last().map(|b| b.id));
    let mut frame =
        Frame::new("speed-chart", "L2 Mgas/s per replayed batch, by batch id", max, first, last);
    let width = (CHART_W - MARGIN_L - MARGIN_R) / batches.len().max(1) as f64;
    let x = |i: usize| MARGIN_L + (i as f64 + 0.5) * width;
    if speeds.len() > 1 {
        let points: Vec<String> =
            speeds.iter().map(|(i, _, v)| format!("{:.2},{:.2}", x(*i), frame.y(*v))).collect();
        let _ = writeln!(
            frame.svg,
            "<polyline class=\"speed\" points=\"{}\" fill=\"none\" stroke=\"{SPEED_COLOUR}\" stroke-width=\"2\"/>",
            points.join(" ")
        );
    }
    let radius = if speeds.len() > 200 { 1.5 } else { 3.5 };
    for (i, id, v) in &speeds {
        let _ = writeln!(
            frame.svg,
            "<circle cx=\"{:.2}\" cy=\"{:.2}\" r=\"{radius}\" fill=\"{SPEED_COLOUR}\"><title>batch {id}: {v:.2} Mgas/s</title></circle>",
            x(*i),
            frame.y(*v)
        );
    }
    if speeds.is_empty() {
        let _ = writeln!(
            frame.svg,
            "<text x=\"{}\" y=\"{}\" font-size=\"13\" text-anchor=\"middle\" fill=\"#777\">no timed batch</text>",
            CHART_W / 2.0,
            CHART_H / 2.0
        );
    }
    frame.finish()
}

fn batch_table(page: &mut String, report: &Report) {
    page.push_str(
        "<h2>Every batch</h2>\n<table id=\"batches\"><tr><th>batch</th><th>verdict</th>\
         <th>L1 block</th><th>L1 transaction</th><th>L2 blocks</th><th>L2 gas</th>\
         <th>replay s</th><th>Mgas/s</th><th>detail</th></tr>\n",
    );
    for b in &report.batches {
        let last = b.first_block + b.block_count.saturating_sub(1);
        let (seconds, speed) = match b.replay_seconds {
            Some(s) if s > 0.0 && b.l2_gas > 0 => {
                (format!("{s:.4}"), format!("{:.2}", b.l2_gas as f64 / 1e6 / s))
            }
            Some(s) => (format!("{s:.4}"), String::new()),
            None => ("unknown".into(), String::new()),
        };
        let detail = match &b.verdict {
            BatchVerdict::Valid => String::new(),
            BatchVerdict::Invalid { first_divergent_block, .. } => {
                format!("first divergent L2 block {first_divergent_block}")
            }
            BatchVerdict::Skipped { reason } => escape(reason),
        };
        let word = verdict_word(&b.verdict);
        let _ = writeln!(
            page,
            "<tr id=\"batch-{}\"><td>{}</td><td class=\"l {word}\">{word}</td><td>{}</td>\
             <td class=\"l\"><code>{}</code></td><td>{}–{last}</td><td>{}</td><td>{seconds}</td>\
             <td>{speed}</td><td class=\"l\">{detail}</td></tr>",
            b.id, b.id, b.l1_block, b.l1_tx, b.first_block, b.l2_gas
        );
    }
    page.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::range::Range;
    use crate::audit::report::{RootGas, Totals};
    use alloy_primitives::B256;

    fn batch(id: u64, l2_gas: u64, verdict: BatchVerdict) -> BatchReport {
        BatchReport {
            id,
            l1_block: 10 + id,
            l1_tx: B256::with_last_byte(id as u8),
            first_block: 2 * id - 1,
            block_count: 2,
            l2_gas,
            verdict,
            replay_seconds: Some(0.01),
            checked_this_run: true,
        }
    }

    fn report(batches: Vec<BatchReport>) -> Report {
        let range = Range::batches(1, batches.len() as u64);
        Report {
            format: "native-challenger-audit-report/1".into(),
            from: range.from,
            to: range.to,
            batches,
            totals: Totals { batches: 3, valid: 1, invalid: 1, skipped: 1, ..Totals::default() },
        }
    }

    #[test]
    fn the_page_escapes_report_text_and_shows_every_verdict() {
        let correct = RootGas { post_state_root: B256::repeat_byte(0xaa), gas_used: 21_000 };
        let claimed = RootGas { post_state_root: B256::repeat_byte(0xbb), gas_used: 21_000 };
        let invalid =
            BatchVerdict::Invalid { first_divergent_block: 4, index: 1, correct, claimed };
        let skipped = BatchVerdict::Skipped { reason: "built on <batch 2> & \"wrong\"".into() };
        let page = render(&report(vec![
            batch(1, 42_000, BatchVerdict::Valid),
            batch(2, 42_000, invalid),
            batch(3, 0, skipped),
        ]));
        assert!(page.contains("built on &lt;batch 2&gt; &amp; &quot;wrong&quot;"));
        assert!(!page.contains("<batch 2>"));
        assert!(page.contains(&format!("{}", correct.post_state_root)));
        assert!(page.contains(&format!("{}", claimed.post_state_root)));
        assert!(page.contains("first divergent L2 block 4"));
        assert!(page.contains("1 wrong batch(es) found."));
        // One bar per batch, each coloured by its verdict.
        assert_eq!(page.matches("<rect class=\"bar ").count(), 3);
        assert!(page.contains("class=\"bar invalid\""));
        assert!(page.contains(INVALID_COLOUR) && page.contains(SKIPPED_COLOUR));
        // Only replayed batches with gas have a speed point.
        assert_eq!(page.matches("<circle ").count(), 2);
        // Self-contained: nothing fetched, nothing run.
        assert!(!page.contains("<script") && !page.contains("src=") && !page.contains("href="));
    }

    #[test]
    fn ticks_are_round_and_cover_the_maximum() {
        assert_eq!(tick_step(1.0), 0.25);
        assert_eq!(tick_step(7.3), 2.0);
        assert_eq!(tick_step(100.0), 25.0);
        assert_eq!(tick_step(0.0), 1.0);
        assert_eq!(tick_step(f64::NAN), 1.0);
        for max in [0.3, 1.0, 7.3, 12.0, 950.0] {
            let step = tick_step(max);
            assert!(step * 4.0 >= max && step * 4.0 < max * 4.0 + step, "{max}: {step}");
        }
    }

    #[test]
    fn an_empty_range_still_renders() {
        let mut r = report(Vec::new());
        r.totals = Totals::default();
        let page = render(&r);
        assert!(page.contains("No batch in the range."));
        assert!(page.contains("no timed batch"));
        assert!(page.ends_with("</html>\n"));
    }
}
