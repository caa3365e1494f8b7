//! The `globalapi` command line.

use anyhow::Context;
use clap::{Parser, Subcommand};

/// A multi-region API on AWS from one Kubernetes resource.
#[derive(Parser)]
#[command(name = "globalapi", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the GlobalApi CustomResourceDefinition as YAML.
    Crd,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => {
            let crd = globalapi::api::crd().context("building the CRD")?;
            let yaml = serde_yaml::to_string(&crd).context("rendering the CRD")?;
            print!("{yaml}");
        }
    }
    Ok(())
}
