//! The `server` binary: parse the config, serve until SIGINT/SIGTERM.

use clap::Parser;
use leptos::config::{get_configuration, LeptosOptions};
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

    // cargo-leptos sets LEPTOS_*; without it (a plain `cargo run`), use the crate defaults.
    let leptos = match std::env::var_os("LEPTOS_OUTPUT_NAME") {
        Some(_) => get_configuration(None)?.leptos_options,
        None => LeptosOptions::builder()
            .output_name("tabrelay")
            .site_addr(config.addr)
            .build(),
    };

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
