//! `psaflow sandbox [--port N] [--connectwise-port N] [--empty] [--state FILE] [--latency-ms N]`: serves the embedded HaloPSA and
//! ConnectWise PSA sandboxes until stopped, and prints the variables that point psaflow (or any
//! client of either PSA) at them.

use psaflow_connectwise::sandbox::{Sandbox as CwSandbox, SandboxOptions as CwSandboxOptions};
use psaflow_halopsa_sandbox::{Sandbox, SandboxOptions};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Port of the HaloPSA sandbox on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Port of the ConnectWise sandbox on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub connectwise_port: u16,
    /// Start with no demo data.
    #[arg(long)]
    pub empty: bool,
    /// Keep the HaloPSA sandbox's data in FILE across restarts: read at start when it exists
    /// (instead of the demo data), rewritten after every change.
    #[arg(long, value_name = "FILE")]
    pub state: Option<std::path::PathBuf>,
    /// Answer every HaloPSA API call N milliseconds late, like a distant tenant's round trip
    /// (for trying timeouts and concurrency; 0 answers at once). Token requests are not
    /// delayed.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub latency_ms: u64,
}

pub async fn run(args: &Args) -> anyhow::Result<u8> {
    let halo = Sandbox::start(SandboxOptions {
        port: args.port,
        seed: !args.empty,
        state_file: args.state.clone(),
        ..SandboxOptions::default()
    })
    .await?;
    halo.faults()
        .set_latency(std::time::Duration::from_millis(args.latency_ms));
    let connectwise = CwSandbox::start(CwSandboxOptions {
        port: args.connectwise_port,
        seed: !args.empty,
        ..CwSandboxOptions::default()
    })
    .await?;
    eprintln!("HaloPSA sandbox listening on {}", halo.base_url());
    if args.latency_ms > 0 {
        eprintln!("HaloPSA sandbox answers every API call {} ms late", args.latency_ms);
    }
    if let Some(path) = &args.state {
        eprintln!("HaloPSA sandbox data kept in {}", path.display());
    }
    eprintln!(
        "ConnectWise sandbox listening on {}",
        connectwise.base_url()
    );
    eprintln!("Stop with Ctrl-C. These are the sandboxes' own demo credentials, not a tenant's:");
    println!("export HALOPSA_API_URL={}", halo.api_url());
    println!("export HALOPSA_AUTH_URL={}", halo.auth_url());
    println!("export HALOPSA_CLIENT_ID={}", halo.client_id());
    println!("export HALOPSA_CLIENT_SECRET={}", halo.client_secret());
    println!("export CONNECTWISE_API_URL={}", connectwise.api_url());
    println!("export CONNECTWISE_COMPANY_ID={}", connectwise.company_id());
    println!("export CONNECTWISE_PUBLIC_KEY={}", connectwise.public_key());
    println!(
        "export CONNECTWISE_PRIVATE_KEY={}",
        connectwise.private_key()
    );
    println!("export CONNECTWISE_CLIENT_ID={}", connectwise.client_id());
    tokio::signal::ctrl_c().await?;
    halo.shutdown().await;
    connectwise.shutdown().await;
    Ok(0)
}
