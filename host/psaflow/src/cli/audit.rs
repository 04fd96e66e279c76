//! `psaflow audit [--since 7d] [--node GLOB] [--target ID] [--json]`: every change psaflow
//! made (and every approval decision), oldest first, from the append-only audit table.
use super::EXIT_USAGE;
use super::state::{Existing, StateArgs, parse_age, show_time};
use psaflow_store::{AuditFilter, now_ms};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only changes newer than this (e.g. 7d, 12h).
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,
    /// Only nodes matching this pattern (`*` any text, `?` one character), e.g. 'halopsa.*.create'.
    #[arg(long, value_name = "GLOB")]
    pub node: Option<String>,
    /// Only changes of this record id.
    #[arg(long, value_name = "ID")]
    pub target: Option<String>,
    /// Only this run.
    #[arg(long, value_name = "RUN_ID")]
    pub run: Option<String>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub state: StateArgs,
}

pub fn run(args: &Args) -> anyhow::Result<u8> {
    let since = match &args.since {
        None => None,
        Some(text) => match parse_age("--since", text) {
            Ok(age) => Some(now_ms() - age),
            Err(message) => {
                eprintln!("psaflow: {message}");
                return Ok(EXIT_USAGE);
            }
        },
    };
    let store = match args.state.open_existing() {
        Ok(Existing::Store(store)) => store,
        // Nothing was ever recorded there; reading does not create the store.
        Ok(Existing::Missing(path)) => {
            if args.json {
                println!("[]");
            } else {
                println!(
                    "no changes recorded (there is no run store at {})",
                    path.display()
                );
            }
            return Ok(0);
        }
        Err(err) => {
            eprintln!("psaflow: {err:#}");
            return Ok(EXIT_USAGE);
        }
    };
    let rows = store.audit(&AuditFilter {
        since,
        node_glob: args.node.clone(),
        target: args.target.clone(),
        run_id: args.run.clone(),
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(0);
    }
    if rows.is_empty() {
        println!("no changes recorded");
        return Ok(0);
    }
    println!(
        "{:<20}  {:<10}  {:<26}  {:<22}  {:<28}  {:<10}  {:<9}  {:<10}  approved by",
        "when", "who", "run", "step", "node", "effect", "target", "outcome"
    );
    for e in rows {
        let step = match e.item {
            Some(i) => format!("{}[{i}]", e.step_id),
            None => e.step_id.clone(),
        };
        println!(
            "{:<20}  {:<10}  {:<26}  {:<22}  {:<28}  {:<10}  {:<9}  {:<10}  {}",
            show_time(e.at),
            e.actor,
            e.run_id,
            step,
            e.node,
            e.effect,
            e.target.as_deref().unwrap_or("-"),
            e.outcome,
            e.approved_by.as_deref().unwrap_or("-")
        );
    }
    Ok(0)
}
