//! `native-challenger run --config config.toml [--watch-only]`: the daemon, until SIGINT or
//! SIGTERM (the current step finishes first; unfinished challenges resume on the next start),
//! or until a fatal error, which it exits with (non-zero).

use anyhow::{Context, Result};
use native_challenger::config::{Config, LogFormat};
use native_challenger::daemon::{Daemon, metrics_setup};
use native_challenger::submitter::{KeySource, TxKey};
use std::path::PathBuf;
use tokio::sync::watch;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[arg(long, default_value = "config.toml")]
    config: PathBuf,
    /// Alert on lies without challenging (no key needed).
    #[arg(long)]
    watch_only: bool,
}

/// The key the configuration points at, if any.
pub fn key_from(config: &Config) -> Result<Option<TxKey>> {
    let c = &config.challenger;
    let source = match (&c.key_env, &c.keystore, &c.password_file, &c.remote_signer) {
        (Some(name), _, _, _) => KeySource::Env(name.clone()),
        (None, Some(path), Some(password_file), _) => {
            KeySource::Keystore { path: path.clone(), password_file: password_file.clone() }
        }
        (None, None, _, Some(url)) => match c.remote_signer_address {
            Some(address) => KeySource::Remote { url: url.clone(), address },
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    Ok(Some(source.signer()?))
}

/// Logging as `[log]` says (text or JSON lines on stderr); `RUST_LOG` overrides the level.
pub fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

pub fn run(args: RunArgs) -> Result<()> {
    let config = Config::load(&args.config)?;
    init_logging(&config);
    let watch_only =
        args.watch_only || config.challenger.mode == native_challenger::config::Mode::WatchOnly;
    let key = if watch_only { None } else { key_from(&config)? };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        if let Some(listen) = &config.metrics.listen {
            let addr = listen.parse().context("[metrics] listen")?;
            metrics_setup::install(addr).map_err(anyhow::Error::msg)?;
        }
        let daemon = Daemon::build(&config, key, watch_only).await?;
        let (stop, stop_rx) = watch::channel(false);
        let mut handle = tokio::spawn(daemon.run(stop_rx));
        // A fatal error stops the daemon by itself: exit with it (non-zero).
        let outcome = tokio::select! {
            outcome = &mut handle => outcome,
            _ = shutdown_signal() => {
                tracing::info!("shutting down");
                let _ = stop.send(true);
                handle.await
            }
        };
        outcome.context("the daemon task failed")?.context("the daemon stopped")?;
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
