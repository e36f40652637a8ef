//! Headless Chromium for checking that a page really renders: a screenshot (decoded to RGB
//! pixels) and the DOM after parsing.
//!
//! The browser is `$NATIVE_CHALLENGER_CHROMIUM`, or the first of chromium, chromium-browser,
//! google-chrome, google-chrome-stable on `PATH`; a test that needs it fails (never skips)
//! when there is none. `.ci/run` installs Debian's `chromium`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn browser() -> PathBuf {
    if let Some(path) = std::env::var_os("NATIVE_CHALLENGER_CHROMIUM") {
        return PathBuf::from(path);
    }
    let names = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in names {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "no headless browser found (tried {names:?} on PATH): install Debian's chromium \
         (`apt-get install chromium`, as .ci/run does) or set NATIVE_CHALLENGER_CHROMIUM"
    )
}

/// Runs the browser headless on `page` with `args`; returns its stdout. Fails the test if it
/// exits non-zero or runs past a minute.
fn run(page: &Path, args: &[String]) -> Vec<u8> {
    let profile = tempfile::tempdir().expect("profile dir");
    let url = format!("file://{}", page.canonicalize().expect("page path").display());
    let mut child = Command::new(browser())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(&url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the browser starts");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the browser did not finish rendering {url} within a minute");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    assert!(
        out.status.success(),
        "the browser failed on {url}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The DOM of `page` after the browser parsed it, serialized.
pub fn dump_dom(page: &Path) -> String {
    String::from_utf8(run(page, &["--dump-dom".into()])).expect("utf-8 DOM")
}

/// A screenshot's pixels, RGB, row by row.
pub struct Screenshot {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl Screenshot {
    /// Pixels within `tolerance` (per channel) of `colour` (`#rrggbb`).
    pub fn count(&self, colour: &str, tolerance: u8) -> usize {
        let hex = colour.trim_start_matches('#');
        let want: Vec<u8> = (0..3)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("#rrggbb"))
            .collect();
        self.rgb
            .chunks_exact(3)
            .filter(|px| px.iter().zip(&want).all(|(a, b)| a.abs_diff(*b) <= tolerance))
            .count()
    }
}

/// Renders `page` in a `width` x `height` window and decodes the PNG.
pub fn screenshot(page: &Path, width: u32, height: u32) -> Screenshot {
    let dir = tempfile::tempdir().expect("shot dir");
    let png_path = dir.path().join("shot.png");
    run(
        page,
        &[
            format!("--window-size={width},{height}"),
            format!("--screenshot={}", png_path.display()),
        ],
    );
    let bytes = std::fs::read(&png_path).expect("the browser wrote no screenshot");
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("buffer size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected screenshot colour type {other:?}"),
    };
    let rgb = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .flat_map(|px| px[..3].iter().copied())
        .collect();
    Screenshot { width: info.width, height: info.height, rgb }
}
