//! `argus cluster`: form and inspect a coordinator cluster through any of its nodes; back up a
//! node's state and restore it into a new data directory.

use std::process::ExitCode;

use anyhow::Context;
use argus_coordinator::client::Client;
use argus_coordinator::config::Config;
use argus_proto::v1::{
    AddLearnerRequest, ClusterStatusRequest, ClusterStatusResponse, InitClusterRequest, Node, NodeRole, PromoteRequest,
    RemoveNodeRequest,
};
use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct ClusterArgs {
    #[command(flatten)]
    pub coordinators: super::query::Coordinators,
    #[command(subcommand)]
    pub command: ClusterCommand,
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Make the cluster: the contacted node alone, or the given members (`ID=HOST:PORT`).
    Init {
        #[arg(long = "member", value_parser = parse_member)]
        members: Vec<Node>,
    },
    /// Add a node as a learner: it receives the log (or a snapshot) but does not vote.
    AddLearner {
        #[arg(long)]
        node_id: u64,
        /// host:port the node serves on.
        #[arg(long)]
        address: String,
        /// Return at once instead of waiting for the learner to catch up.
        #[arg(long)]
        no_wait: bool,
    },
    /// Make a learner a voter.
    Promote {
        #[arg(long)]
        node_id: u64,
    },
    /// Remove a node from the cluster.
    Remove {
        #[arg(long)]
        node_id: u64,
    },
    /// Leader, term, members, last applied and replication lag.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Download a backup of the contacted node's applied state (a fresh snapshot) to a file.
    Backup(super::backup::BackupArgs),
    /// Restore a backup into an empty data directory (offline), then start the node on it.
    Restore(super::backup::RestoreArgs),
}

fn parse_member(s: &str) -> Result<Node, String> {
    let (id, addr) = s.split_once('=').ok_or("expected ID=HOST:PORT")?;
    let node_id = id.parse().map_err(|e| format!("node id {id:?}: {e}"))?;
    Ok(Node {
        node_id,
        address: addr.to_string(),
    })
}

pub fn run(args: ClusterArgs, config: &Config) -> anyhow::Result<ExitCode> {
    if let ClusterCommand::Restore(restore) = args.command {
        super::backup::restore(restore, &config.coordinator)?;
        return Ok(ExitCode::SUCCESS);
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let client = Client::new(&args.coordinators.addr)?;
        match args.command {
            ClusterCommand::Init { members } => {
                let req = InitClusterRequest { members };
                client
                    .retry(|c| {
                        let req = req.clone();
                        async move { c.cluster().init_cluster(req).await }
                    })
                    .await?;
                println!("cluster initialized");
            }
            ClusterCommand::AddLearner {
                node_id,
                address,
                no_wait,
            } => {
                let req = AddLearnerRequest {
                    node: Some(Node { node_id, address }),
                    wait_caught_up: !no_wait,
                };
                let r = client
                    .retry(|c| {
                        let req = req.clone();
                        async move { c.cluster().add_learner(req).await }
                    })
                    .await?;
                println!("learner {node_id} added at log index {}", r.log_index);
            }
            ClusterCommand::Promote { node_id } => {
                let req = PromoteRequest { node_id };
                let r = client.retry(|c| async move { c.cluster().promote(req).await }).await?;
                println!("node {node_id} is a voter (log index {})", r.log_index);
            }
            ClusterCommand::Remove { node_id } => {
                let req = RemoveNodeRequest { node_id };
                let r = client
                    .retry(|c| async move { c.cluster().remove_node(req).await })
                    .await?;
                println!("node {node_id} removed (log index {})", r.log_index);
            }
            ClusterCommand::Status { json } => {
                let s = client
                    .retry(|c| async move { c.cluster().cluster_status(ClusterStatusRequest {}).await })
                    .await
                    .context("cluster status")?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&status_json(&s))?);
                } else {
                    print_status(&s);
                }
            }
            ClusterCommand::Backup(backup) => super::backup::download(&client, &backup).await?,
            ClusterCommand::Restore(_) => unreachable!("restore runs without a client"),
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

fn print_status(s: &ClusterStatusResponse) {
    println!("node        {} ({})", s.node_id, s.state);
    println!("leader      {} {}", opt(s.leader_id), s.leader_address);
    println!("term        {}", s.term);
    println!("last log    {}", opt(s.last_log_index));
    println!("applied     {}", opt(s.last_applied));
    println!("snapshot    {}  purged {}", opt(s.snapshot_index), opt(s.purged_index));
    println!("change log  {}..{}", s.change_log_first, s.change_log_last);
    println!();
    println!(
        "{:>6}  {:<22} {:<8} {:>10} {:>8}",
        "ID", "ADDRESS", "ROLE", "MATCHED", "LAG"
    );
    for m in &s.members {
        let node = m.node.clone().unwrap_or_default();
        let role = match NodeRole::try_from(m.role) {
            Ok(NodeRole::Voter) => "voter",
            Ok(NodeRole::Learner) => "learner",
            _ => "?",
        };
        println!(
            "{:>6}  {:<22} {:<8} {:>10} {:>8}",
            node.node_id,
            node.address,
            role,
            opt(m.matched_index),
            opt(m.lag)
        );
    }
}

fn status_json(s: &ClusterStatusResponse) -> serde_json::Value {
    let members: Vec<_> = s
        .members
        .iter()
        .map(|m| {
            let node = m.node.clone().unwrap_or_default();
            serde_json::json!({
                "nodeId": node.node_id,
                "address": node.address,
                "role": NodeRole::try_from(m.role).map(|r| r.as_str_name()).unwrap_or("UNKNOWN"),
                "matchedIndex": m.matched_index,
                "lag": m.lag,
            })
        })
        .collect();
    serde_json::json!({
        "nodeId": s.node_id,
        "state": s.state,
        "leaderId": s.leader_id,
        "leaderAddress": s.leader_address,
        "term": s.term,
        "lastLogIndex": s.last_log_index,
        "lastApplied": s.last_applied,
        "snapshotIndex": s.snapshot_index,
        "purgedIndex": s.purged_index,
        "changeLogFirst": s.change_log_first,
        "changeLogLast": s.change_log_last,
        "members": members,
    })
}
