//! Real `argus coordinator` processes on loopback: start, kill -9, restart, and a client that
//! knows every node.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use argus_coordinator::client::Client;
use std::collections::BTreeMap;

use argus_proto::v1::{
    AddLearnerRequest, ClusterStatusRequest, ClusterStatusResponse, Finding, InitClusterRequest, ListFindingsRequest,
    Node,
};

use crate::{argus_bin, free_port, port_open, wait_for, write_file, ChildGuard};

pub struct Coordinator {
    pub id: u64,
    pub port: u16,
    pub data_dir: PathBuf,
    process: Option<ChildGuard>,
}

impl Coordinator {
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn is_running(&self) -> bool {
        self.process.is_some()
    }

    /// The OS process id, for RSS measurements.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|p| p.child.id())
    }
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub nodes: Vec<Coordinator>,
    pub config: PathBuf,
    /// Environment variables every coordinator process gets (e.g. AWS credentials).
    pub env: Vec<(String, String)>,
}

impl Cluster {
    /// Starts `n` coordinators and forms a cluster of them (node 1 initializes with every
    /// member), then waits for a leader. `config` is extra TOML for the `[coordinator]` table.
    pub async fn start(n: usize, config: &str) -> Cluster {
        Self::start_config(n, Cluster::new(config)).await
    }

    async fn start_config(n: usize, mut cluster: Cluster) -> Cluster {
        for _ in 0..n {
            cluster.add_process();
        }
        let members = cluster
            .nodes
            .iter()
            .map(|c| Node {
                node_id: c.id,
                address: c.address(),
            })
            .collect();
        let client = cluster.client_for(1);
        client
            .retry(|c| {
                let req = InitClusterRequest {
                    members: Clone::clone(&members),
                };
                async move { c.cluster().init_cluster(req).await }
            })
            .await
            .expect("init cluster");
        cluster.wait_leader(None).await;
        cluster
    }

    /// [`Cluster::start`] with more configuration after the `[coordinator]` table (other
    /// tables such as `[pipeline]` and `[queue]`).
    pub async fn start_with(n: usize, coordinator: &str, rest: &str) -> Cluster {
        Self::start_config(n, Cluster::new_with(coordinator, rest)).await
    }

    /// [`Cluster::start_with`], every process started with `env` added to its environment.
    pub async fn start_with_env(n: usize, coordinator: &str, rest: &str, env: &[(&str, &str)]) -> Cluster {
        let mut cluster = Cluster::new_with(coordinator, rest);
        cluster.env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Self::start_config(n, cluster).await
    }

    /// A directory and configuration, no processes yet.
    pub fn new(config: &str) -> Cluster {
        Cluster::new_with(config, "")
    }

