//! The `server` binary: parse the config, serve until SIGINT/SIGTERM.
//!
//! The variables a deploy sets are listed at [`server::config::leptos_options_from_env`].

use clap::Parser;
use server::Config;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,tower_http=info")),
        )
        .init();
    let config = Config::parse();
    set_malloc_mmap_threshold(config.malloc_mmap_threshold);

    // Every LEPTOS_* variable that is set, with or without cargo-leptos (see the table of
    // `leptos_options_from_env` for what a deploy needs).
    let leptos =
        server::config::leptos_options_from_env(|key| std::env::var(key).ok(), config.addr)?;

    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    let server = server::start(config, leptos, listener).await?;
    server::shutdown::signal().await;
    server.shutdown();
    server.wait().await?;
    tracing::info!("bye");
    Ok(())
}

/// See [`Config::malloc_mmap_threshold`].
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_malloc_mmap_threshold(bytes: usize) {
    if bytes == 0 {
        return;
    }
    let value = std::os::raw::c_int::try_from(bytes).unwrap_or(std::os::raw::c_int::MAX);
    // SAFETY: mallopt only changes a tuning parameter of the allocator; it is safe to call at
    // any time, from any thread.
    if unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, value) } != 1 {
        tracing::warn!(bytes, "mallopt(M_MMAP_THRESHOLD) refused the value");
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_malloc_mmap_threshold(_bytes: usize) {}
