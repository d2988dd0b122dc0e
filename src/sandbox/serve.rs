//! `wwctl sandbox serve`: run the API and DNS servers in the foreground
//! until SIGTERM or SIGINT. `sandbox up` starts it as a daemon.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::cli::GlobalArgs;
use crate::error::{ExitCode, HintExt, UserError};
use crate::sandbox::api::{self, conn};
use crate::sandbox::app::{App, AppConfig};
use crate::sandbox::dns;
use crate::sandbox::folder::{Runtime, SandboxDir};
use crate::sandbox::hosts::{HostBackend, NoHosts};
use crate::sandbox::lab::Lab;
use crate::sandbox::lifecycle;
use crate::sandbox::options::ServeOptions;
use crate::sandbox::state::Store;

pub fn run(
    global: &GlobalArgs,
    dir: &SandboxDir,
    options: &ServeOptions,
) -> anyhow::Result<ExitCode> {
    init_logging(global);
    dir.create()?;
    if let Some(running) = dir.running()?
        && running.pid != std::process::id()
    {
        return Err(UserError::usage(format!(
            "a sandbox already runs from `{}` (pid {}, API {})",
            dir.path.display(),
            running.pid,
            running.api_url()
        ))
        .with_hint(format!(
            "stop it with `{}`, or use another --dir",
            dir.command("down")
        ))
        .into());
    }

    let backend = host_backend(dir, options)?;
    let store = Store::open(&dir.state_file())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(dir, options, store, backend))?;
    Ok(ExitCode::Success)
}

/// Check that the host backend the options ask for can run here, before
/// `up` starts a daemon that would fail.
pub fn check_backend(dir: &SandboxDir, options: &ServeOptions) -> anyhow::Result<()> {
    if options.api_only || nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    Err(
        UserError::usage("the sandbox's lab hosts need root (network namespaces, mounts)")
            .with_hint(format!(
                "run as root, or start the API alone with `{}`",
                dir.command("up --api-only")
            ))
            .into(),
    )
}

/// Choose the machines behind droplets: none with `--api-only`, else the
/// lab that `sandbox up` brought up in the sandbox folder.
fn host_backend(dir: &SandboxDir, options: &ServeOptions) -> anyhow::Result<Arc<dyn HostBackend>> {
    check_backend(dir, options)?;
    if options.api_only {
        return Ok(Arc::new(NoHosts));
    }
    let lab = Lab::open(&dir.path.join("lab"))?;
    if !lab.status().bridge_up {
        return Err(UserError::usage("the sandbox's lab is not up")
            .with_hint(format!("start the sandbox with `{}`", dir.command("up")))
            .into());
    }
    Ok(Arc::new(lab))
}

async fn serve(
    dir: &SandboxDir,
    options: &ServeOptions,
    store: Store,
    backend: Arc<dyn HostBackend>,
) -> anyhow::Result<()> {
    let api_address = SocketAddr::from((Ipv4Addr::LOCALHOST, options.port.unwrap_or(0)));
    let listener = TcpListener::bind(api_address)
        .await
        .with_context(|| format!("cannot listen on {api_address}"))
        .hint("choose another port with --port, or leave it out to use a free one")?;
    let api_address = listener.local_addr()?;
    let dns_sockets = dns::bind(options.dns).await?;
    let dns_address = dns_sockets.local_addr()?;

    let public_url = options
        .public_url
        .clone()
        .map(|url| url.trim_end_matches('/').to_string());
    let app = Arc::new(App::new(
        store,
        backend,
        AppConfig {
            default_settings: options.settings(),
            default_faults: options.faults.clone().unwrap_or_default(),
            fault_seed: options.fault_seed,
            time_scale: options.time_scale,
            public_url: public_url.clone(),
        },
    ));

    lifecycle::resume(&app);
    tokio::spawn(dns::serve(app.clone(), dns_sockets));

    let runtime = Runtime {
        pid: std::process::id(),
        api: api_address,
        dns: dns_address,
        api_only: options.api_only,
        time_scale: options.time_scale,
        public_url: public_url.unwrap_or_else(|| format!("http://{api_address}")),
        started_at: jiff::Timestamp::now(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    };
    dir.write_runtime(&runtime)?;
    tracing::info!(api = %api_address, dns = %dns_address, dir = %dir.path.display(), "sandbox started");

    let router = api::router(app);
    let served = axum::serve(
        conn::DroppableListener::new(listener),
        router.into_make_service_with_connect_info::<conn::Connection>(),
    )
    .with_graceful_shutdown(stop_signal())
    .await;

    dir.clear_runtime();
    tracing::info!("sandbox stopped");
    served.context("the API server failed")
}

/// Resolve on SIGTERM (what `sandbox down` sends) or SIGINT.
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};

    let (Ok(mut terminate), Ok(mut interrupt)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot listen for stop signals; stop the sandbox with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = terminate.recv() => tracing::info!("SIGTERM received"),
        _ = interrupt.recv() => tracing::info!("SIGINT received"),
    }
}

/// Log to stderr (the sandbox log when started by `up`): info by default,
/// `-v` for debug, `WWCTL_LOG` for a filter.
fn init_logging(global: &GlobalArgs) {
    let default = match global.verbose {
        0 => "wwctl=info",
        1 => "wwctl=debug",
        _ => "wwctl=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("WWCTL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}
