//! `psaflow sandbox [--port N]`: serves the embedded HaloPSA sandbox until stopped, and prints
//! the variables that point psaflow (or any HaloPSA client) at it.

use psaflow_halopsa_sandbox::{Sandbox, SandboxOptions};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Start with no demo data.
    #[arg(long)]
    pub empty: bool,
}

pub async fn run(args: &Args) -> anyhow::Result<u8> {
    let options = SandboxOptions {
        port: args.port,
        seed: !args.empty,
        ..SandboxOptions::default()
    };
    let sandbox = Sandbox::start(options).await?;
    eprintln!(
        "HaloPSA sandbox listening on {} (stop with Ctrl-C)",
        sandbox.base_url()
    );
    eprintln!("These are the sandbox's own demo credentials, not a tenant's:");
    println!("export HALOPSA_API_URL={}", sandbox.api_url());
    println!("export HALOPSA_AUTH_URL={}", sandbox.auth_url());
    println!("export HALOPSA_CLIENT_ID={}", sandbox.client_id());
    println!("export HALOPSA_CLIENT_SECRET={}", sandbox.client_secret());
    tokio::signal::ctrl_c().await?;
    sandbox.shutdown().await;
    Ok(0)
}
