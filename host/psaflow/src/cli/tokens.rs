//! `psaflow tokens create NAME --scopes ...`, `tokens list`, `tokens revoke NAME`: API tokens
//! for `psaflow serve`, kept (as SHA-256 hashes) in the run store.
use super::EXIT_USAGE;
use super::state::{StateArgs, show_time};
use crate::serve::tokens;
use psaflow_store::now_ms;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: TokensCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum TokensCommand {
    /// Make a token; it is printed once, alone on the last line, and never shown again.
    Create {
        /// Who the token acts as: runs, approvals and audit rows show this name.
        name: String,
        /// Comma-separated: run, invoke, approve, read, admin (admin allows everything).
        #[arg(long, value_name = "SCOPES", required = true)]
        scopes: String,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Every token with its scopes and when it was made, last used and revoked.
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Revoke a token: the server refuses it from its next request.
    Revoke {
        name: String,
        #[command(flatten)]
        state: StateArgs,
    },
}

pub fn run(args: &Args) -> anyhow::Result<u8> {
    let state = match &args.command {
        TokensCommand::Create { state, .. }
        | TokensCommand::List { state, .. }
        | TokensCommand::Revoke { state, .. } => state,
    };
    let store = match state.open() {
        Ok(store) => store,
        Err(err) => {
            eprintln!("psaflow: {err:#}");
            return Ok(EXIT_USAGE);
        }
    };
    match &args.command {
        TokensCommand::Create { name, scopes, .. } => {
            let scopes = match tokens::parse_scopes(scopes) {
                Ok(scopes) => scopes,
                Err(message) => {
                    eprintln!("psaflow: --scopes: {message}");
                    return Ok(EXIT_USAGE);
                }
            };
            match tokens::create(store.as_ref(), name, &scopes) {
                Ok(token) => {
                    let shown: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
                    eprintln!(
                        "psaflow: token '{name}' created with scopes {}; it is shown only now, store it safely",
                        shown.join(", ")
                    );
                    println!("{token}");
                    Ok(0)
                }
                Err(message) => {
                    eprintln!("psaflow: {message}");
                    Ok(EXIT_USAGE)
                }
            }
        }
        TokensCommand::List { json, .. } => {
            let all = store.tokens()?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&all)?);
                return Ok(0);
            }
            if all.is_empty() {
                println!("no tokens; make one with psaflow tokens create NAME --scopes read");
                return Ok(0);
            }
            println!(
                "{:<24}  {:<28}  {:<20}  {:<20}  revoked",
                "name", "scopes", "created", "last used"
            );
            for t in all {
                println!(
                    "{:<24}  {:<28}  {:<20}  {:<20}  {}",
                    t.name,
                    t.scopes.join(","),
                    show_time(t.created_at),
                    t.last_used_at.map_or_else(|| "never".into(), show_time),
                    t.revoked_at.map_or_else(|| "-".into(), show_time)
                );
            }
            Ok(0)
        }
        TokensCommand::Revoke { name, .. } => {
            if store.revoke_token(name, now_ms())? {
                eprintln!("psaflow: token '{name}' revoked");
                Ok(0)
            } else {
                eprintln!("psaflow: there is no active token named '{name}'");
                Ok(EXIT_USAGE)
            }
        }
    }
}
