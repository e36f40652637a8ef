//! `native-challenger replay --config config.toml --from <batch|l1:block> --to <batch|l1:block>
//! [--snapshot FILE] [--export-bundles DIR] [--report report.json] [--html report.html]`:
//! replays a range of batches from L1 data alone (no key), from the genesis or from a
//! snapshot, shows progress on stderr (a bar on a terminal, plain lines otherwise), and writes
//! the JSON report (stdout without `--report`) and the HTML page.
//! Its state (`[store] path`) makes an interrupted run resumable; use a configuration of its
//! own, not the daemon's (the stores are locked while open).

use anyhow::{Context, Result};
use native_challenger::audit::html;
use native_challenger::audit::open::{RangeOptions, replay_range};
use native_challenger::audit::range::{Bound, Progress, Range, eta_text};
use native_challenger::config::Config;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    #[arg(long, default_value = "config.toml")]
    config: PathBuf,
    /// First batch of the report: a batch id, or `l1:N` for the first batch proposed at or
    /// after L1 block N.
    #[arg(long)]
    from: Bound,
    /// Last batch: a batch id (the replay stops once it is checked), or `l1:N` (the replay
    /// stops once L1 block N is processed, and reports the batches proposed up to it).
    #[arg(long)]
    to: Bound,
    /// Write an audit bundle (one EXECUTE input per L2 block checked, and a manifest) here.
    #[arg(long)]
    export_bundles: Option<PathBuf>,
    /// Write the JSON report here (default: stdout).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Also write the report as a self-contained HTML page here.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Start from this snapshot (`snapshot export`) instead of the genesis: an empty `[store]
    /// path` is initialised from it once it checks out against L1; --from must be after its
    /// batch. Overrides `[start] snapshot`.
    #[arg(long)]
    snapshot: Option<PathBuf>,
    /// Give up when caught up with L1 this long without reaching --to.
    #[arg(long, default_value_t = 120)]
    wait_secs: u64,
}

pub fn run(args: ReplayArgs) -> Result<()> {
    let mut config = Config::load(&args.config)?;
    if let Some(file) = &args.snapshot {
        config.start.snapshot = Some(file.clone());
    }
    let options = RangeOptions {
        range: Range { from: args.from, to: args.to },
        export_bundles: args.export_bundles.clone(),
        wait: Duration::from_secs(args.wait_secs),
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let mut display = Display::new(std::io::stderr().is_terminal());
    let outcome = runtime.block_on(replay_range(&config, &options, |p| display.show(p)));
    display.finish();
    let report = outcome?;
    let json = serde_json::to_string_pretty(&report)?;
    match &args.report {
        Some(path) => std::fs::write(path, json).with_context(|| format!("{}", path.display()))?,
        None => println!("{json}"),
    }
    if let Some(path) = &args.html {
        std::fs::write(path, html::render(&report))
            .with_context(|| format!("{}", path.display()))?;
    }
    let t = &report.totals;
    eprintln!(
        "replay: {} batches: {} valid, {} invalid, {} skipped; {:.2} Mgas/s",
        t.batches, t.valid, t.invalid, t.skipped, t.mgas_per_second
    );
    Ok(())
}

/// Progress on stderr: a bar redrawn in place on a terminal (at most 10 times a second),
/// one line per step otherwise.
struct Display {
    terminal: bool,
    drawn: Option<Instant>,
    last: Option<Progress>,
}

impl Display {
    fn new(terminal: bool) -> Self {
        Self { terminal, drawn: None, last: None }
    }

    fn show(&mut self, p: &Progress) {
        if !self.terminal {
            eprintln!("{}", p.line());
            return;
        }
        self.last = Some(p.clone());
        if self.drawn.is_some_and(|at| at.elapsed() < Duration::from_millis(100)) {
            return;
        }
        self.draw(p);
    }

    fn draw(&mut self, p: &Progress) {
        let mut err = std::io::stderr().lock();
        // Progress is best effort: a closed stderr must not stop the replay.
        let _ = write!(err, "\r\x1b[2K{}", bar(p));
        let _ = err.flush();
        self.drawn = Some(Instant::now());
    }

    /// Draws the final state and ends the bar's line.
    fn finish(&mut self) {
        if let Some(p) = self.last.take() {
            self.draw(&p);
            eprintln!();
        }
    }
}

fn bar(p: &Progress) -> String {
    const WIDTH: usize = 30;
    let filled = ((p.done * WIDTH as f64).round() as usize).min(WIDTH);
    let mut cells = "=".repeat(filled);
    if filled < WIDTH {
        cells.push('>');
        cells.push_str(&" ".repeat(WIDTH - filled - 1));
    }
    let last = p.last_batch.map_or("none".into(), |id| id.to_string());
    format!(
        "[{cells}] {:5.1}%  {} batches (last {last}, L1 {})  {:.2} Mgas/s  ETA {}",
        p.done * 100.0,
        p.batches,
        p.l1_block,
        p.mgas_per_second(),
        eta_text(p.eta)
    )
}
