//! Vulnerability-database distribution through a real nats-server's JetStream object store:
//! `argus db publish` uploads a database once and announces it; workers fetch it verified
//! against the announcement, follow new versions into their `DbSlot` between jobs, refuse bytes
//! that were replaced under a version's name, and keep following across a NATS restart.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use argus_tests::{argus_bin, free_port, port_open, run_ok, sha256, wait_for, ChildGuard};
use argus_worker::vulndb::distribute::{self, fetch_latest, follow, publish, DistributeError, LATEST};
use argus_worker::vulndb::osv::OsvRecord;
use argus_worker::vulndb::{Builder, DbSlot, VulnDb};
use async_nats::jetstream::Context;
use futures::StreamExt;
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const BUCKET: &str = "argus-vulndb-test";

/// A nats-server with JetStream on a loopback port, storing under a directory that outlives it
/// so it can be restarted on the same data.
struct Nats {
    _server: ChildGuard,
    port: u16,
}

impl Nats {
    fn start(store: &Path) -> Nats {
        Nats::start_on(store, free_port())
    }

    fn start_on(store: &Path, port: u16) -> Nats {
        let bin = if Path::new("/usr/sbin/nats-server").exists() {
            "/usr/sbin/nats-server"
        } else {
            "nats-server"
        };
        let server = ChildGuard::spawn(
            "nats-server",
            Command::new(bin)
                .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
                .arg(store)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        wait_for("nats-server to accept connections", Duration::from_secs(20), || {
            port_open(port)
        });
        Nats { _server: server, port }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn js(&self) -> Context {
        distribute::connect(&self.url()).await.expect("connect to nats")
    }
}

fn advisory_json(id: &str, package: &str) -> serde_json::Value {
    json!({"id": id, "modified": "2024-01-01T00:00:00Z",
           "affected": [{"package": {"ecosystem": "PyPI", "name": package},
                         "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "9.9"}]}]}]})
}

/// Builds databases whose versions increase in build order: `Builder` stamps versions to the
/// second, so each build starts in a later second than the previous one finished.
struct Databases {
    dir: PathBuf,
    last_second: u64,
}

impl Databases {
    fn new(dir: &Path) -> Databases {
        Databases {
            dir: dir.to_path_buf(),
            last_second: 0,
        }
    }

    /// A database named `name` holding one advisory per package, `<name>-<package>`.
    fn build(&mut self, name: &str, packages: &[&str]) -> (PathBuf, String) {
        while now_secs() <= self.last_second {
            std::thread::sleep(Duration::from_millis(20));
        }
        let path = self.dir.join(format!("{name}.vdb"));
        let mut builder = Builder::new(&path).unwrap();
        for package in packages {
            let record: OsvRecord =
                serde_json::from_value(advisory_json(&format!("{name}-{package}"), package)).unwrap();
            builder.add(&record.accept().unwrap()).unwrap();
        }
        let meta = builder.finish().unwrap();
        self.last_second = now_secs();
        (path, meta.version)
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn file_sha256(path: &Path) -> String {
    sha256(&std::fs::read(path).unwrap())
}

fn advisory_ids(db: &VulnDb, package: &str) -> Vec<String> {
    db.lookup("PyPI", package).unwrap().into_iter().map(|a| a.id).collect()
}

/// Names of the live objects in the bucket.
async fn object_names(js: &Context) -> BTreeSet<String> {
    let store = js.get_object_store(BUCKET).await.unwrap();
    let mut list = store.list().await.unwrap();
    let mut names = BTreeSet::new();
    while let Some(info) = list.next().await {
        names.insert(info.unwrap().name);
    }
    names
}

async fn stream_messages(js: &Context) -> u64 {
    let mut stream = js.get_stream(format!("OBJ_{BUCKET}")).await.unwrap();
    stream.info().await.unwrap().state.messages
}

/// A `follow` task with its stop switch.
struct Follower {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Follower {
    fn spawn(js: Context, dir: PathBuf, slot: DbSlot, poll: Duration) -> Follower {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            follow(&js, BUCKET, &dir, slot, poll, async move {
                let _ = stopped.await;
            })
            .await
        });
        Follower { stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("follow returns promptly when stopped")
            .unwrap();
    }
}

async fn eventually(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Entries of `dir` other than finished database files (temporary downloads, for one).
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.ends_with(distribute::FILE_SUFFIX) || n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_database_is_fetched_verified_and_reused() {
    let tmp = tempfile::tempdir().unwrap();
    let nats = Nats::start(&tmp.path().join("nats"));
    let js = nats.js().await;
    let cache = tmp.path().join("cache");
    assert_eq!(
        fetch_latest(&js, BUCKET, &cache).await.unwrap(),
        None,
        "nothing is fetched before anything is published"
    );

    // Enough advisories that the object spans several of the store's 128 KiB chunks.
    let many: Vec<String> = (0..3000).map(|i| format!("package-{i}")).collect();
    let mut packages: Vec<&str> = many.iter().map(String::as_str).collect();
    packages.extend(["django", "flask"]);
    let (v1_file, v1) = Databases::new(&tmp.path().join("built")).build("v1", &packages);
    let published = publish(&js, BUCKET, &v1_file, 2).await.unwrap();
    let store = js.get_object_store(BUCKET).await.unwrap();
    assert!(store.info(&v1).await.unwrap().chunks > 2, "a multi-chunk object");
    assert_eq!(published.version, v1);
    assert_eq!(published.sha256, file_sha256(&v1_file));
    assert_eq!(published.size, std::fs::metadata(&v1_file).unwrap().len());
    assert!(published.uploaded && published.announced);

    let path = fetch_latest(&js, BUCKET, &cache).await.unwrap().expect("a database");
    assert_eq!(path, cache.join(format!("{v1}.vdb")));
    assert_eq!(
        file_sha256(&path),
        published.sha256,
        "the download is the published file"
    );
    let db = VulnDb::open(&path).unwrap();
    assert_eq!(db.meta().version, v1);
    assert_eq!(advisory_ids(&db, "django"), ["v1-django"]);
    drop(db);
    assert!(leftovers(&cache).is_empty(), "{:?}", leftovers(&cache));

    // An identical file already in the directory is used as it is.
    let inode = std::fs::metadata(&path).unwrap().ino();
    let again = fetch_latest(&js, BUCKET, &cache).await.unwrap().unwrap();
    assert_eq!(again, path);
    assert_eq!(std::fs::metadata(&again).unwrap().ino(), inode, "not downloaded again");

    // A damaged local copy is not trusted: it is replaced by a verified download.
    std::fs::write(&path, b"ARGUSVDB but not a database").unwrap();
    let repaired = fetch_latest(&js, BUCKET, &cache).await.unwrap().unwrap();
    assert_eq!(file_sha256(&repaired), published.sha256);
    assert_eq!(VulnDb::open(&repaired).unwrap().meta().version, v1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_the_same_file_twice_stores_it_once() {
    let tmp = tempfile::tempdir().unwrap();
    let nats = Nats::start(&tmp.path().join("nats"));
    let js = nats.js().await;
    let (file, version) = Databases::new(&tmp.path().join("built")).build("v1", &["django"]);

    let first = publish(&js, BUCKET, &file, 2).await.unwrap();
    assert!(first.uploaded && first.announced);
    let messages = stream_messages(&js).await;

    let second = publish(&js, BUCKET, &file, 2).await.unwrap();
    assert!(!second.uploaded, "the version was already stored with these bytes");
    assert!(!second.announced, "latest already announced it");
    assert_eq!(second.version, version);
    assert_eq!(second.sha256, first.sha256);
    assert_eq!(
        stream_messages(&js).await,
        messages,
        "nothing was written the second time"
    );
    assert_eq!(
        object_names(&js).await,
        BTreeSet::from([LATEST.to_string(), version.clone()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_switches_to_a_new_version_while_a_running_job_keeps_the_old_one() {
    let tmp = tempfile::tempdir().unwrap();
    let nats = Nats::start(&tmp.path().join("nats"));
    let js = nats.js().await;
    let mut dbs = Databases::new(&tmp.path().join("built"));
    let (v1_file, v1) = dbs.build("v1", &["django"]);
    let (v2_file, v2) = dbs.build("v2", &["django", "flask"]);
    assert!(v2 > v1);

    publish(&js, BUCKET, &v1_file, 2).await.unwrap();
    let cache = tmp.path().join("cache");
    let v1_path = fetch_latest(&js, BUCKET, &cache).await.unwrap().unwrap();
    let slot = DbSlot::new(VulnDb::open(&v1_path).unwrap());
    // Polling once an hour: only the watch on `latest` can bring the switch in time.
    let follower = Follower::spawn(nats.js().await, cache.clone(), slot.clone(), Duration::from_secs(3600));

    let job = slot.get();
    publish(&js, BUCKET, &v2_file, 2).await.unwrap();
    eventually("the follower to install v2", Duration::from_secs(30), || {
        slot.version() == v2
    })
    .await;

    // The job that took v1 before the switch finishes on v1, even though v1's file is gone.
    assert_eq!(job.meta().version, v1);
    assert_eq!(advisory_ids(&job, "django"), ["v1-django"]);
    assert!(advisory_ids(&job, "flask").is_empty());
    assert!(!v1_path.exists(), "older downloads are removed once replaced");
    // Jobs starting now get v2.
    let next = slot.get();
    assert_eq!(advisory_ids(&next, "django"), ["v2-django"]);
    assert_eq!(advisory_ids(&next, "flask"), ["v2-flask"]);
    assert_eq!(file_sha256(next.path()), file_sha256(&v2_file));
    follower.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_replaced_under_a_version_are_refused_and_the_slot_keeps_its_database() {
    let tmp = tempfile::tempdir().unwrap();
    let nats = Nats::start(&tmp.path().join("nats"));
    let js = nats.js().await;
    let mut dbs = Databases::new(&tmp.path().join("built"));
    let (v1_file, v1) = dbs.build("v1", &["django"]);
    let (v2_file, v2) = dbs.build("v2", &["django", "flask"]);
    let (v3_file, v3) = dbs.build("v3", &["django", "flask", "jinja2"]);

    publish(&js, BUCKET, &v1_file, 2).await.unwrap();
    let cache = tmp.path().join("cache");
    let v1_path = fetch_latest(&js, BUCKET, &cache).await.unwrap().unwrap();
    publish(&js, BUCKET, &v2_file, 2).await.unwrap();

    // Someone with write access to the bucket replaces v2's bytes: one byte flipped keeps the
    // size and even the file's structure, so only the announced sha256 can tell.
    let mut tampered = std::fs::read(&v2_file).unwrap();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x20;
    let store = js.get_object_store(BUCKET).await.unwrap();
    store.put(v2.as_str(), &mut tampered.as_slice()).await.unwrap();

    let fresh = tmp.path().join("fresh");
    let err = fetch_latest(&js, BUCKET, &fresh).await.unwrap_err();
    assert!(
        matches!(err, DistributeError::Refused { ref version, .. } if *version == v2),
        "{err}"
    );
    assert!(err.to_string().contains(&v2), "the error names the version: {err}");
    assert!(!fresh.join(format!("{v2}.vdb")).exists());
    assert!(leftovers(&fresh).is_empty(), "{:?}", leftovers(&fresh));

    let slot = DbSlot::new(VulnDb::open(&v1_path).unwrap());
    let follower = Follower::spawn(nats.js().await, cache.clone(), slot.clone(), Duration::from_millis(200));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(slot.version(), v1, "the refused version is never installed");
    assert!(!cache.join(format!("{v2}.vdb")).exists());
    assert!(v1_path.exists(), "the database in use stays");
    assert!(leftovers(&cache).is_empty(), "{:?}", leftovers(&cache));

    // The follower is alive and moves on as soon as a good version is announced.
    publish(&js, BUCKET, &v3_file, 2).await.unwrap();
    eventually("the follower to install v3", Duration::from_secs(30), || {
        slot.version() == v3
    })
    .await;
    assert_eq!(advisory_ids(&slot.get(), "jinja2"), ["v3-jinja2"]);
    follower.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_old_versions_and_older_files_are_not_announced() {
    let tmp = tempfile::tempdir().unwrap();
    let nats = Nats::start(&tmp.path().join("nats"));
    let js = nats.js().await;
    let mut dbs = Databases::new(&tmp.path().join("built"));
    let built: Vec<(PathBuf, String)> = ["v1", "v2", "v3", "v4"]
        .iter()
        .map(|n| dbs.build(n, &["django", n]))
        .collect();

    let mut removed = Vec::new();
    for (file, _) in &built {
        removed.extend(publish(&js, BUCKET, file, 1).await.unwrap().removed);
    }
    let version = |i: usize| built[i].1.clone();
    assert_eq!(removed, [version(0), version(1)], "one older version is kept each time");
    assert_eq!(
        object_names(&js).await,
        BTreeSet::from([LATEST.to_string(), version(2), version(3)])
    );
    // Deleted objects leave their metadata tombstone and nothing else: the stream holds the
    // chunks of the live objects (the two databases and `latest`) and one message per name.
    let store = js.get_object_store(BUCKET).await.unwrap();
    let mut chunks = 0;
    for name in [LATEST.to_string(), version(2), version(3)] {
        chunks += store.info(&name).await.unwrap().chunks as u64;
    }
    assert_eq!(stream_messages(&js).await, chunks + 5);

    let err = publish(&js, BUCKET, &built[0].0, 1).await.unwrap_err();
    assert!(err.to_string().contains("older than the published"), "{err}");
    let cache = tmp.path().join("cache");
    let latest = fetch_latest(&js, BUCKET, &cache).await.unwrap().unwrap();
    assert_eq!(VulnDb::open(&latest).unwrap().meta().version, version(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_keeps_following_across_a_nats_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let store_dir = tmp.path().join("nats");
    let nats = Nats::start(&store_dir);
    let port = nats.port;
    let js = nats.js().await;
    let mut dbs = Databases::new(&tmp.path().join("built"));
    let (v1_file, _) = dbs.build("v1", &["django"]);
    let (v2_file, v2) = dbs.build("v2", &["django", "flask"]);

    publish(&js, BUCKET, &v1_file, 2).await.unwrap();
    let cache = tmp.path().join("cache");
    let v1_path = fetch_latest(&js, BUCKET, &cache).await.unwrap().unwrap();
    let slot = DbSlot::new(VulnDb::open(&v1_path).unwrap());
    let follower = Follower::spawn(nats.js().await, cache.clone(), slot.clone(), Duration::from_millis(500));
    tokio::time::sleep(Duration::from_millis(500)).await;

    drop(nats);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let nats = Nats::start_on(&store_dir, port);
    // JetStream recovers its streams after the port opens; publishing retries until it has.
    let js = nats.js().await;
    let start = Instant::now();
    loop {
        match publish(&js, BUCKET, &v2_file, 2).await {
            Ok(_) => break,
            Err(e) => {
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "publishing after restart: {e}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    eventually(
        "the follower to install v2 after the restart",
        Duration::from_secs(60),
        || slot.version() == v2,
    )
    .await;
    follower.stop().await;
}

#[test]
fn argus_db_publish_uploads_once_and_reports_version_and_size() {
    let tmp = tempfile::tempdir().unwrap();
    let nats = Nats::start(&tmp.path().join("nats"));
    let (file, version) = Databases::new(&tmp.path().join("built")).build("v1", &["django"]);
    let size = std::fs::metadata(&file).unwrap().len();
    let publish_cmd = |url: &str| {
        let mut cmd = Command::new(argus_bin());
        cmd.args(["db", "publish", "--nats", url, "--bucket", BUCKET, "--db"])
            .arg(&file)
            .env_remove("ARGUS_CONFIG");
        cmd
    };

    let out = run_ok(&mut publish_cmd(&nats.url()));
    assert!(out.contains(&format!("published {version} ({size} bytes")), "{out}");
    let again = run_ok(&mut publish_cmd(&nats.url()));
    assert!(again.contains(&format!("already published {version}")), "{again}");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let fetched = runtime.block_on(async {
        let js = nats.js().await;
        fetch_latest(&js, BUCKET, &tmp.path().join("cache"))
            .await
            .unwrap()
            .unwrap()
    });
    assert_eq!(file_sha256(&fetched), file_sha256(&file));

    let nowhere = format!("nats://127.0.0.1:{}", free_port());
    let failed = publish_cmd(&nowhere).output().unwrap();
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("connecting to"), "{stderr}");
}