    pub fn new_with(coordinator: &str, rest: &str) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!("[coordinator]\n{coordinator}\n{rest}\n");
        let config = write_file(dir.path(), "argus.toml", text);
        Cluster {
            dir,
            nodes: Vec::new(),
            config,
            env: Vec::new(),
        }
    }

    /// Starts one more coordinator process (not yet a member) and returns its id.
    pub fn add_process(&mut self) -> u64 {
        let id = self.nodes.len() as u64 + 1;
        let port = free_port();
        let data_dir = self.dir.path().join(format!("node{id}"));
        self.nodes.push(Coordinator {
            id,
            port,
            data_dir,
            process: None,
        });
        self.restart(id);
        id
    }

    fn node(&mut self, id: u64) -> &mut Coordinator {
        self.nodes.iter_mut().find(|c| c.id == id).expect("known node")
    }

    /// (Re)starts a coordinator on its port and data directory and waits until it listens.
    pub fn restart(&mut self, id: u64) {
        let config = self.config.clone();
        let log = self.dir.path().join(format!("node{id}.log"));
        let env = self.env.clone();
        let node = self.node(id);
        assert!(node.process.is_none(), "node {id} is running");
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let mut cmd = Command::new(argus_bin());
        cmd.arg("--config")
            .arg(&config)
            .arg("coordinator")
            .arg("--node-id")
            .arg(id.to_string())
            .arg("--listen")
            .arg(node.address())
            .arg("--data-dir")
            .arg(&node.data_dir)
            .env("RUST_LOG", "info")
            .envs(env)
            .stdout(std::process::Stdio::null())
            .stderr(stderr);
        node.process = Some(ChildGuard::spawn(&format!("coordinator {id}"), &mut cmd));
        let port = node.port;
        wait_for(&format!("coordinator {id} to listen"), Duration::from_secs(60), || {
            port_open(port)
        });
    }

    /// The last `n` lines of every node's log, for failure messages.
    pub fn log_tails(&self, n: usize) -> String {
        let mut out = String::new();
        for c in &self.nodes {
            let tail = crate::file_tail(&self.dir.path().join(format!("node{}.log", c.id)), n);
            out += &format!("--- node {} ---\n{tail}\n", c.id);
        }
        out
    }

    /// SIGKILL: no shutdown path runs.
    pub fn kill(&mut self, id: u64) {
        self.node(id).process = None;
    }

    pub fn addresses(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|c| c.is_running())
            .map(|c| c.address())
            .collect()
    }

    /// A client that knows every running node.
    pub fn client(&self) -> Client {
        Client::new(&self.addresses()).expect("client")
    }

    /// A client bound to one node only.
    pub fn client_for(&self, id: u64) -> Client {
        let node = self.nodes.iter().find(|c| c.id == id).expect("known node");
        Client::new(&[node.address()]).expect("client")
    }

    pub async fn status(&self, id: u64) -> ClusterStatusResponse {
        self.client_for(id)
            .retry(|c| async move { c.cluster().cluster_status(ClusterStatusRequest {}).await })
            .await
            .expect("cluster status")
    }

    /// Waits until every running node agrees on one leader (other than `not`), and returns it.
    pub async fn wait_leader(&self, not: Option<u64>) -> u64 {
        let start = std::time::Instant::now();
        loop {
            let mut leaders = Vec::new();
            for c in self.nodes.iter().filter(|c| c.is_running()) {
                let s = self.client_for(c.id).with_deadline(Duration::from_secs(2));
                let r = s
                    .retry(|c| async move { c.cluster().cluster_status(ClusterStatusRequest {}).await })
                    .await;
                leaders.push(r.ok().and_then(|r| r.leader_id));
            }
            if let Some(Some(l)) = leaders.first() {
                if leaders.iter().all(|x| *x == Some(*l)) && Some(*l) != not {
                    return *l;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no agreed leader: {leaders:?}\n{}",
                self.log_tails(20)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Adds a running process as a learner and waits until it has caught up.
    pub async fn add_learner(&self, id: u64) {
        let node = Node {
            node_id: id,
            address: self.nodes.iter().find(|c| c.id == id).unwrap().address(),
        };
        self.client()
            .retry(|c| {
                let req = AddLearnerRequest {
                    node: Some(node.clone()),
                    wait_caught_up: true,
                };
                async move { c.cluster().add_learner(req).await }
            })
            .await
            .expect("add learner");
    }

    /// Waits until every running node has applied at least `index`.
    pub async fn wait_applied(&self, index: u64) {
        let start = std::time::Instant::now();
        for c in self.nodes.iter().filter(|c| c.is_running()) {
            loop {
                if self.status(c.id).await.last_applied.unwrap_or(0) >= index {
                    break;
                }
                assert!(
                    start.elapsed() < Duration::from_secs(600),
                    "node {} did not apply {index}\n{}",
                    c.id,
                    self.log_tails(20)
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Every finding on one node, through ListFindings pages, in listing order.
pub async fn every_finding(client: &Client) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let req = ListFindingsRequest {
            page_size: 1000,
            page_token: token.clone(),
            ..Default::default()
        };
        let page = client
            .retry(|c| {
                let r = req.clone();
                async move { c.findings().list_findings(r).await }
            })
            .await
            .unwrap();
        out.extend(page.findings);
        if page.next_page_token.is_empty() {
            return out;
        }
        token = page.next_page_token;
    }
}

/// Every finding on one node, by id (its status); a finding listed twice fails the test.
pub async fn all_findings(client: &Client) -> BTreeMap<String, i32> {
    let mut out = BTreeMap::new();
    for f in every_finding(client).await {
        assert!(
            out.insert(f.finding_id.clone(), f.status).is_none(),
            "finding {} listed twice",
            f.finding_id
        );
    }
    out
}
